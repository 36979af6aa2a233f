//! Opening the byte stream: TCP, TLS over TCP, and the WebSocket handshake.

use crate::endpoint::{Endpoint, Scheme};
use crate::stream::BoxIo;
use crate::ws::{self, OpenError, WsReader, WsWriter};
use ami_parking::Secret;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;

/// An open link.
pub(crate) enum Link {
    /// Raw AMI bytes.
    Bytes(BoxIo),
    /// amiws frames.
    Ws(WsReader, WsWriter),
}

pub(crate) async fn open(
    ep: &Endpoint,
    ca_file: Option<&Path>,
    token: Option<&Secret>,
) -> Result<Link, OpenError> {
    if ep.scheme.is_nats() {
        return Err(format!("{ep} is a NATS endpoint, not an AMI link").into());
    }
    let tcp = TcpStream::connect((ep.host.as_str(), ep.port))
        .await
        .map_err(|e| format!("cannot connect to {}:{}: {e}", ep.host, ep.port))?;
    let _ = tcp.set_nodelay(true);
    let io: BoxIo = if ep.scheme.is_tls() {
        let connector = tls_connector(ca_file)?;
        let name = rustls_pki_types::ServerName::try_from(ep.host.clone())
            .map_err(|e| format!("invalid TLS server name {}: {e}", ep.host))?;
        Box::new(
            connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {} failed: {e}", ep.host))?,
        )
    } else {
        Box::new(tcp)
    };
    match ep.scheme {
        Scheme::Tcp | Scheme::Tls => Ok(Link::Bytes(io)),
        Scheme::Nats => Err(format!("{ep} is a NATS endpoint, not an AMI link").into()),
        Scheme::Ws | Scheme::Wss => {
            let (r, w) = ws::connect(io, &ep.host, ep.port, &ep.path, token).await?;
            Ok(Link::Ws(r, w))
        }
    }
}

/// Opens the raw AMI byte stream of a `tcp://` or `tls://` endpoint (TCP connect, then
/// the TLS handshake with the system's roots plus `ca_file`), for programs that speak
/// AMI themselves (the WebSocket bridge). Nothing is read or written yet: the banner
/// comes next. A `ws://` endpoint is refused.
pub async fn connect_ami(ep: &Endpoint, ca_file: Option<&Path>) -> Result<BoxIo, String> {
    if ep.scheme.is_websocket() {
        return Err(format!("{ep} is a WebSocket (amiws) endpoint, not raw AMI"));
    }
    match open(ep, ca_file, None).await.map_err(|e| e.message)? {
        Link::Bytes(io) => Ok(io),
        Link::Ws(..) => Err(format!("{ep} is a WebSocket (amiws) endpoint, not raw AMI")),
    }
}

fn tls_connector(ca_file: Option<&Path>) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
        for c in certs {
            let c = c.map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
            roots.add(c).map_err(|e| format!("unusable certificate in {}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
