//! How to reach and talk to one Asterisk (or one amiws): [`ClientOptions`].

use crate::endpoint::Endpoint;
use ami_parking::{AuthMethod, Backoff, ConnectionConfig, Secret, ServerId};
use std::path::PathBuf;
use std::time::Duration;

/// How to reach and talk to one Asterisk (or one amiws).
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Where.
    pub endpoint: Endpoint,
    /// The secret when the URL has none (else `AMI_SECRET` is read). For a `nats://`
    /// endpoint: the NATS user's password when the URL has none (else its
    /// `password_file` or `NATS_PASSWORD`). For a `ws://` or `wss://` endpoint (an
    /// `ami-ws-bridge`): its token, sent as `Authorization: Bearer` in the upgrade, so
    /// it need not be in the URL (`?token=`), where a command line would show it
    /// (`AMI_SECRET` is not read for it).
    pub secret: Option<Secret>,
    /// Plain or MD5 login.
    pub auth: AuthMethod,
    /// Reconnect policy.
    pub reconnect: Backoff,
    /// Reconnect policy after Asterisk refused the login (default
    /// [`REFUSED_LOGIN`](ami_parking::REFUSED_LOGIN): one minute doubling to five, so
    /// fail2ban does not ban the host over a wrong secret).
    pub refused_login: Backoff,
    /// Deadline of each request.
    pub request_timeout: Duration,
    /// How long opening the link may take: TCP connect, TLS handshake and WebSocket
    /// upgrade together (default 10 s).
    pub connect_timeout: Duration,
    /// Keep-alive when idle: an AMI `Ping` (raw AMI) or a WebSocket ping (amiws),
    /// answered within `request_timeout` or the link counts as dead. Zero: off.
    pub keepalive: Duration,
    /// Extra CA certificates (PEM) for `tls://` and `wss://`.
    pub tls_ca_file: Option<PathBuf>,
    /// `Events:` filter sent at login.
    pub events: Option<String>,
    /// Report the server's messages that are not answers of this client's own on
    /// [`Client::messages`](crate::Client::messages) (default off: nothing is copied).
    pub forward_events: bool,
    /// How many messages a [`Client::messages`](crate::Client::messages) subscriber
    /// may fall behind before it loses the oldest (default
    /// [`MESSAGES_QUEUE`](crate::MESSAGES_QUEUE)). A client of several servers takes
    /// the first server's.
    pub messages_queue: usize,
}

impl ClientOptions {
    /// Options for `endpoint` with defaults.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            secret: None,
            auth: AuthMethod::Plain,
            reconnect: Backoff::default(),
            refused_login: ami_parking::REFUSED_LOGIN,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(30),
            tls_ca_file: None,
            events: None,
            forward_events: false,
            messages_queue: crate::MESSAGES_QUEUE,
        }
    }

    /// The raw AMI login's secret: the URL's, else [`ClientOptions::secret`], else
    /// `AMI_SECRET`'s; `None` when none of them has one.
    pub(crate) fn ami_secret(&self) -> Option<Secret> {
        self.endpoint
            .secret
            .clone()
            .or_else(|| self.secret.clone())
            .or_else(|| std::env::var("AMI_SECRET").ok().map(Secret::new))
    }

    /// The core's configuration for this link; `server_id` names a raw AMI server
    /// (amiws reports its own).
    pub(crate) fn connection_config(&self, server_id: ServerId) -> ConnectionConfig {
        let mut cfg = if self.endpoint.scheme.is_websocket() {
            ConnectionConfig::amiws()
        } else {
            let mut c = ConnectionConfig::ami(self.endpoint.username.clone(), "");
            c.secret = self.ami_secret().unwrap_or_default();
            c
        };
        cfg.keepalive_interval = self.keepalive;
        cfg.auth = self.auth;
        cfg.server_id = server_id;
        cfg.request_timeout = self.request_timeout;
        cfg.events = self.events.clone();
        cfg.instance_id = Some(rand::random());
        cfg.forward_events = self.forward_events;
        cfg
    }
}
