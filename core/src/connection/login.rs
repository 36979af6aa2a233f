//! The login phase of a raw AMI link: banner, optional MD5 challenge, Login. Behind
//! amiws the proxy logs in itself, so the link is up as soon as it opens.

use super::config::AuthMethod;
use super::timers::Timer;
use super::Connection;
use crate::error::ConnectionError;
use crate::store::ConnectionState;
use crate::time::Timestamp;
use crate::wire::inbound::Response;
use crate::wire::Action;

/// Where the link is in its login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LoginPhase {
    /// No link.
    Down,
    /// Link open, waiting for `Asterisk Call Manager/x.y.z`.
    AwaitBanner,
    /// `Challenge` sent (MD5 login).
    AwaitChallenge,
    /// `Login` sent.
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Connection {
    /// The banner came (or a message without one, from a proxy): log in.
    pub(super) fn on_banner(&mut self, now: Timestamp) -> Result<(), ConnectionError> {
        if self.login.phase != LoginPhase::AwaitBanner {
            return Ok(());
        }
        let id = self.login.forced_id.take().unwrap_or_else(|| self.ids.next());
        let action = match self.cfg.auth {
            AuthMethod::Md5 => {
                self.login.phase = LoginPhase::AwaitChallenge;
                Action::new("Challenge").header("AuthType", "MD5")
            }
            AuthMethod::Plain => {
                self.login.phase = LoginPhase::AwaitLogin;
                Action::new("Login")
                    .header("Username", &self.cfg.username)
                    .header("Secret", self.cfg.secret.expose())
                    .header_opt("Events", self.cfg.events.as_deref())
            }
        };
        self.send_login(now, action, id)
    }

    fn send_login(&mut self, now: Timestamp, action: Action, id: String) -> Result<(), ConnectionError> {
        self.login.action_id = Some(id.clone());
        self.timers.set(Timer::Login, now + self.cfg.request_timeout);
        self.send(&action, &id, None).map_err(ConnectionError::LoginNotSent)
    }

    /// The answer to the Challenge or the Login.
    pub(super) fn on_login_response(&mut self, now: Timestamp, r: Response) -> Result<(), ConnectionError> {
        self.login.action_id = None;
        match self.login.phase {
            LoginPhase::AwaitChallenge if r.success && r.challenge().is_none() => {
                self.timers.stop(Timer::Login);
                self.login.phase = LoginPhase::Down;
                let message = "Asterisk answered the MD5 Challenge without a challenge to sign; log in with the plain method".into();
                Err(ConnectionError::LoginRejected { username: self.cfg.username.clone(), message })
            }
            LoginPhase::AwaitChallenge if r.success => {
                use md5::{Digest, Md5};
                let mut h = Md5::new();
                h.update(r.challenge().unwrap_or_default());
                h.update(self.cfg.secret.expose().as_bytes());
                let action = Action::new("Login")
                    .header("AuthType", "MD5")
                    .header("Username", &self.cfg.username)
                    .header("Key", hex(&h.finalize()))
                    .header_opt("Events", self.cfg.events.as_deref());
                self.login.phase = LoginPhase::AwaitLogin;
                let id = self.ids.next();
                self.send_login(now, action, id)
            }
            LoginPhase::AwaitLogin if r.success => {
                self.logged_in(now);
                Ok(())
            }
            _ => {
                self.timers.stop(Timer::Login);
                self.login.phase = LoginPhase::Down;
                let message = r.message.unwrap_or_else(|| "login failed".into());
                Err(ConnectionError::LoginRejected { username: self.cfg.username.clone(), message })
            }
        }
    }

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
