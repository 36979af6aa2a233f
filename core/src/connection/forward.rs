//! Forwarding, for a program that passes a server's traffic on (the WebSocket
//! bridge): an action sent for someone else ([`Request::Forward`](super::Request::Forward))
//! and answered whole ([`Reply::Forwarded`](super::Reply::Forwarded)), and, with
//! [`ConnectionConfig::forward_events`](super::ConnectionConfig::forward_events), every
//! message that is not an answer of the connection's own reported as
//! [`Output::Message`].
//!
//! A forwarded action's answer is its response; for a list (`EventList: start`) also
//! every item up to the completing event (`EventList: Complete`); for an `Originate`
//! with `Async: true` also its `OriginateResponse`. Each message loses its ActionID
//! (the connection's own), so the caller can put back the one its client chose.

use super::pending::Acc;
use super::request::{Output, RequestId};
use super::Connection;
use crate::error::ParkingError;
use crate::model::ServerId;
use crate::time::Timestamp;
use crate::wire::inbound::EventName;
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
    response: Option<Message>,
    /// The events answering it, in arrival order.
    events: Vec<Message>,
    /// The response said `EventList: start`: the answer ends with the list's end.
    list: bool,
    /// An `Originate` with `Async: true`: its `OriginateResponse` belongs to the answer.
    async_originate: bool,
    /// The list's end (or the awaited `OriginateResponse`) came.
    ended: bool,
}

impl Forwarding {
    pub(super) fn new(action: &Action) -> Self {
        Self { async_originate: is_async_originate(action), ..Self::default() }
    }

    /// True once the whole answer is in.
    fn complete(&self) -> bool {
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

/// `m` without its ActionID.
fn without_action_id(m: &Message) -> Message {
    let mut out = Message::with_capacity(m.len(), m.heap_bytes());
    for (k, v) in m.iter().filter(|(k, _)| !k.eq_ignore_ascii_case(b"ActionID")) {
        out.push(k, v);
    }
    out
}

impl Connection {
    /// The response to forwarded request `id` from `server`.
    pub(super) fn on_forward_response(
        &mut self,
        now: Timestamp,
        id: RequestId,
        server: ServerId,
        msg: Message,
    ) {
        let Some(Acc::Forward(f)) = self.pending.get_mut(&id).map(|p| &mut p.acc) else {
            return;
        };
        if f.response.is_some() {
            // A second response to one action: not Asterisk's way; not passed on.
            return;
        }
        f.list = msg.is("EventList", "start");
        f.response = Some(without_action_id(&msg));
        if f.complete() {
            self.server_done(now, id, server, Ok(()));
        }
    }

    /// An event answering forwarded request `id` from `server`.
    pub(super) fn on_forward_event(&mut self, now: Timestamp, id: RequestId, server: ServerId, msg: Message) {
        let limit = self.cfg.max_list_items;
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        let Acc::Forward(f) = &mut p.acc else {
            return;
        };
        let name = msg.get("Event").map(EventName::of);
        let ends_list = msg.is("EventList", "Complete") || name == Some(EventName::ParkingListComplete);
        let ends_originate = f.async_originate && name == Some(EventName::OriginateResponse);
        if ends_list || ends_originate {
            f.ended = true;
        }
        f.events.push(without_action_id(&msg));
        if f.events.len() > limit {
            f.events = Vec::new();
            let err = ParkingError::ListTooLong { action: p.req.name(), server_id: server, limit };
            self.server_done(now, id, server, Err(err));
        } else if f.complete() {
            self.server_done(now, id, server, Ok(()));
        }
    }

    /// True when a message carrying `action_id` is not an answer of this connection's
    /// own (no ActionID, or someone else's).
    fn is_foreign(&self, action_id: Option<&[u8]>) -> bool {
        action_id.is_none_or(|a| self.ids.owner(a).is_none() && !self.login.owns(a) && !self.ids.is_ours(a))
    }

    /// With `forward_events`: reports the message (made by `message` only then) when it
    /// is not an answer of ours.
    pub(super) fn forward_foreign(
        &mut self,
        server: ServerId,
        action_id: Option<&[u8]>,
        message: impl FnOnce() -> Message,
    ) {
        if self.cfg.forward_events && self.is_foreign(action_id) {
            self.outputs.push_back(Output::Message(server, message()));
        }
    }
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
