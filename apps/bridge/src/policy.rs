//! What a client may do: its token, the actions it may send, how fast.

use ami_parking::Message;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The actions allowed by default: the parking set. `Originate` only as a retrieve
/// (see [`check_action`]): an open Originate lets any token holder place calls
/// anywhere (toll fraud), and `Command` would run Asterisk CLI lines.
pub const DEFAULT_ALLOW: [&str; 5] = ["Parkinglots", "ParkedCalls", "Park", "Ping", "Originate"];

/// Headers an Originate may carry: those of a retrieve (`ParkedCall(lot,space)` rung
/// to one channel), nothing that picks a dialplan context or sets variables.
const RETRIEVE_HEADERS: [&str; 8] =
    ["Action", "ActionID", "Channel", "Application", "Data", "Timeout", "CallerID", "Async"];

/// Tokens, compared without revealing where they differ. Never printed.
#[derive(Clone, Default)]
pub struct Tokens(Vec<Vec<u8>>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.0.len())
    }
}

impl Tokens {
    /// From the given tokens (empty ones ignored).
    pub fn new(tokens: impl IntoIterator<Item = String>) -> Self {
        Tokens(tokens.into_iter().filter(|t| !t.is_empty()).map(String::into_bytes).collect())
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when none is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `given` is one of them.
    pub fn accepts(&self, given: &str) -> bool {
        let g = given.as_bytes();
        self.0.iter().fold(false, |ok, t| {
            ok | (t.len() == g.len() && t.iter().zip(g).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0)
        })
    }
}

/// The token a WebSocket upgrade carries: `Authorization: Bearer T`, else `?token=T`.
pub fn token_of(authorization: Option<&str>, query: Option<&str>) -> Option<String> {
    if let Some(t) = authorization.and_then(|a| a.strip_prefix("Bearer ")) {
        return Some(t.trim().to_owned());
    }
    query?.split('&').find_map(|kv| kv.strip_prefix("token=")).map(ami_parking_transport::percent_decode)
}

/// Why an action is refused, as the client reads it.
pub fn check_action(allow: &BTreeSet<String>, action: &Message) -> Result<(), String> {
    let name = action.get_str("Action").map(|a| a.into_owned()).unwrap_or_default();
    if name.is_empty() {
        return Err("a frame without an Action header is not an action".into());
    }
    if !allow.iter().any(|a| a.eq_ignore_ascii_case(&name)) {
        return Err(format!(
            "action {name} is not allowed by this bridge (allowed: {})",
            allow.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if name.eq_ignore_ascii_case("Originate") && !allow.iter().any(|a| a == "Originate*") {
        let app = action.get_str("Application").unwrap_or_default();
        if !app.eq_ignore_ascii_case("ParkedCall") {
            return Err("Originate is allowed only as a retrieve (Application: ParkedCall)".into());
        }
        if let Some((k, _)) = action
            .iter()
            .find(|(k, _)| !RETRIEVE_HEADERS.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(k)))
        {
            return Err(format!(
                "Originate as a retrieve may not carry {}; allowed: {}",
                String::from_utf8_lossy(k),
                RETRIEVE_HEADERS.join(", ")
            ));
        }
    }
    Ok(())
}

/// A token bucket: `rate` actions a second, bursts up to `burst`.
#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// Full at first.
    pub fn new(rate: u32, burst: u32) -> Self {
        RateLimit {
            rate: rate as f64,
            burst: burst.max(1) as f64,
            tokens: burst.max(1) as f64,
            at: Instant::now(),
        }
    }

    /// Takes one token; false when none is left.
    pub fn take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The default rate: 20 actions a second, bursts of 40.
pub const DEFAULT_RATE: (u32, u32) = (20, 40);

/// How long a client may take to finish the WebSocket upgrade.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> BTreeSet<String> {
        DEFAULT_ALLOW.iter().map(|s| s.to_string()).collect()
    }

    fn action(pairs: &[(&str, &str)]) -> Message {
        Message::from_pairs(pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())))
    }

    #[test]
    fn the_parking_set_passes_and_the_rest_is_refused_with_a_reason() {
        assert_eq!(check_action(&allow(), &action(&[("Action", "ParkedCalls")])), Ok(()));
        assert_eq!(check_action(&allow(), &action(&[("Action", "parkinglots")])), Ok(()));
        assert_eq!(
            check_action(&allow(), &action(&[("Action", "Command"), ("Command", "core stop now")])),
            Err("action Command is not allowed by this bridge (allowed: Originate, Park, ParkedCalls, Parkinglots, Ping)".into())
        );
        let retrieve = [
            ("Action", "Originate"),
            ("Channel", "PJSIP/1002"),
            ("Application", "ParkedCall"),
            ("Data", "default,701"),
            ("Async", "true"),
        ];
        assert_eq!(check_action(&allow(), &action(&retrieve)), Ok(()));
        let dial_out = [
            ("Action", "Originate"),
            ("Channel", "PJSIP/trunk/0900123"),
            ("Context", "from-internal"),
            ("Exten", "0900123"),
        ];
        assert_eq!(
            check_action(&allow(), &action(&dial_out)),
            Err("Originate is allowed only as a retrieve (Application: ParkedCall)".into())
        );
        let sneaky = [
            ("Action", "Originate"),
            ("Application", "ParkedCall"),
            ("Channel", "PJSIP/1"),
            ("Context", "x"),
        ];
        assert!(check_action(&allow(), &action(&sneaky)).unwrap_err().contains("may not carry Context"));
    }

    #[test]
    fn tokens_come_from_the_header_or_the_query_and_are_never_printed() {
        assert_eq!(token_of(Some("Bearer s3cr3t"), None).as_deref(), Some("s3cr3t"));
        assert_eq!(token_of(None, Some("a=1&token=s%2B3")).as_deref(), Some("s+3"));
        assert_eq!(token_of(None, Some("a=1")), None);
        let t = Tokens::new(["s3cr3t".to_string(), "other".into()]);
        assert!(t.accepts("s3cr3t") && t.accepts("other") && !t.accepts("s3cr3") && !t.accepts(""));
        assert_eq!(format!("{t:?}"), "Tokens(2 configured)");
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_the_rate() {
        let mut r = RateLimit::new(10, 3);
        let t = Instant::now();
        assert_eq!((0..5).map(|_| r.take(t)).filter(|&ok| ok).count(), 3);
        assert!(r.take(t + Duration::from_millis(100)));
        assert!(!r.take(t + Duration::from_millis(100)));
    }
}
