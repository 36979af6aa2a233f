//! The raw AMI link's login (feature `raw-ami`): the banner, then `Login` with the
//! secret, or `Challenge` then `Login` with `md5(challenge + secret)`.

use super::config::AuthMethod;
use super::login::LoginPhase;
use super::timers::Timer;
use super::Connection;
use crate::error::ConnectionError;
use crate::time::Timestamp;
use crate::wire::inbound::Response;
use crate::wire::Action;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The start every AMI banner has (`Asterisk Call Manager/11.0.0`; AstManProxy's
/// is `Asterisk Call Manager Proxy/...`).
const AMI_BANNER: &[u8] = b"Asterisk Call Manager";

impl Connection {
    /// A first line that is not a header came: Asterisk's banner, then the login; or
    /// another server's greeting (`SSH-2.0-...`, an SMTP or FTP banner), refused
    /// with nothing sent (found by a review: the secret went to an SSH server).
    pub(super) fn on_banner_line(&mut self, now: Timestamp, line: &[u8]) -> Result<(), ConnectionError> {
        let ami = line.len() >= AMI_BANNER.len() && line[..AMI_BANNER.len()].eq_ignore_ascii_case(AMI_BANNER);
        if !ami && self.login.phase == LoginPhase::AwaitBanner {
            self.login.phase = LoginPhase::Down;
            let first_line = String::from_utf8_lossy(line).chars().take(80).collect();
            return Err(ConnectionError::NotAmi { first_line });
        }
        self.on_banner(now)
    }

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
}
