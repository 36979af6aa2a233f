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
/// ignored, as Asterisk's technology names are).
pub fn glob(pattern: &str, channel: &str) -> bool {
    fn go(p: &[char], c: &[char]) -> bool {
        match p.split_first() {
            None => c.is_empty(),
            Some(('*', rest)) => {
                // The shortest run first; the run stops at a stop character.
                let mut i = 0;
                loop {
                    if go(rest, &c[i..]) {
                        return true;
                    }
                    if i == c.len() || !wild(c[i]) {
                        return false;
                    }
                    i += 1;
                }
            }
            Some(('?', rest)) => c.first().is_some_and(|ch| wild(*ch)) && go(rest, &c[1..]),
            Some((pc, rest)) => c.first().is_some_and(|ch| ch.eq_ignore_ascii_case(pc)) && go(rest, &c[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let c: Vec<char> = channel.chars().collect();
    go(&p, &c)
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
