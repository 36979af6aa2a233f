//! Answering requests: each server's part of a request, the answer once every
//! expected server answered (or its deadline came), and the clean-up after it. A
//! request for all servers behind amiws is a fan-out: its answers are merged.

use super::pending::Acc;
use super::request::{Output, Reply, Request, RequestId};
use super::timers::Timer;
use super::Connection;
use crate::error::ParkingError;
use crate::model::ServerId;
use crate::small_map::SmallSet;
use crate::time::Timestamp;

/// How long a fan-out to servers not known yet (behind amiws, right after connecting)
/// waits, once every server that began to answer has finished, for another to begin.
pub(super) const FANOUT_SETTLE: std::time::Duration = std::time::Duration::from_millis(200);

impl Connection {
    /// `server` finished its part of request `id`.
    pub(super) fn server_done(
        &mut self,
        now: Timestamp,
        id: RequestId,
        server: ServerId,
        result: Result<(), ParkingError>,
    ) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if p.replied {
            // A late server of a fan-out: its list was applied to the store already.
            p.done.insert(server, result);
            return;
        }
        p.done.insert(server, result);
        if !p.all_done() {
            return;
        }
        if p.expected.is_none() {
            // Behind amiws with no server known yet, which servers will answer is not
            // known: amiws forwards one server's whole answer, then the next's. Give
            // another one a moment to begin before answering.
            let at = (now + FANOUT_SETTLE).min(p.deadline);
            self.timers.set(Timer::Request(id), at);
            return;
        }
        if p.done.values().any(|r| r.is_ok()) {
            self.complete_ok(now, id);
        } else {
            let err = p
                .done
                .values()
                .find_map(|r| r.clone().err())
                .unwrap_or(ParkingError::Disconnected { action: p.req.name() });
            self.finish(now, id, Err(err));
        }
    }

    /// Answers `id` with what it collected (park and retrieve answer on their events).
    pub(super) fn complete_ok(&mut self, now: Timestamp, id: RequestId) {
        if let Some(reply) = self.pending.get_mut(&id).and_then(|p| p.acc.take_reply()) {
            self.finish(now, id, Ok(reply));
        }
    }

    /// Request `id`'s deadline came: what the servers that answered said (lists and
    /// plain actions), or a timeout.
    pub(super) fn expire(&mut self, now: Timestamp, id: RequestId) {
        let Some(p) = self.pending.get(&id) else {
            return;
        };
        if p.replied {
            // A fan-out request that lingered for late servers.
            self.remove(now, id);
            return;
        }
        if p.expected.is_none() && !p.all_done() && now < p.deadline {
            // A server began to answer while the fan-out settled: wait for it.
            let deadline = p.deadline;
            self.timers.set(Timer::Request(id), deadline);
            return;
        }
        if p.partial_ok() {
            self.complete_ok(now, id);
            return;
        }
        let after = self.wait_for(&p.req);
        // Nothing at all came for it: is the server still there?
        let probe = p.started.is_empty() && !p.internal;
        let err = match (&p.req, &p.acc) {
            (
                Request::Park { .. } | Request::Move { .. } | Request::ParkCallerOf { .. },
                Acc::Park { accepted: true, channel },
            ) => ParkingError::NoParkedCallEvent { channel: channel.clone(), after },
            (r, _) => ParkingError::Timeout { action: r.name(), after },
        };
        self.finish(now, id, Err(err));
        if probe {
            self.ping_now(now);
        }
    }

    /// Answers request `id`. A fan-out list lingers until its deadline so that servers
    /// answering late still update the store.
    pub(super) fn finish(&mut self, now: Timestamp, id: RequestId, result: Result<Reply, ParkingError>) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if p.replied {
            self.remove(now, id);
            return;
        }
        p.replied = true;
        let calls = matches!(p.req, Request::ParkedCalls { .. });
        let (internal, is_list, refresh) = (p.internal, p.req.is_list(), (p.is_refresh(), p.target, calls));
        if is_list {
            self.store.loading_end();
        }
        let linger = result.is_ok() && p.expected.is_none() && is_list;
        if internal {
            self.note_internal_outcome(now, refresh, result.is_ok());
        }
        if !internal || result.is_err() {
            self.store.set_result(result.as_ref().map(|_| ()));
        }
        if !internal {
            self.outputs.push_back(Output::Reply { id, result });
        }
        match self.pending.get(&id).map(|p| p.deadline) {
            // Lingering for late servers: until the request's own deadline (its timer
            // may have been moved earlier to settle the fan-out).
            Some(deadline) if linger && now < deadline => self.timers.set(Timer::Request(id), deadline),
            _ => self.remove(now, id),
        }
    }

    pub(super) fn remove(&mut self, now: Timestamp, id: RequestId) {
        if let Some(p) = self.pending.remove(&id) {
            self.ids.unbind(&p.action_id);
            self.timers.stop(Timer::Request(id));
            let refresh = p.is_refresh();
            if let Acc::Calls { window, .. } = p.acc {
                self.store.close_window(window);
                if refresh {
                    let answered: SmallSet<ServerId> = p.done.keys().copied().collect();
                    self.refresh_ended(now, &answered);
                }
            }
            if self.is_keepalive(id) {
                self.keepalive.ping = None;
            }
        }
    }
}
