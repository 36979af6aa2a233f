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
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

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

/// Starts the upstream links (on the current tokio runtime): one client of every
/// upstream, `AMIServerID` 1, 2, ... in order; the hub the listener serves.
pub fn start_upstreams(cfg: &Config) -> Result<Arc<Hub>, ami_parking_transport::ServersError> {
    let client = upstream::connect(&cfg.upstreams, cfg.ca_file.clone())?;
    // Subscribed before the first login: no event of it is missed.
    let messages = client.messages();
    let ups = cfg
        .upstreams
        .iter()
        .map(|ep| hub::Upstream {
            name: format!("{}:{}", ep.host, ep.port),
            logged_in: AtomicBool::new(false),
        })
        .collect();
    let hub = Arc::new(Hub::new(client, ups));
    tokio::spawn(upstream::pass_on(hub.clone(), messages));
    for server in 1..=cfg.upstreams.len() as u32 {
        tokio::spawn(upstream::follow(hub.clone(), server));
    }
    Ok(hub)
}

/// Serves WebSocket clients on `listener` for ever.
pub async fn serve(listener: TcpListener, hub: Arc<Hub>, cfg: Config) -> std::io::Result<()> {
    serve_until(listener, hub, cfg, std::future::pending()).await
}

/// How long each step of the shutdown may take: closing the clients, logging off
/// upstream (they run side by side, so the bridge is gone within about this).
pub const SHUTDOWN_STEP: Duration = Duration::from_secs(1);

/// Serves WebSocket clients on `listener` until `stop` resolves (e.g.
/// [`shutdown_signal`](ami_parking_transport::shutdown_signal)); then stops accepting,
/// closes every client with 1001 (going away) and logs off every upstream, each
/// step bounded by [`SHUTDOWN_STEP`] so a stuck peer cannot hold the exit.
pub async fn serve_until(
    listener: TcpListener,
    hub: Arc<Hub>,
    cfg: Config,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    if !cfg.no_auth && cfg.tokens.is_empty() {
        return Err(std::io::Error::other("no token configured: give --token / --token-file, or --no-auth"));
    }
    let cfg = Arc::new(cfg);
    let tls = cfg.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    // Every session holds a receiver: `true` tells it to close; all dropped, all gone.
    let (stopping, _) = watch::channel(false);
    tokio::pin!(stop);
    loop {
        let (sock, peer) = tokio::select! {
            a = listener.accept() => a?,
            _ = &mut stop => break,
        };
        let _ = sock.set_nodelay(true);
        let (hub, cfg, tls, stopping) = (hub.clone(), cfg.clone(), tls.clone(), stopping.subscribe());
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
            session::run(io, peer, hub, cfg, stopping).await;
        });
    }
    drop(listener);
    stopping.send_replace(true);
    let clients = async {
        if tokio::time::timeout(SHUTDOWN_STEP, stopping.closed()).await.is_err() {
            eprintln!("ami-ws-bridge: some clients did not close within {SHUTDOWN_STEP:?}");
        }
    };
    tokio::join!(clients, log_off(&hub));
    Ok(())
}

/// Logs off every upstream and closes the links (the transport's `shutdown`), within
/// [`SHUTDOWN_STEP`].
async fn log_off(hub: &Hub) {
    if !hub.client.shutdown_within(SHUTDOWN_STEP).await {
        eprintln!(
            "ami-ws-bridge: an upstream did not end its session within {SHUTDOWN_STEP:?} of the Logoff"
        );
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
