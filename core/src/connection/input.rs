//! What comes in: raw AMI messages and amiws frames, looked at cheaply first (is it a
//! live parking event, or an answer of ours?), classified once by the wire layer,
//! then routed: live events to the store and to the park and retrieve requests
//! waiting for them, answers to their request, the login's answers to the login.

use super::config::Mode;
use super::login::LoginPhase;
use super::request::{Output, Reply, Request, RequestId, Target};
use super::Connection;
use crate::error::ConnectionError;
use crate::parking::model::ServerId;
use crate::time::Timestamp;
use crate::wire::ami_codec::RawMessage;
use crate::wire::inbound::{EventName, Head, Inbound, LiveEvent, LiveKind, Response, Shape};
use crate::wire::Message;

impl Connection {
    /// One raw AMI message. Events that are neither live parking events nor answers of
    /// ours are passed over before any header list is built.
    pub(super) fn on_raw(&mut self, now: Timestamp, raw: RawMessage<'_>) -> Result<(), ConnectionError> {
        if self.login.phase == LoginPhase::AwaitBanner {
            // No banner (e.g. a proxy): log in now, then handle the message.
            self.on_banner(now)?;
        }
        let event = raw.event_name().map(EventName::of);
        if event.is_some_and(|e| !e.matters_live()) && self.ids.is_idle() {
            return Ok(());
        }
        let head = Head { event, action_id: raw.get("ActionID") };
        let Some(shape) = self.shape_of(&head) else {
            return Ok(());
        };
        let server = self.cfg.server_id;
        let inbound = Inbound::classify(head, raw.headers(), server, now, shape);
        self.on_inbound(now, server, inbound)
    }

    /// One amiws frame's message from `server`.
    pub(super) fn on_frame_message(
        &mut self,
        now: Timestamp,
        server: ServerId,
        msg: &Message,
    ) -> Result<(), ConnectionError> {
        if self.known_servers.insert(server)
            && self.login.phase == LoginPhase::Up
            && self.cfg.parking.auto_refresh
        {
            // A server we had not heard of: sync it on its own.
            if !self.store.is_synced(server) {
                self.refresh(now, Target::Server(server));
            }
        }
        let head = Head::of(msg.iter());
        let Some(shape) = self.shape_of(&head) else {
            return Ok(());
        };
        let inbound = Inbound::classify(head, msg.iter(), server, now, shape);
        self.on_inbound(now, server, inbound)
    }

    /// Whether a message matters, and how its items are to be read: live events and
    /// responses always matter; other events only when they answer one of our actions.
    fn shape_of(&self, head: &Head<'_>) -> Option<Shape> {
        let owner = head.action_id.and_then(|a| self.ids.owner(a));
        match (head.event, head.action_id) {
            (None, _) => Some(Shape::Messages),
            (Some(e), None) => e.matters_live().then_some(Shape::Messages),
            (Some(_), Some(_)) => owner.and_then(|id| self.pending.get(&id)).map(|p| p.acc.shape()),
        }
    }

    fn on_inbound(
        &mut self,
        now: Timestamp,
        server: ServerId,
        inbound: Inbound,
    ) -> Result<(), ConnectionError> {
        match inbound {
            Inbound::Live(event) => self.on_live(now, server, event),
            Inbound::Shutdown => self.outputs.push_back(Output::ServerShutdown(server)),
            Inbound::Response(r) => return self.on_response(now, server, r),
            Inbound::Answer { action_id, answer } => {
                if let Some(id) = self.ids.owner(action_id.as_bytes()) {
                    self.on_answer(now, id, server, answer);
                }
            }
            Inbound::Ignored => {}
        }
        Ok(())
    }

    fn on_response(&mut self, now: Timestamp, server: ServerId, r: Response) -> Result<(), ConnectionError> {
        if self.cfg.mode == Mode::Amiws && r.is_unsolicited_login() {
            self.outputs.push_back(Output::ServerLoggedIn(server));
            if self.login.phase == LoginPhase::Up && self.cfg.parking.auto_refresh {
                self.refresh(now, Target::Server(server));
            }
            return Ok(());
        }
        let Some(aid) = r.action_id.as_deref() else {
            return Ok(());
        };
        if self.login.owns(aid.as_bytes()) {
            return self.on_login_response(now, r);
        }
        if let Some(id) = self.ids.owner(aid.as_bytes()) {
            self.on_request_response(now, id, server, r);
        }
        Ok(())
    }

    /// A live parking event: park and retrieve requests waiting for it are answered,
    /// and the store takes it.
    fn on_live(&mut self, now: Timestamp, server: ServerId, event: LiveEvent) {
        let waiting: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| !p.replied && p.hears(server) && self.awaits(&p.req, &event))
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            let call = &event.call;
            let (lot, space) = (call.parking_lot.to_string(), call.parking_space);
            let reply = match event.kind {
                LiveKind::Parked => {
                    Reply::Parked { server_id: server, lot, space, call: Box::new(call.clone()) }
                }
                _ => Reply::Retrieved {
                    server_id: server,
                    lot,
                    space,
                    retriever: event.retriever.clone().unwrap_or_default(),
                },
            };
            self.finish(now, id, Ok(reply));
        }
        let events = self.store.apply_live(event);
        self.outputs.extend(events.into_iter().map(Output::Parking));
    }

    /// True when `req` is answered by `event`: a park by the `ParkedCall` of its
    /// channel, a retrieve by the `UnParkedCall` of its space.
    fn awaits(&self, req: &Request, event: &LiveEvent) -> bool {
        let call = &event.call;
        match req {
            Request::Park { channel, .. } => event.kind == LiveKind::Parked && call.channel == *channel,
            Request::Retrieve { space, lot, .. } => {
                event.kind == LiveKind::Retrieved
                    && call.parking_space == *space
                    && *call.parking_lot == *lot.as_deref().unwrap_or(&self.cfg.parking.default_parking_lot)
            }
            _ => false,
        }
    }
}
