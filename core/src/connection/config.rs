//! How a connection is set up: link kind, login, caps, deadlines. (Parking options
//! live in the store: [`crate::ParkingStore::new`].)

use crate::model::ServerId;
use crate::wire::ami_codec;
use std::fmt;
use std::time::Duration;

/// What the link carries. Non-exhaustive: `Ami` comes with the feature `raw-ami`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Raw AMI bytes (TCP or TLS to Asterisk). Feature `raw-ami` (on by default).
    #[cfg(feature = "raw-ami")]
    Ami,
    /// amiws JSON text frames (WebSocket to an amiws proxy, possibly several servers).
    Amiws,
}

impl Mode {
    /// Raw AMI: never, in a build without the feature `raw-ami`.
    pub(crate) const fn is_raw(self) -> bool {
        match self {
            #[cfg(feature = "raw-ami")]
            Mode::Ami => true,
            Mode::Amiws => false,
        }
    }
}

/// How to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// `Secret:` in the Login action.
    #[default]
    Plain,
    /// `Action: Challenge` then `Key: md5(challenge + secret)`: the secret never crosses the wire.
    Md5,
}

/// A secret that never shows in Debug or Display output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself (only for sending it).
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// True when no secret was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Configuration of one connection.
///
/// ```
/// use ami_parking::{ConnectionConfig, Mode};
/// assert_eq!(ConnectionConfig::amiws().mode, Mode::Amiws);
/// # #[cfg(feature = "raw-ami")] {
/// let cfg = ConnectionConfig::ami("amiuser", "amisecret"); // feature `raw-ami`
/// assert!(!format!("{cfg:?}").contains("amisecret"));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Raw AMI or amiws.
    pub mode: Mode,
    /// AMI user (raw AMI only; amiws logs in itself).
    pub username: String,
    /// AMI secret.
    pub secret: Secret,
    /// Plain or MD5 challenge login.
    pub auth: AuthMethod,
    /// `Events:` sent with Login (e.g. `call,system`); `None` sends none (all the user may read).
    pub events: Option<String>,
    /// Server id given to a raw AMI connection's server (default 1).
    pub server_id: ServerId,
    /// Deadline of every request (default 10 s).
    pub request_timeout: Duration,
    /// Keep-alive period: raw AMI sends an AMI `Ping` this often; behind amiws the
    /// core asks for a WebSocket ping ([`Connection::poll_ping`](crate::Connection::poll_ping))
    /// when the link has been quiet this long. Either way the link counts as dead when
    /// nothing answers within `request_timeout`. Zero = off (default 30 s; off for
    /// [`ConnectionConfig::amiws`], where the transport sets it).
    pub keepalive_interval: Duration,
    /// Cap on one server message (default 1 MiB; a cap under 64 bytes counts as 64).
    pub max_message_bytes: usize,
    /// Cap on the items one server may send in one list answer (default 100,000):
    /// past it the request fails for that server with
    /// [`ParkingError::ListTooLong`](crate::ParkingError::ListTooLong) and nothing more
    /// of it is kept.
    pub max_list_items: usize,
    /// Behind amiws: cap on the servers the connection keeps track of (default 64);
    /// frames of further `server_id`s are dropped (a hostile proxy could invent a new
    /// one per frame, each costing a resync).
    pub max_servers: usize,
    /// Distinguishes this client's ActionIDs from other clients' behind one amiws.
    /// `None` derives one from the time and a process-wide counter; the transport sets
    /// a random one.
    pub instance_id: Option<u64>,
    /// Also report every message that is not an answer of the connection's own
    /// (every event without an ActionID, every message with someone else's) as
    /// [`Output::Message`](crate::Output::Message), for a program that passes the
    /// server's traffic on (the WebSocket bridge). Parking events still update the
    /// store. Default off: then nothing is copied.
    pub forward_events: bool,
}

impl ConnectionConfig {
    /// Raw AMI with a plain login. Feature `raw-ami` (on by default).
    #[cfg(feature = "raw-ami")]
    pub fn ami(username: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            mode: Mode::Ami,
            username: username.into(),
            secret: Secret::new(secret),
            keepalive_interval: Duration::from_secs(30),
            ..Self::amiws()
        }
    }

    /// amiws (no login of our own).
    pub fn amiws() -> Self {
        Self {
            mode: Mode::Amiws,
            username: String::new(),
            secret: Secret::default(),
            auth: AuthMethod::Plain,
            events: None,
            server_id: 1,
            request_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::ZERO,
            max_message_bytes: ami_codec::DEFAULT_MAX_MESSAGE_BYTES,
            max_list_items: 100_000,
            max_servers: 64,
            instance_id: None,
            forward_events: false,
        }
    }
}
