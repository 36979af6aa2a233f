//! A server's life: a clean shutdown, a crash, a restart (behind amiws, the proxy's
//! login again).

use super::{SimPbx, Wire};
use crate::model::ServerId;
use crate::time::Timestamp;
use crate::wire::Message;

impl SimPbx {
    /// A clean shutdown: `ParkedCallGiveUp` for every call, then `Shutdown`; the
    /// client link closes.
    pub fn shutdown(&mut self, now: Timestamp, server: ServerId) {
        let calls: Vec<(String, u32)> = self.calls(server).iter().map(|c| (c.lot.clone(), c.space)).collect();
        for (lot, space) in calls {
            let _ = self.give_up(now, server, &lot, space);
        }
        let mut m = Message::new();
        m.push(b"Event", b"Shutdown");
        m.push(b"Privilege", b"system,all");
        m.push(b"Shutdown", b"Cleanly");
        m.push(b"Restart", b"False");
        self.emit(server, m);
        self.held.retain(|h| h.server != server);
        if let Ok(s) = self.srv(server) {
            s.up = false;
            s.client = false;
            s.logged_in = false;
        }
    }

    /// A crash (kill -9): nothing is sent, the calls are gone.
    pub fn crash(&mut self, server: ServerId) {
        self.held.retain(|h| h.server != server);
        if let Ok(s) = self.srv(server) {
            s.up = false;
            s.client = false;
            s.logged_in = false;
            s.calls.clear();
            for l in &mut s.lots {
                l.last = None;
            }
        }
    }

    /// The server runs again (empty, without the dynamic lots parks made). Behind
    /// amiws, the proxy logs in again at once: `Authentication accepted` without
    /// ActionID, then `FullyBooted`.
    pub fn restart(&mut self, server: ServerId) {
        let wire = self.wire;
        let was_client = wire == Wire::Amiws && self.ws_client;
        if let Ok(s) = self.srv(server) {
            s.up = true;
            s.calls.clear();
            s.lots.retain(|l| !l.dynamic);
            s.client = was_client;
            s.logged_in = was_client;
        }
        if was_client {
            let mut m = Message::new();
            m.push(b"Response", b"Success");
            m.push(b"Message", b"Authentication accepted");
            self.emit(server, m);
            let mut m = Message::new();
            m.push(b"Event", b"FullyBooted");
            m.push(b"Privilege", b"system,all");
            m.push(b"Uptime", b"0");
            m.push(b"LastReload", b"0");
            m.push(b"Status", b"Fully Booted");
            self.emit(server, m);
        }
    }
}
