//! Which web pages may open a WebSocket to the bridge. A browser sends `Origin` on
//! every WebSocket upgrade and lets any page open one to any address, so a page the
//! user visits could drive the bridge: an upgrade carrying an `Origin` is refused
//! unless the origin is listed (`--allow-origin`), is a loopback origin while the
//! bridge listens on loopback, or is the bridge's own (its web root, when it serves
//! one and requires tokens). Without tokens (`--no-auth`, loopback only) the `Host`
//! must be a loopback name too, so a rebound DNS name cannot reach it.

/// The origin rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    /// Listed origins (`https://board.example:8443`), compared without case and
    /// without a trailing `/`.
    pub allowed: Vec<String>,
    /// The bridge listens on a loopback address.
    pub loopback_listener: bool,
    /// The bridge serves a web root: its own origin (the request's `Host`) is allowed.
    pub own_origin: bool,
    /// No token is required.
    pub no_auth: bool,
}

/// The host of an origin or `Host` value (`http://[::1]:8088` -> `[::1]`,
/// `localhost:8088` -> `localhost`).
fn host_of(s: &str) -> &str {
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let authority = s.split('/').next().unwrap_or_default();
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

/// Whether `host` names this machine: `localhost`, `127.x.y.z`, `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_end_matches('.');
    h.eq_ignore_ascii_case("localhost")
        || h == "[::1]"
        || h.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether an upgrade with `origin` and `host` headers may go on; the reason when
/// not (the body of the 403).
pub fn check(rules: &Origins, origin: Option<&str>, host: Option<&str>) -> Result<(), String> {
    if rules.no_auth && !host.is_some_and(|h| is_loopback_host(host_of(h))) {
        return Err("without tokens this bridge answers only requests for a loopback Host".into());
    }
    let Some(origin) = origin else { return Ok(()) };
    let o = origin.trim_end_matches('/');
    if rules.allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(o)) {
        return Ok(());
    }
    if rules.loopback_listener && is_loopback_host(host_of(o)) {
        return Ok(());
    }
    if rules.own_origin && !rules.no_auth {
        let authority = o.split_once("://").map(|(_, a)| a);
        if authority.is_some() && authority.map(str::to_ascii_lowercase) == host.map(str::to_ascii_lowercase)
        {
            return Ok(());
        }
    }
    Err(format!(
        "origin {origin} is not allowed (the bridge's --allow-origin lists the pages that may connect)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_page_is_refused_and_loopback_or_listed_pages_pass() {
        let r = Origins { loopback_listener: true, ..Default::default() };
        assert!(check(&r, None, Some("127.0.0.1:8088")).is_ok());
        assert!(check(&r, Some("http://localhost:3000"), Some("127.0.0.1:8088")).is_ok());
        assert!(check(&r, Some("http://127.0.0.1:8080"), None).is_ok());
        assert!(check(&r, Some("http://[::1]:8080"), None).is_ok());
        assert!(check(&r, Some("https://evil.example"), Some("127.0.0.1:8088")).is_err());
        assert!(check(&r, Some("http://localhost.evil.example"), None).is_err());
        let listed = Origins { allowed: vec!["https://board.example/".into()], ..Default::default() };
        assert!(check(&listed, Some("https://board.example"), None).is_ok());
        assert!(check(&listed, Some("http://localhost:3000"), None).is_err(), "not on loopback");
        let own = Origins { own_origin: true, ..Default::default() };
        assert!(check(&own, Some("https://bridge.example:8088"), Some("bridge.example:8088")).is_ok());
        assert!(check(&own, Some("https://evil.example"), Some("bridge.example:8088")).is_err());
    }

    #[test]
    fn without_tokens_only_a_loopback_host_is_served() {
        let r = Origins { loopback_listener: true, no_auth: true, own_origin: true, ..Default::default() };
        assert!(check(&r, None, Some("127.0.0.1:8088")).is_ok());
        assert!(check(&r, Some("http://evil.example:8088"), Some("evil.example:8088")).is_err());
        assert!(check(&r, None, Some("evil.example:8088")).is_err());
    }
}
