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
use crate::wire::Message;

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
