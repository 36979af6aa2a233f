//! TLS rejections against a local TLS acceptor (no sandbox): a certificate from an
//! unknown authority, and one for another host name. Each ends the attempt with a
//! reason that says which, and nothing is sent in the clear.

use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::{ConnectionState, ParkingStore};
use ami_parking_transport::{Client, ClientOptions};
use futures_util::StreamExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A CA and a server certificate for `localhost` only (made with openssl).
fn certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
    ]);
    std::fs::write(
        dir.join("srv.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "srv.ext",
        "-out",
        "srv.pem",
    ]);
}

/// A TLS acceptor that would speak AMI after the handshake (it never gets there).
async fn acceptor(dir: &Path) -> String {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<_> =
        CertificateDer::pem_file_iter(dir.join("srv.pem")).unwrap().map(|c| c.unwrap()).collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("srv.key")).unwrap();
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let cfg = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let a = acceptor.clone();
            tokio::spawn(async move {
                let _ = a.accept(s).await;
            });
        }
    });
    addr
}

async fn first_failure(url: String, ca: Option<&Path>) -> String {
    let mut o = ClientOptions::new(url.parse().unwrap());
    o.tls_ca_file = ca.map(Path::to_path_buf);
    let c = Client::connect_with_store(o, ParkingStore::default());
    let mut states = c.connection_state().to_stream();
    let why = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(s) = states.next().await {
            if let ConnectionState::Reconnecting { last_error, .. } = s {
                return last_error;
            }
        }
        panic!("no failure reported");
    })
    .await
    .expect("a failure within 10 s");
    c.shutdown().await;
    why
}

#[tokio::test]
async fn an_unknown_authority_and_a_wrong_host_name_are_refused() {
    let dir = std::env::temp_dir().join(format!("ami-parking-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let addr = acceptor(&dir).await;
    let port = addr.rsplit(':').next().unwrap().to_owned();

    // No CA given: the system roots do not know this authority.
    let why = first_failure(format!("tls://amiuser:secret@localhost:{port}"), None).await;
    assert!(why.contains("TLS handshake with localhost failed") && why.contains("UnknownIssuer"), "{why}");
    // The CA given, but the certificate is for localhost, not 127.0.0.1.
    let why =
        first_failure(format!("tls://amiuser:secret@127.0.0.1:{port}"), Some(&dir.join("ca.pem"))).await;
    assert!(
        why.contains("TLS handshake with 127.0.0.1 failed")
            && why.contains("certificate not valid for name \"127.0.0.1\""),
        "{why}"
    );
    assert!(!why.contains("secret"), "{why}");
    // The CA given and the right name: the handshake passes (the acceptor then says nothing).
    let mut o = ClientOptions::new(format!("tls://amiuser:secret@localhost:{port}").parse().unwrap());
    o.tls_ca_file = Some(dir.join("ca.pem"));
    o.connect_timeout = Duration::from_secs(5);
    let c = Client::connect_with_store(o, ParkingStore::default());
    let mut states = c.connection_state().to_stream();
    let reached = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(s) = states.next().await {
            if s == ConnectionState::LoggingIn {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(reached, Ok(true), "past the handshake, waiting for the banner");
    c.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
