//! Where the link is in its login, and what being logged in starts. The raw AMI
//! link's own login (banner, MD5 challenge, Login) is in `ami_login.rs`; behind amiws
//! the proxy logs in itself, so the link is up as soon as it opens.

use super::timers::Timer;
use super::Connection;
use crate::store::ConnectionState;
use crate::time::Timestamp;

/// Where the link is in its login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LoginPhase {
    /// No link.
    Down,
    /// Link open, waiting for `Asterisk Call Manager/x.y.z`.
    #[cfg(feature = "raw-ami")]
    AwaitBanner,
    /// `Challenge` sent (MD5 login).
    #[cfg(feature = "raw-ami")]
    AwaitChallenge,
    /// `Login` sent.
    #[cfg(feature = "raw-ami")]
    AwaitLogin,
    /// Logged in: events flow, requests may be sent.
    Up,
}

/// The login's ActionID and phase.
#[derive(Debug)]
pub(super) struct Login {
    pub(super) phase: LoginPhase,
    /// The ActionID of the Challenge or Login in flight.
    pub(super) action_id: Option<String>,
    /// The ActionID the next login will carry (capture replays).
    pub(super) forced_id: Option<String>,
}

impl Login {
    pub(super) fn new() -> Self {
        Self { phase: LoginPhase::Down, action_id: None, forced_id: None }
    }

    /// True when `action_id` answers the login in flight.
    pub(super) fn owns(&self, action_id: &[u8]) -> bool {
        self.action_id.as_deref().is_some_and(|a| a.as_bytes() == action_id)
    }
}

impl Connection {
    /// Logged in: refresh (when `auto_refresh`), start polling and the keep-alive.
    pub(super) fn logged_in(&mut self, now: Timestamp) {
        self.login.phase = LoginPhase::Up;
        self.timers.stop(Timer::Login);
        self.set_state(ConnectionState::LoggedIn);
        if self.store.options().auto_refresh {
            self.refresh(now, super::Target::All);
        }
        self.schedule_poll(now);
        self.schedule_keepalive(now);
    }
}
