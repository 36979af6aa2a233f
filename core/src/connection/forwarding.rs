//! What a forwarded action ([`Request::Forward`](super::Request::Forward)) has
//! collected so far, and how long it may take (see `forward.rs` for how it is fed).

use crate::wire::{Action, Message};
use std::time::Duration;

/// How long Asterisk rings an Originate's channel when the action names no `Timeout`.
const ORIGINATE_DEFAULT_RING: Duration = Duration::from_secs(30);

/// The longest ring time a forwarded Originate's deadline allows for.
const ORIGINATE_MAX_RING: Duration = Duration::from_secs(600);

/// What a forwarded action has collected so far.
#[derive(Debug, Default)]
pub(super) struct Forwarding {
    /// The response (first in the answer).
    pub(super) response: Option<Message>,
    /// The events answering it, in arrival order.
    pub(super) events: Vec<Message>,
    /// The response said `EventList: start`: the answer ends with the list's end.
    pub(super) list: bool,
    /// An `Originate` with `Async: true`: its `OriginateResponse` belongs to the answer.
    pub(super) async_originate: bool,
    /// The list's end (or the awaited `OriginateResponse`) came.
    pub(super) ended: bool,
}

impl Forwarding {
    pub(super) fn new(action: &Action) -> Self {
        Self { async_originate: is_async_originate(action), ..Self::default() }
    }

    /// True once the whole answer is in.
    pub(super) fn complete(&self) -> bool {
        let Some(r) = &self.response else { return false };
        let success = r.is("Response", "Success");
        let waits = self.list || (self.async_originate && success);
        !waits || self.ended
    }

    /// The answer: the response, then the events.
    pub(super) fn take(&mut self) -> Vec<Message> {
        let mut all = Vec::with_capacity(self.events.len() + 1);
        all.extend(self.response.take());
        all.append(&mut self.events);
        all
    }
}

/// How much longer than `request_timeout` a forwarded action may take: an
/// `Originate` rings its channel first (its `Timeout`, in milliseconds).
pub(super) fn extra_wait(action: &Action) -> Duration {
    if !action.name().eq_ignore_ascii_case("Originate") {
        return Duration::ZERO;
    }
    let ring = action.as_message().get_str("Timeout").and_then(|t| t.trim().parse::<u64>().ok());
    ring.map_or(ORIGINATE_DEFAULT_RING, Duration::from_millis).min(ORIGINATE_MAX_RING)
}

/// `Originate` with `Async` true (as Asterisk's `ast_true` reads it).
fn is_async_originate(action: &Action) -> bool {
    let on = |v: &[u8]| {
        ["yes", "true", "y", "t", "1", "on"].iter().any(|t| v.trim_ascii().eq_ignore_ascii_case(t.as_bytes()))
    };
    action.name().eq_ignore_ascii_case("Originate") && action.as_message().get("Async").is_some_and(on)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_originate_waits_for_its_ring_time_and_only_async_ones_for_their_event() {
        let o = Action::new("Originate").header("Timeout", "20000").header("Async", "True");
        assert_eq!(extra_wait(&o), Duration::from_secs(20));
        assert!(is_async_originate(&o));
        assert_eq!(extra_wait(&Action::new("originate")), ORIGINATE_DEFAULT_RING);
        assert_eq!(
            extra_wait(&Action::new("Originate").header("Timeout", "99999999999")),
            ORIGINATE_MAX_RING
        );
        assert_eq!(extra_wait(&Action::new("Ping")), Duration::ZERO);
        assert!(!is_async_originate(&Action::new("Originate").header("Async", "no")));
        assert!(!is_async_originate(&Action::new("Ping").header("Async", "yes")));
    }
}
