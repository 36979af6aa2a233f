//! Keep-alive: finding a dead link. Raw AMI sends an AMI `Ping` every
//! `keepalive_interval`; behind amiws the core asks the transport for a WebSocket
//! ping when the link has been quiet that long ([`Connection::poll_ping`]). Either
//! way, no answer within `request_timeout` ends the link. A request that got nothing
//! at all by its deadline sends a Ping at once (raw AMI), so a server that stopped
//! reading is found within two request timeouts rather than at the next keep-alive.

use super::config::Mode;
use super::login::LoginPhase;
use super::request::{Request, RequestId, Target};
use super::timers::Timer;
use super::Connection;
use crate::error::ConnectionError;
use crate::time::Timestamp;
use crate::wire::Action;

/// The keep-alive in flight.
#[derive(Debug, Default)]
pub(super) struct Keepalive {
    /// Raw AMI: the Ping request in flight.
    pub(super) ping: Option<RequestId>,
    /// amiws: a WebSocket ping is wanted (taken by `poll_ping`).
    pub(super) ws_ping: bool,
}

impl Connection {
    pub(super) fn schedule_keepalive(&mut self, now: Timestamp) {
        let every = self.cfg.keepalive_interval;
        if every.is_zero() || self.login.phase != LoginPhase::Up {
            self.timers.stop(Timer::Keepalive);
        } else {
            self.timers.set(Timer::Keepalive, now + every);
        }
    }

    /// Behind amiws, anything from the link shows it alive: the quiet period starts again.
    pub(super) fn note_alive(&mut self, now: Timestamp) {
        if self.cfg.mode == Mode::Amiws {
            self.timers.stop(Timer::KeepaliveAnswer);
            self.schedule_keepalive(now);
        }
    }

    /// The keep-alive timers, when due. An `Err` means the link is dead.
    pub(super) fn keepalive_timers(&mut self, now: Timestamp) -> Result<(), ConnectionError> {
        if self.timers.is_due(Timer::KeepaliveAnswer, now) {
            self.timers.stop(Timer::KeepaliveAnswer);
            return Err(ConnectionError::Unresponsive("WebSocket ping".into()));
        }
        if !self.timers.is_due(Timer::Keepalive, now) {
            return Ok(());
        }
        match self.cfg.mode {
            #[cfg(feature = "raw-ami")]
            Mode::Ami => {
                self.ping_now(now);
                self.schedule_keepalive(now);
            }
            Mode::Amiws => {
                self.keepalive.ws_ping = true;
                self.timers.stop(Timer::Keepalive);
                self.timers.set(Timer::KeepaliveAnswer, now + self.cfg.request_timeout);
            }
        }
        Ok(())
    }

    /// Raw AMI with the keep-alive on: sends the keep-alive Ping now, unless one is in
    /// flight.
    pub(super) fn ping_now(&mut self, now: Timestamp) {
        let on = self.cfg.mode.is_raw() && !self.cfg.keepalive_interval.is_zero();
        if on && self.keepalive.ping.is_none() && self.login.phase == LoginPhase::Up {
            let ping = Request::Action(Action::new("Ping"));
            self.keepalive.ping = self.start(now, ping, Target::All, None, true).ok();
        }
    }

    /// True when `id` is the keep-alive Ping.
    pub(super) fn is_keepalive(&self, id: RequestId) -> bool {
        self.keepalive.ping == Some(id)
    }
}
