//! `nats://` endpoints (feature `nats`): a store fed by a collector over NATS instead
//! of an AMI link, and the protocol both sides share ([`protocol`]).
//!
//! `nats://[user[:password]@]host[:4222]/TENANT/SERVER[?also=HOST:PORT,...][&tls=1][&password_file=PATH]`:
//! - `TENANT/SERVER`: whose parking state (`parking.TENANT.SERVER.*`);
//! - `also`: more NATS servers of the cluster to try (the client also learns the
//!   cluster's other members from the server it reaches);
//! - `tls=1`: TLS to NATS is required (extra CA: [`ClientOptions::tls_ca_file`](crate::ClientOptions::tls_ca_file));
//! - the password comes from the URL, `password_file` (the file's first line), or
//!   `NATS_PASSWORD`; it never appears in logs, errors or Debug output.
//!
//! The link's store takes the collector's snapshot, then the events numbered after
//! it; a gap, a newer epoch (another collector took over) or a malformed message makes
//! it take a new snapshot. Park, retrieve and move go to the collector as NATS
//! requests; the lot and call lists are answered from the store.
//!
//! For a program that passes a server's traffic on (the bridge): with
//! [`ClientOptions::forward_events`](crate::ClientOptions::forward_events) the link
//! reports every event it applies on [`Client::messages`](crate::Client::messages),
//! numbered, and each snapshot it takes as amiws reports a login (`Response:
//! Success`, `Message: Authentication accepted`, no ActionID: see
//! [`is_snapshot_announcement`]), so that the program's clients list again; a
//! [`Request::Forward`](ami_parking::Request::Forward) of the parking set (`Ping`,
//! `Parkinglots`, `ParkedCalls`, `Park`, `Originate` as a retrieve) is answered in
//! AMI form, as Asterisk answers it.

mod forward;
pub(crate) mod link;
pub mod protocol;

pub use protocol::{
    check_name, lot_token, ActionReply, ActionRequest, CallData, Kind, LotData, ProtocolError, RetrieverData,
    Snapshot, Subjects,
};

use crate::endpoint::Endpoint;
use ami_parking::Message;
use ami_parking::Secret;
use std::path::PathBuf;
use std::time::Duration;

/// Where a `nats://` endpoint points: the NATS servers, credentials, and whose
/// subjects. `Debug` never shows the password.
#[derive(Clone)]
pub struct NatsTarget {
    /// `host:port` of every NATS server to try, the URL's first.
    pub servers: Vec<String>,
    /// The NATS user (empty: none).
    pub user: String,
    /// The password, when the URL has one (a frontend's link also takes its
    /// [`ClientOptions::secret`](crate::ClientOptions::secret)).
    pub password: Option<Secret>,
    /// A file whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// TLS required.
    pub tls: bool,
    /// The tenant.
    pub tenant: String,
    /// The server (one Asterisk).
    pub server: String,
    /// Its subjects.
    pub subjects: Subjects,
}

impl std::fmt::Debug for NatsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsTarget")
            .field("servers", &self.servers)
            .field("user", &self.user)
            .field("tls", &self.tls)
            .field("tenant", &self.tenant)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Why NATS cannot be reached as asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The URL is not one this module reads.
    #[error("{0}")]
    Url(String),
    /// The password file cannot be read.
    #[error("cannot read the NATS password file {path}: {reason}")]
    PasswordFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The client could not be set up.
    #[error("cannot connect to NATS at {servers}: {reason}")]
    Connect {
        /// Where.
        servers: String,
        /// Why.
        reason: String,
    },
}

impl NatsTarget {
    /// Reads a parsed `nats://` endpoint (for [`Endpoint`]'s parser and the collector).
    pub fn of(e: &Endpoint) -> Result<Self, NatsError> {
        let url = crate::nats_url::read(&e.path, &e.to_string(), crate::endpoint::percent_decode)
            .map_err(NatsError::Url)?;
        let subjects = protocol::Subjects::new(&url.tenant, &url.server)
            .map_err(|err| NatsError::Url(format!("{e}: {err}")))?;
        let mut servers = vec![format!("{}:{}", bracket(&e.host), e.port)];
        servers.extend(url.also);
        Ok(NatsTarget {
            servers,
            user: e.username.clone(),
            password: e.secret.clone(),
            password_file: url.password_file,
            tls: url.tls,
            tenant: url.tenant,
            server: url.server,
            subjects,
        })
    }

    /// Connects (the client keeps reconnecting in the background, to any of
    /// `servers`), with `ca_file` as an extra CA for TLS and `name` as the connection's
    /// name in the server's monitoring.
    pub async fn connect(
        &self,
        ca_file: Option<PathBuf>,
        name: &str,
    ) -> Result<async_nats::Client, NatsError> {
        let mut o = async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .ping_interval(Duration::from_secs(2))
            .max_reconnects(None)
            .reconnect_delay_callback(|attempt| Duration::from_millis((100 * attempt as u64).min(1000)))
            // Replies come to the tenant's own inboxes, so NATS permissions can keep a
            // tenant's users off the others' replies (see docs/nats.md).
            .custom_inbox_prefix(format!("_INBOX_{}", self.tenant));
        if self.user.is_empty() && (self.password_file.is_some() || self.password.is_some()) {
            // NATS logs in with a user and its password: one alone would be dropped.
            return Err(NatsError::Connect {
                servers: self.servers.join(","),
                reason: "a NATS password was given but no user: write it as nats://USER@HOST/...".into(),
            });
        }
        if !self.user.is_empty() {
            let password = match (&self.password_file, &self.password) {
                (Some(path), _) => read_password(path)?,
                (None, Some(p)) => p.expose().to_owned(),
                (None, None) => std::env::var("NATS_PASSWORD").unwrap_or_default(),
            };
            o = o.user_and_password(self.user.clone(), password);
        }
        if self.tls {
            o = o.require_tls(true);
            if let Some(ca) = ca_file {
                o = o.add_root_certificates(ca);
            }
        }
        let addrs: Vec<async_nats::ServerAddr> = self
            .servers
            .iter()
            .map(|s| format!("nats://{s}").parse::<async_nats::ServerAddr>())
            .collect::<Result<_, _>>()
            .map_err(|e| {
                NatsError::Url(format!("a NATS server address in {:?} is invalid: {e}", self.servers))
            })?;
        o.connect(addrs)
            .await
            .map_err(|e| NatsError::Connect { servers: self.servers.join(","), reason: e.to_string() })
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

fn read_password(path: &std::path::Path) -> Result<String, NatsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| NatsError::PasswordFile { path: path.display().to_string(), reason: e.to_string() })?;
    Ok(text.lines().next().unwrap_or("").trim_end().to_owned())
}

/// The message a `nats://` link reports on [`Client::messages`](crate::Client::messages)
/// when it took a snapshot: amiws's announcement of a login.
pub fn snapshot_announcement() -> Message {
    let mut m = Message::new();
    m.push(b"Response", b"Success");
    m.push(b"Message", b"Authentication accepted");
    m
}

/// Whether `m` is a [`snapshot_announcement`] (a program passing messages on tells its
/// clients to list again).
pub fn is_snapshot_announcement(m: &Message) -> bool {
    m.is("Response", "Success") && m.is("Message", "Authentication accepted") && m.get("ActionID").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nats_url_reads_tenant_server_and_cluster() {
        let e: Endpoint =
            "nats://u:pw@127.0.0.1:4300/acme/pbx-1?also=127.0.0.1:4301,127.0.0.1:4302&tls=1".parse().unwrap();
        let t = NatsTarget::of(&e).unwrap();
        assert_eq!(t.servers, ["127.0.0.1:4300", "127.0.0.1:4301", "127.0.0.1:4302"]);
        assert_eq!(
            (t.tenant.as_str(), t.server.as_str(), t.tls, t.user.as_str()),
            ("acme", "pbx-1", true, "u")
        );
        assert!(!format!("{t:?} {e:?} {e}").contains("pw"));
    }

    #[test]
    fn a_nats_url_without_names_or_with_bad_ones_is_refused_with_a_hint() {
        for url in
            ["nats://127.0.0.1", "nats://h/acme", "nats://h/a.b/c", "nats://h/a/b/c", "nats://h/a/b?x=1"]
        {
            let err = url.parse::<Endpoint>().unwrap_err().to_string();
            assert!(
                err.contains("TENANT/SERVER")
                    || err.contains("subject")
                    || err.contains("letters")
                    || err.contains("unknown parameter"),
                "{url}: {err}"
            );
        }
    }
}
