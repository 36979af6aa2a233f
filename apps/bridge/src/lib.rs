//! # ami-ws-bridge
//!
//! A WebSocket server in front of one or more Asterisk AMI connections that speaks
//! amiws's frame format (`{"type", "server_id", "server_name", "ssl", "data"}`; actions
//! as JSON objects with an optional `AMIServerID`), so the TypeScript original, amiws
//! dashboards and `ami-parking`'s own `ws://` transport work with it unchanged, without
//! amiws's flaws:
//! - every frame is valid JSON and valid UTF-8 (lossy where Asterisk's bytes are not);
//! - a token is required (`Authorization: Bearer T` or `?token=T`) unless `no_auth`;
//!   tokens are never logged;
//! - an allowlist of actions, refused with an error frame; by default the parking set,
//!   and `Originate` only as a retrieve (`Application: ParkedCall`);
//! - a reply goes only to the client whose action it answers; events go to everyone;
//! - `AMIServerID` honoured, an unknown one answered with an error;
//! - a per-client rate limit and a bounded queue: a slow client is cut off (close code
//!   1008), never slowing the others;
//! - each upstream is the transport's AMI client: MD5 login within a deadline, a
//!   keep-alive whose answer is checked, a write deadline, a bounded queue (an action
//!   that finds it full is answered with an error at once), reconnect with backoff;
//!   every pending action is answered (its reply, or an error frame) within the
//!   request timeout; each login announced like amiws does, so clients resync.
//!
//! Rooms: `frames` (JSON out), `policy` (tokens, allowlist, rate), `hub` (clients and
//! routing), `upstream` (one AMI client per server), `session` (one WebSocket client).

#![forbid(unsafe_code)]

mod frames;
mod hub;
pub mod policy;
mod session;
mod upstream;

pub use hub::Hub;
pub use policy::Tokens;

use ami_parking_transport::{BoxIo, Endpoint};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What the bridge does.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Asterisk servers (`tcp://` or `tls://`), `AMIServerID` 1, 2, ... in order.
    pub upstreams: Vec<Endpoint>,
    /// Extra CA certificates for `tls://` upstreams.
    pub ca_file: Option<PathBuf>,
    /// Accepted tokens.
    pub tokens: Tokens,
    /// Accept clients without a token.
    pub no_auth: bool,
    /// Allowed actions (`Originate` only as a retrieve unless `Originate*` is listed).
    pub allow: BTreeSet<String>,
    /// Actions a second per client, and its burst.
    pub rate: (u32, u32),
    /// Frames queued per client before it is cut off.
    pub queue: usize,
    /// TLS for the listener.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl Config {
    /// The defaults: the parking set, 20 actions/s (bursts of 40), 4096 queued frames.
    pub fn new(upstreams: Vec<Endpoint>, tokens: Tokens) -> Self {
        Config {
            upstreams,
            ca_file: None,
            tokens,
            no_auth: false,
            allow: policy::DEFAULT_ALLOW.iter().map(|s| s.to_string()).collect(),
            rate: policy::DEFAULT_RATE,
            queue: 4096,
            tls: None,
        }
    }
}

/// Starts the upstream links (on the current tokio runtime); the hub the listener serves.
pub fn start_upstreams(cfg: &Config) -> Arc<Hub> {
    let mut ups = Vec::new();
    let mut streams = Vec::new();
    for (i, ep) in cfg.upstreams.iter().enumerate() {
        let client = upstream::connect(i as u32 + 1, ep.clone(), cfg.ca_file.clone());
        // Subscribed before the first login: no event of it is missed.
        streams.push(client.messages());
        ups.push(hub::Upstream {
            name: format!("{}:{}", ep.host, ep.port),
            client,
            logged_in: AtomicBool::new(false),
        });
    }
    let hub = Arc::new(Hub::new(ups));
    for (i, messages) in streams.into_iter().enumerate() {
        tokio::spawn(upstream::run(hub.clone(), i as u32 + 1, messages));
    }
    hub
}

/// Serves WebSocket clients on `listener` for ever.
pub async fn serve(listener: TcpListener, hub: Arc<Hub>, cfg: Config) -> std::io::Result<()> {
    if !cfg.no_auth && cfg.tokens.is_empty() {
        return Err(std::io::Error::other("no token configured: give --token / --token-file, or --no-auth"));
    }
    let cfg = Arc::new(cfg);
    let tls = cfg.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (sock, peer) = listener.accept().await?;
        let _ = sock.set_nodelay(true);
        let (hub, cfg, tls) = (hub.clone(), cfg.clone(), tls.clone());
        tokio::spawn(async move {
            let io: BoxIo = match tls {
                None => Box::new(sock),
                Some(acceptor) => {
                    match tokio::time::timeout(policy::HANDSHAKE_TIMEOUT, acceptor.accept(sock)).await {
                        Ok(Ok(s)) => Box::new(s),
                        _ => return,
                    }
                }
            };
            session::run(io, peer, hub, cfg).await;
        });
    }
}

/// Reads a TLS certificate chain and key (PEM) into a server configuration.
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<tokio_rustls::rustls::ServerConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read the key {}: {e}", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let cfg = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not fit: {e}"))?;
    Ok(Arc::new(cfg))
}
