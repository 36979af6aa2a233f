//! Where a retrieve may ring: the `Channel` of an `Originate` to `ParkedCall` is the
//! phone Asterisk dials, so it is checked against an allowlist of globs
//! (`--retrieve-to PJSIP/1???`). Without one, only endpoint channels pass:
//! `TECH/name`, no `@` (a dialplan context or a host), nothing after the name (a
//! trunk's number), and never `Local/` (a dialplan of the caller's choice).

/// Characters a wildcard never matches: they pick a context, a host, a trunk or a
/// second channel. A wildcard matches only ASCII letters, digits, `-`, `_` and `.`.
const WILDCARD_STOPS: [char; 5] = ['/', '@', '&', ',', ';'];

/// Whether a wildcard may match `c`.
fn wild(c: char) -> bool {
    !WILDCARD_STOPS.contains(&c) && (c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Whether `channel` matches `pattern`: `?` one character, `*` any run of them,
/// neither across `/`, `@`, `&`, `,` or `;`; other characters as they are (ASCII case
/// ignored, as Asterisk's technology names are). In time proportional to the two
/// lengths multiplied, whatever the stars (a client's `Channel` cannot make it
/// backtrack: a recursive match took seconds for `PJSIP/*-*-*-*` and 200 dashes).
pub fn glob(pattern: &str, channel: &str) -> bool {
    let c: Vec<char> = channel.chars().collect();
    // matched[j]: the pattern read so far matches the channel's first j characters.
    let mut matched = vec![false; c.len() + 1];
    matched[0] = true;
    for p in pattern.chars() {
        let mut next = vec![false; c.len() + 1];
        for j in 0..=c.len() {
            next[j] = match p {
                // An empty run, or one more wildcard character after a run.
                '*' => matched[j] || (j > 0 && next[j - 1] && wild(c[j - 1])),
                '?' => j > 0 && matched[j - 1] && wild(c[j - 1]),
                p => j > 0 && matched[j - 1] && c[j - 1].eq_ignore_ascii_case(&p),
            };
        }
        matched = next;
    }
    matched[c.len()]
}

/// Technologies whose `TECH/name` names a phone (an endpoint or peer). Not `Local`
/// (a dialplan), `DAHDI` and the like (a line: `DAHDI/g1` is an outside line).
pub const ENDPOINT_TECHS: [&str; 4] = ["PJSIP", "SIP", "IAX2", "SCCP"];

/// The default rule: `TECH/name` with TECH one of [`ENDPOINT_TECHS`] and a name of
/// ASCII letters, digits, `-` and `_` only (no `.`: not a host; no `+`: not a
/// number; no `@` or `/`: not a context, a host or a trunk's number).
pub fn is_endpoint(channel: &str) -> bool {
    let Some((tech, name)) = channel.split_once('/') else { return false };
    ENDPOINT_TECHS.iter().any(|t| t.eq_ignore_ascii_case(tech))
        && !name.is_empty()
        && name.len() <= 80
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// Whether a retrieve may ring `channel`: it matches one of `patterns`, or, with
/// none, it is an endpoint channel ([`is_endpoint`]).
pub fn allowed(patterns: &[String], channel: &str) -> bool {
    if patterns.is_empty() {
        is_endpoint(channel)
    } else {
        patterns.iter().any(|p| glob(p, channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_allows_endpoints_only() {
        for ok in ["PJSIP/1002", "SIP/alice", "IAX2/desk-3", "pjsip/1002"] {
            assert!(allowed(&[], ok), "{ok}");
        }
        for bad in [
            "Local/00900123456@from-internal",
            "PJSIP/00900123456@my-trunk",
            "local/1002",
            "PJSIP/trunk/00900123456",
            "DAHDI/g1/0090",
            "PJSIP/",
            "/1002",
            "PJSIP/1002&PJSIP/1003",
            "PJSIP/10 02",
        ] {
            assert!(!allowed(&[], bad), "{bad}");
        }
    }

    #[test]
    fn globs_match_one_channel_and_never_a_context_or_a_trunk() {
        let p = vec!["PJSIP/1???".to_string(), "Local/s@hold".to_string()];
        assert!(allowed(&p, "PJSIP/1002"));
        assert!(allowed(&p, "Local/s@hold"));
        assert!(!allowed(&p, "PJSIP/2002"));
        assert!(!allowed(&p, "PJSIP/10020"));
        assert!(!allowed(&p, "Local/s@from-internal"));
        let star = vec!["PJSIP/*".to_string()];
        assert!(allowed(&star, "PJSIP/alice"));
        assert!(!allowed(&star, "PJSIP/0090@my-trunk"));
        assert!(!allowed(&star, "PJSIP/trunk/0090"));
        assert!(!allowed(&star, "PJSIP/a&PJSIP/b"));
        let many = vec!["PJSIP/*-*-*".to_string(), "PJSIP/?x*".to_string()];
        assert!(allowed(&many, "PJSIP/a-b-c") && allowed(&many, "PJSIP/---") && allowed(&many, "PJSIP/ax"));
        assert!(
            !allowed(&many, "PJSIP/a-b") && !allowed(&many, "PJSIP/a-b-c@x") && !allowed(&many, "PJSIP/x")
        );
    }

    #[test]
    fn a_channel_made_to_backtrack_is_answered_at_once() {
        // Found by the review: with a recursive match, 200 dashes took 4 s, and each
        // further 100 multiplied it by five (both threads blocked, the bridge frozen).
        let p = vec!["PJSIP/*-*-*-*-*-*".to_string()];
        let channel = format!("PJSIP/{}@", "-".repeat(1_000));
        assert!(!allowed(&p, &channel));
        assert!(allowed(&p, &format!("PJSIP/{}", "-".repeat(1_000))));
    }

    #[test]
    fn the_default_never_rings_a_host_a_number_or_a_line() {
        for bad in ["IAX2/evil.example.com", "SIP/203.0.113.5", "DAHDI/g1", "PJSIP/+900123456", "Local/1002"]
        {
            assert!(!allowed(&[], bad), "{bad}");
        }
        assert!(allowed(&[], "PJSIP/1002") && allowed(&[], "SIP/reception-desk"));
        let p = vec!["PJSIP/1???".to_string()];
        for bad in ["PJSIP/1 :x", "PJSIP/1\u{9b}\u{85}\u{2028}", "PJSIP/1é23"] {
            assert!(!allowed(&p, bad), "{bad:?}");
        }
    }
}
