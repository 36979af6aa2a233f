//! Answers to our actions: responses, list items, list ends and `OriginateResponse`,
//! collected into the request they belong to. A list ends per server; the request
//! is answered once every expected server's list ended.

use super::pending::Acc;
use super::request::{Request, RequestId};
use super::Connection;
use crate::error::ParkingError;
use crate::model::ServerId;
use crate::small_map::SmallMap;
use crate::time::Timestamp;
use crate::wire::inbound::{Answer, Response};

impl Connection {
    /// A response to request `id` from `server`.
    pub(super) fn on_request_response(
        &mut self,
        now: Timestamp,
        id: RequestId,
        server: ServerId,
        r: Response,
    ) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if !p.hears(server) {
            return;
        }
        p.started.insert(server);
        if matches!(p.acc, Acc::Forward(_)) {
            // Passed on as it is, an error included.
            return self.on_forward_response(now, id, server, r.msg);
        }
        if !r.success {
            let message = r.message.unwrap_or_else(|| "(no message)".into());
            let mut err = if message == "Permission denied" {
                // Asterisk checks an action against the user's write= rights.
                let right = match &p.req {
                    Request::Retrieve { .. } => "write=originate",
                    Request::Action(a) | Request::List { action: a, .. }
                        if a.name().eq_ignore_ascii_case("Originate") =>
                    {
                        "write=originate"
                    }
                    Request::Action(_) | Request::List { .. } => "the right this action needs",
                    _ => "write=call",
                };
                ParkingError::PermissionDenied {
                    action: p.req.name(),
                    right: right.into(),
                    server_id: server,
                }
            } else {
                ParkingError::Asterisk { action: p.req.name(), message, server_id: server }
            };
            if let (Request::ParkCallerOf { phone, .. }, Acc::Park { channel, .. }) = (&p.req, &p.acc) {
                // The caller's channel was listed a moment ago: it has gone since.
                if matches!(&err, ParkingError::Asterisk { message, .. } if message.starts_with("Channel does not exist"))
                {
                    err = ParkingError::CallerHungUp {
                        phone: phone.clone(),
                        channel: channel.clone(),
                        server_id: server,
                    };
                }
            }
            let listing = matches!(p.acc, Acc::CallerOf { .. });
            if let Request::Park { park, .. }
            | Request::Move { to: park, .. }
            | Request::ParkCallerOf { park, .. } = &p.req
            {
                // Asterisk says "Park action failed" for a full lot and an unknown one
                // alike: the store knows which.
                let lot = park.lot.as_deref().unwrap_or(&self.store.options().default_parking_lot);
                if let (false, Err(known)) = (listing, self.store.check_lot(server, lot)) {
                    err = known;
                }
            }
            self.server_done(now, id, server, Err(err));
            return;
        }
        match &mut p.acc {
            Acc::Park { accepted, .. } => *accepted = true,
            Acc::Action { response } => {
                response.get_or_insert(r.msg);
                self.server_done(now, id, server, Ok(()));
            }
            // Lists answer with their items; a retrieve with its events.
            _ => {}
        }
    }

    /// An event answering request `id` from `server`.
    pub(super) fn on_answer(&mut self, now: Timestamp, id: RequestId, server: ServerId, answer: Answer) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if !p.hears(server) || p.done.contains_key(&server) {
            // Another server's answer, or the rest of one that ended already (too long,
            // refused): a list ended with an error is not listed from its remainder.
            return;
        }
        p.started.insert(server);
        if matches!(p.acc, Acc::Forward(_)) {
            if let Answer::Item(m) = answer {
                self.on_forward_event(now, id, server, m);
            }
            return;
        }
        let complete_event = match &p.req {
            Request::List { complete_event, .. } => complete_event.as_deref(),
            _ => None,
        };
        let ends = (p.req.is_list() || matches!(p.acc, Acc::CallerOf { .. }))
            && match &answer {
                Answer::End => true,
                Answer::Item(m) => complete_event.is_some_and(|c| m.is("Event", c)),
                _ => false,
            };
        match (&mut p.acc, answer) {
            (_, _) if ends => self.list_complete(now, id, server),
            (Acc::Retrieve, Answer::Originate { success: false, detail }) => {
                let Request::Retrieve { lot, space, to_channel } = &p.req else { return };
                let lot = lot.clone().unwrap_or_else(|| self.store.options().default_parking_lot.clone());
                let err = ParkingError::OriginateFailed {
                    lot,
                    space: *space,
                    channel: to_channel.clone(),
                    reason: detail,
                };
                self.server_done(now, id, server, Err(err));
            }
            (acc, answer @ (Answer::Call(_) | Answer::Lot(_) | Answer::Item(_))) => {
                let len = match (acc, answer) {
                    (Acc::Calls { items, .. }, Answer::Call(call)) => push(items, server, call),
                    (Acc::Lots { items, .. }, Answer::Lot(lot)) => push(items, server, lot),
                    (Acc::List { items }, Answer::Item(m)) => push(items, server, m),
                    (Acc::CallerOf { items }, Answer::Item(m)) => {
                        items.push(m);
                        items.len()
                    }
                    _ => 0,
                };
                if len > self.cfg.max_list_items {
                    let err = ParkingError::ListTooLong {
                        action: p.req.name(),
                        server_id: server,
                        limit: self.cfg.max_list_items,
                    };
                    match &mut p.acc {
                        Acc::Calls { items, .. } => drop(items.remove(&server)),
                        Acc::Lots { items, .. } => drop(items.remove(&server)),
                        Acc::List { items } => drop(items.remove(&server)),
                        Acc::CallerOf { items } => items.clear(),
                        _ => {}
                    }
                    self.server_done(now, id, server, Err(err));
                }
            }
            _ => {}
        }
    }

    /// `server`'s list for request `id` ended: the store takes it, and the server is done.
    fn list_complete(&mut self, now: Timestamp, id: RequestId, server: ServerId) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        let mut relist = false;
        match (&mut p.acc, &p.req) {
            (Acc::Lots { items, lots }, _) => {
                let listed = items.remove(&server).unwrap_or_default();
                let (applied, missed) = self.store.apply_lots(server, listed);
                lots.extend(applied);
                relist = missed;
            }
            (Acc::Calls { window, items, calls }, req) => {
                let listed = items.remove(&server).unwrap_or_default();
                let done = self.store.reconcile(now, Some(*window), server, req.listed_lot(), listed);
                calls.extend(done.shown);
                self.outputs.extend(done.events.into_iter().map(super::Output::Parking));
                relist = done.unlisted;
            }
            // The phone's channels are listed: park its caller (or say why not).
            (Acc::CallerOf { .. }, _) => return self.caller_listed(now, id, server),
            // Generic lists keep their items per server until answered; park, retrieve and
            // plain actions have no list.
            _ => {}
        }
        if relist {
            // The answer made known a lot made since the lots were listed, or put a
            // call outside a listed range; or the server's first list of lots left
            // something to learn (`ParkingStore::apply_lots`).
            self.learn_lots(now, server);
        }
        self.server_done(now, id, server, Ok(()));
    }
}

/// Adds one item of `server`'s answer; how many it has now.
fn push<T>(items: &mut SmallMap<ServerId, Vec<T>>, server: ServerId, item: T) -> usize {
    let v = items.entry_or_insert_with(server, Vec::new);
    v.push(item);
    v.len()
}
