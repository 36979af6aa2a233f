//! What comes in: raw AMI messages and amiws frames, looked at cheaply first (is it a
//! live parking event, or an answer of ours?), classified once by the wire layer,
//! then routed: live events to the store and to the park and retrieve requests
//! waiting for them, answers to their request, the login's answers to the login.

use super::config::Mode;
use super::login::LoginPhase;
use super::pending::{Acc, Pending};
use super::request::{Output, Reply, Request, RequestId};
use super::Connection;
use crate::error::ConnectionError;
use crate::model::ServerId;
use crate::time::Timestamp;
use crate::wire::inbound::{Head, Inbound, LiveEvent, LiveKind, Response, Shape};
use crate::wire::Message;
#[cfg(feature = "raw-ami")]
use crate::wire::{ami_codec::RawMessage, fields, inbound::EventName};

impl Connection {
    /// One raw AMI message. Events that are neither live parking events nor answers of
    /// ours are passed over before any header list is built.
    #[cfg(feature = "raw-ami")]
    pub(super) fn on_raw(&mut self, now: Timestamp, raw: RawMessage<'_>) -> Result<(), ConnectionError> {
        if self.login.phase == LoginPhase::AwaitBanner {
            // No banner (e.g. a proxy): log in now, then handle the message.
            self.on_banner(now)?;
        }
        let server = self.cfg.server_id;
        let event = raw.event_name().map(EventName::of);
        let passed_over = event.is_some_and(|e| !e.matters_live()) && self.ids.is_idle();
        if passed_over && !self.cfg.forward_events {
            // Nothing to forward, nothing to act on: not even the ActionID is read.
            return Ok(());
        }
        // A parking event (live, or an item of a list) is read in one pass, its
        // ActionID with the rest; anything else is looked up for its ActionID first.
        let scanned = matches!(event, Some(EventName::Parking(_))).then(|| fields::scan(raw.headers()));
        let action_id = match &scanned {
            Some(f) => f[fields::F_ACTION_ID],
            None => raw.get("ActionID"),
        };
        self.forward_foreign(server, action_id, || raw.to_message());
        if passed_over {
            return Ok(());
        }
        let head = Head { event, action_id };
        let Some((shape, owner)) = self.route(&head) else {
            return Ok(());
        };
        if let (Some(f), Some(kind)) = (&scanned, head.live_leave()) {
            // A leave of a call the store holds, with no request waiting for events:
            // applied from the scan (the event's call is not built).
            if self.pending.is_empty() {
                if let Some(events) = self.store.apply_held_leave(now, server, kind, f) {
                    self.outputs.extend(events.into_iter().map(Output::Parking));
                    return Ok(());
                }
            }
        }
        let inbound = match &scanned {
            Some(f) => {
                // The lot's name: the last one again (a list's items come lot by lot)
                // without the store's lock and a hash, else the store's, else new.
                let name = match &self.last_lot {
                    Some((s, name)) if *s == server && name.as_bytes() == fields::lot_of(f) => name.clone(),
                    _ => fields::lot_name(f, &|bytes: &[u8]| self.store.lot_name(server, bytes)),
                };
                self.last_lot = Some((server, name.clone()));
                let names = |_: &[u8]| Some(name.clone());
                Inbound::classify_scanned(head, f, raw.headers(), server, now, shape, &names)
            }
            None => Inbound::classify(head, raw.headers(), server, now, shape),
        };
        self.on_inbound(now, server, inbound, owner)
    }

    /// One amiws frame's message from `server`.
    pub(super) fn on_frame_message(
        &mut self,
        now: Timestamp,
        server: ServerId,
        msg: &Message,
    ) -> Result<(), ConnectionError> {
        if !self.known_servers.contains(&server) && self.known_servers.len() >= self.cfg.max_servers {
            // A proxy inventing server ids: past the cap they are not followed.
            return Ok(());
        }
        if self.known_servers.insert(server)
            && self.login.phase == LoginPhase::Up
            && self.store.options().auto_refresh
            && !self.store.is_synced(server)
        {
            // A server we had not heard of: sync it (once).
            self.want_refresh(now, server);
        }
        let head = Head::of(msg.iter());
        self.forward_foreign(server, head.action_id, || msg.clone());
        let Some((shape, owner)) = self.route(&head) else {
            return Ok(());
        };
        let inbound = Inbound::classify(head, msg.iter(), server, now, shape);
        self.on_inbound(now, server, inbound, owner)
    }

    /// Whether a message matters, how its items are to be read, and which of our
    /// requests its ActionID names (looked up once): live events and responses always
    /// matter; other events only when they answer one of our actions.
    fn route(&self, head: &Head<'_>) -> Option<(Shape, Option<RequestId>)> {
        let owner = head.action_id.and_then(|a| self.ids.owner(a));
        let shape = match (head.event, head.action_id) {
            (None, _) => Shape::Messages,
            (Some(e), None) => e.matters_live().then_some(Shape::Messages)?,
            (Some(_), Some(_)) => self.pending.get(&owner?)?.acc.shape(),
        };
        Some((shape, owner))
    }

    fn on_inbound(
        &mut self,
        now: Timestamp,
        server: ServerId,
        inbound: Inbound,
        owner: Option<RequestId>,
    ) -> Result<(), ConnectionError> {
        match (inbound, owner) {
            (Inbound::Live(event), _) => self.on_live(now, server, event),
            (Inbound::Shutdown, _) => self.outputs.push_back(Output::ServerShutdown(server)),
            (Inbound::Response(r), _) => return self.on_response(now, server, r, owner),
            (Inbound::Answer { answer, .. }, Some(id)) => self.on_answer(now, id, server, answer),
            (Inbound::Unreadable, _) => self.lost_event(now, Some(server)),
            (Inbound::Answer { .. } | Inbound::Ignored, _) => {}
        }
        Ok(())
    }

    fn on_response(
        &mut self,
        now: Timestamp,
        server: ServerId,
        r: Response,
        owner: Option<RequestId>,
    ) -> Result<(), ConnectionError> {
        if self.cfg.mode == Mode::Amiws && r.is_unsolicited_login() {
            // amiws lost that Asterisk for a while: its calls were not followed.
            self.store.link_lost(Some(server));
            self.outputs.push_back(Output::ServerLoggedIn(server));
            if self.login.phase == LoginPhase::Up && self.store.options().auto_refresh {
                self.want_refresh(now, server);
            }
            return Ok(());
        }
        #[cfg(feature = "raw-ami")]
        if r.action_id.as_deref().is_some_and(|aid| self.login.owns(aid.as_bytes())) {
            return self.on_login_response(now, r);
        }
        if let Some(id) = owner {
            self.on_request_response(now, id, server, r);
        }
        Ok(())
    }

    /// A live parking event: park and retrieve requests waiting for it are answered,
    /// and the store takes it.
    fn on_live(&mut self, now: Timestamp, server: ServerId, event: LiveEvent) {
        let waiting: Vec<(RequestId, bool)> = self
            .pending
            .iter()
            .filter(|(_, p)| !p.replied && p.hears(server) && self.awaits(p, &event))
            .map(|(id, p)| (*id, matches!(p.req, Request::Move { .. })))
            .collect();
        for (id, moving) in waiting {
            let call = &event.call;
            let (lot, space) = (call.parking_lot.to_string(), call.parking_space);
            let reply = match event.kind {
                LiveKind::Parked if moving => {
                    Reply::Moved { server_id: server, lot, space, call: Box::new(call.clone()) }
                }
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
        let (events, unlisted) = self.store.apply_live(now, event);
        self.outputs.extend(events.into_iter().map(Output::Parking));
        if unlisted {
            // A lot its server did not list (a dynamic lot): its range, from a list.
            self.learn_lots(now, server);
        }
    }

    /// True when `p` is answered by `event`: a park or a move by the `ParkedCall` of
    /// its channel, a retrieve by the `UnParkedCall` of its space.
    fn awaits(&self, p: &Pending, event: &LiveEvent) -> bool {
        let call = &event.call;
        match (&p.req, &p.acc) {
            (_, Acc::Park { channel, .. }) => event.kind == LiveKind::Parked && call.channel() == *channel,
            (Request::Retrieve { space, lot, .. }, _) => {
                event.kind == LiveKind::Retrieved
                    && call.parking_space == *space
                    && *call.parking_lot
                        == *lot.as_deref().unwrap_or(&self.store.options().default_parking_lot)
            }
            _ => false,
        }
    }
}
