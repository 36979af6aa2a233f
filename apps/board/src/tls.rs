//! https for the page and wss for its socket: a TCP listener whose connections are
//! TLS handshakes done side by side (each bounded in time), so one slow or broken
//! client never holds up the others or ends the board.

use axum::serve::Listener;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::{rustls, TlsAcceptor};

/// How long a client has to finish its handshake.
pub const HANDSHAKE: Duration = Duration::from_secs(10);
/// Handshakes in progress at most, shared fairly between addresses: when all are
/// taken, a newcomer takes the place of a handshake of the address holding the most
/// (`ami_parking_transport::admission::FairPlaces`), so idle sockets from a few
/// addresses cannot keep a client out; past that, a newcomer is closed.
pub const HANDSHAKES: usize = 256;

/// The server's TLS settings from a PEM certificate chain and key; the error names
/// the file.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("tls.cert: cannot read {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.cert: {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("tls.cert: {} holds no certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("tls.key: cannot read a key from {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls: the certificate and key do not make a server identity: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener that hands axum finished TLS connections.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Accepts on `tcp` and handshakes with `config` in the background, at most
    /// [`HANDSHAKES`] at once.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<TlsListener> {
        Self::with_handshakes(tcp, config, HANDSHAKES)
    }

    /// [`TlsListener::new`] with at most `handshakes` at once (tests use a few).
    pub fn with_handshakes(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
        handshakes: usize,
    ) -> std::io::Result<TlsListener> {
        use ami_parking_transport::admission::{Entered, FairPlaces};
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(16);
        let acceptor = TlsAcceptor::from(config);
        let places = FairPlaces::new(handshakes);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of descriptors and the like: wait and go on, never end.
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let place = match places.enter(peer.ip(), std::time::Instant::now()) {
                    Entered::Free(p) | Entered::TookFrom(_, p) => p,
                    Entered::Full => {
                        tracing::debug!(%peer, "refused: {handshakes} TLS handshakes in progress, shared between addresses");
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(HANDSHAKE, acceptor.accept(stream));
                    let done = tokio::select! {
                        done = handshake => done,
                        _ = place.taken() => {
                            tracing::debug!(%peer, "TLS handshake closed to make room for another address");
                            return;
                        }
                    };
                    // The place is kept until the board takes the connection: a board
                    // that takes none holds at most so many finished handshakes.
                    let _place = place;
                    match done {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, ready })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accepting task ended (it never does while the listener lives).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
