//! # ami-ws-bridge
//!
//! A WebSocket server in front of one or more Asterisk AMI connections that speaks
//! amiws's frame format (`{"type", "server_id", "server_name", "ssl", "data"}`; actions
//! as JSON objects with an optional `AMIServerID`), so the TypeScript original, amiws
//! dashboards and `ami-parking`'s own `ws://` transport work with it unchanged, without
//! amiws's flaws:
//! - every frame is valid JSON and valid UTF-8 (lossy where Asterisk's bytes are not);
//! - a token is required (`Authorization: Bearer T` or `?token=T`) unless `no_auth`
//!   (loopback only); tokens are kept as digests, never logged, at least 16 bytes,
//!   each with a scope (role, lots, retrieve destinations), wrong ones throttled
//!   per address;
//! - an upgrade carrying an `Origin` passes only for listed, loopback (on a loopback
//!   listener) or its own web root's origins;
//! - strict action shapes: the parking set, each action with the headers it may
//!   carry and their forms; `Originate` only as a retrieve to an allowed
//!   destination; repeats, arrays, control characters refused with an error frame
//!   that names the header;
//! - only parking leaves the bridge (parking events for the client's lots,
//!   `FullyBooted`, `Shutdown`, answers to its own actions) unless `--events all`;
//! - a reply goes only to the client whose action it answers;
//! - `AMIServerID` honoured, an unknown or malformed one answered with an error;
//! - bounded cost: a cap on connections and on sockets still upgrading, accept
//!   errors survived, a rate limit per token, a bounded queue per client: a slow
//!   client is cut off (close code 1008), never slowing the others;
//! - each upstream is the transport's AMI client: MD5 login within a deadline, a
//!   keep-alive whose answer is checked, a write deadline, a bounded queue (an action
//!   that finds it full is answered with an error at once), reconnect with backoff;
//!   every pending action is answered (its reply, or an error frame) within the
//!   request timeout; each login announced like amiws does, so clients resync.
//!
//! Rooms: `frames` (JSON out), `client_frame` (JSON in, strictly), `policy` (what
//! an action may carry), `destinations` (where a retrieve may ring), `tokens` (who a
//! client is and its grant), `origin` (which pages may connect), `limits` (rates and
//! caps), `refusal` (why a frame is refused), `hub` (clients and routing),
//! `upstream` (one AMI client per server), `session` (one WebSocket client), `web`
//! (the web root), `config` (what the bridge does, checked before it starts).

#![forbid(unsafe_code)]

pub mod client_frame;
mod config;
pub mod destinations;
pub mod frames;
mod hub;
pub mod limits;
pub mod origin;
pub mod policy;
pub mod refusal;
mod session;
pub mod tokens;
mod upstream;
mod web;

pub use config::{Config, ConfigError, Events};
pub use hub::{Hub, MAX_FRAME_BYTES, QUEUE_BYTES};
pub use tokens::Tokens;

use ami_parking_transport::admission::Entered;
use ami_parking_transport::BoxIo;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Starts the upstream links (on the current tokio runtime): one client of every
/// upstream, `AMIServerID` 1, 2, ... in order; the hub the listener serves. Check
/// the configuration first ([`Config::check`]): nothing should connect upstream for a
/// bridge that will not start.
pub fn start_upstreams(cfg: &Config) -> Result<Arc<Hub>, ami_parking_transport::ServersError> {
    let client = upstream::connect(&cfg.upstreams, cfg.ca_file.clone())?;
    // Subscribed before the first login: no event of it is missed.
    let messages = client.messages();
    let ups = cfg
        .upstreams
        .iter()
        .enumerate()
        .map(|(i, ep)| hub::Upstream {
            source: frames::Source {
                id: i as u32 + 1,
                name: cfg.names.get(i).cloned().unwrap_or_else(|| format!("{}:{}", ep.host, ep.port)),
                ssl: ep.scheme.is_tls(),
            },
            logged_in: AtomicBool::new(false),
        })
        .collect();
    let hub = Arc::new(Hub::new(client, ups, cfg.events == Events::All));
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
/// [`shutdown_signal`](ami_parking_transport::shutdown_signal)); refuses to start on
/// a configuration that [`Config::check`] refuses. When stopped, it stops accepting,
/// closes every client with 1001 (going away) and logs off every upstream, each
/// step bounded by [`SHUTDOWN_STEP`] so a stuck peer cannot hold the exit.
pub async fn serve_until(
    listener: TcpListener,
    hub: Arc<Hub>,
    cfg: Config,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    cfg.check(local).map_err(std::io::Error::other)?;
    let ctx = Arc::new(session::Context::new(cfg, local));
    let tls = ctx.cfg.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    // Every session holds a receiver: `true` tells it to close; all dropped, all gone.
    let (stopping, _) = watch::channel(false);
    let connected = Arc::new(Semaphore::new(ctx.cfg.max_clients));
    let upgrading = ami_parking_transport::admission::FairPlaces::new(ctx.cfg.max_unauthenticated);
    let mut quiet = crate::limits::Quiet::default();
    tokio::pin!(stop);
    loop {
        let (sock, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, a connection reset before it was taken...:
                    // logged, and tried again after a short pause.
                    quiet.say(&format!("cannot accept a connection: {e}; retrying in {ACCEPT_BACKOFF:?}"));
                    tokio::select! {
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                        _ = &mut stop => break,
                    }
                }
            },
            _ = &mut stop => break,
        };
        let Ok(conn) = connected.clone().try_acquire_owned() else {
            quiet.say(&format!("{peer}: refused: {} clients connected (--max-clients)", ctx.cfg.max_clients));
            continue;
        };
        let per_address = limits::UNAUTHENTICATED_PER_ADDRESS;
        let Some(place) = ctx.limits.upgrading.enter(limits::address_key(peer.ip()), per_address) else {
            quiet.say(&format!(
                "{peer}: refused: {per_address} connections of this address are still upgrading"
            ));
            continue;
        };
        let pending = match upgrading.enter(peer.ip(), Instant::now()) {
            Entered::Free(t) => t,
            Entered::TookFrom(from, t) => {
                quiet.say(&format!(
                    "{peer}: {} connections are still upgrading (--max-unauthenticated): one of {from}, \
                     the address holding the most, was closed to make room",
                    ctx.cfg.max_unauthenticated
                ));
                t
            }
            Entered::Full => {
                quiet.say(&format!(
                    "{peer}: refused: {} connections are still upgrading (--max-unauthenticated), \
                     shared between addresses",
                    ctx.cfg.max_unauthenticated
                ));
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let (hub, ctx, tls, stopping) = (hub.clone(), ctx.clone(), tls.clone(), stopping.subscribe());
        tokio::spawn(async move {
            let io: BoxIo = match tls {
                None => Box::new(sock),
                Some(acceptor) => {
                    match tokio::time::timeout(limits::HANDSHAKE_TIMEOUT, acceptor.accept(sock)).await {
                        Ok(Ok(s)) => Box::new(s),
                        _ => return,
                    }
                }
            };
            session::run(io, peer, hub, ctx, stopping, (pending, place)).await;
            drop(conn);
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

/// How long the listener waits after an `accept()` error.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

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
