//! The board over https (a certificate made with openssl for this test): the login
//! cookie is `Secure`, HSTS is sent, the own origin is `https://`, and clients that
//! fail their handshake (plain HTTP on the TLS port, a silent socket) do not stop it.

use ami_parking::ParkingStore;
use ami_parking_tests::recorder::RecordingAmi;
use ami_parking_transport::{Client, ClientOptions};
use parkboard::guard::Access;
use parkboard::state::Board;
use parkboard::tls::{server_config, TlsListener};
use parkboard::users::{hash_password, Role, User, Users};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

const DEADLINE: Duration = Duration::from_secs(15);

/// A self-signed certificate for 127.0.0.1 in `dir` (cert.pem, key.pem).
fn certificate(dir: &Path) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"])
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// One request over TLS trusting only `cert`; the answer's head.
async fn https(addr: std::net::SocketAddr, cert: &Path, request: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(cert).unwrap()).unwrap();
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("127.0.0.1").unwrap().to_owned(), tcp)
        .await
        .expect("handshake");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, tls.read_to_end(&mut out)).await.expect("an answer in time");
    let text = String::from_utf8_lossy(&out).to_string();
    text.split("\r\n\r\n").next().unwrap_or_default().to_string()
}

/// A board over TLS on a loopback port, linked to a recording AMI, with `users`
/// (`handshakes`: its cap of handshake places, the listener's default when `None`).
/// Returns its address, the directory of its certificate (`cert.pem`, removed by
/// the caller) and the AMI (kept alive with it).
async fn tls_board(
    name: &str,
    users: Users,
    handshakes: Option<usize>,
) -> (std::net::SocketAddr, std::path::PathBuf, RecordingAmi) {
    let dir = std::env::temp_dir().join(format!("parkboard-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    certificate(&dir);
    let ami = RecordingAmi::start().await;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let config = server_config(&dir.join("cert.pem"), &dir.join("key.pem")).unwrap();
    let listener = match handshakes {
        Some(n) => TlsListener::with_handshakes(tcp, config, n),
        None => TlsListener::new(tcp, config),
    }
    .unwrap();
    let client =
        Client::connect_all(vec![ClientOptions::new(ami.url().parse().unwrap())], ParkingStore::default())
            .unwrap();
    let board = Board::new(client, users, Access::new(addr, true, &[], &[]), Duration::from_secs(600));
    let app = parkboard::web::router(board);
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<parkboard::peer::Peer>())
            .await
            .unwrap();
    });
    (addr, dir, ami)
}

#[tokio::test]
async fn under_tls_the_cookie_is_secure_and_broken_handshakes_do_no_harm() {
    let users = Users::new(vec![User::new(
        "wall".into(),
        &hash_password("wallboard-pw").unwrap(),
        Role::Viewer,
        None,
        None,
    )
    .unwrap()]);
    let (addr, dir, _ami) = tls_board("tls", users, None).await;

    // Plain HTTP on the TLS port, and a socket that never speaks: the board goes on.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let _silent = tokio::net::TcpStream::connect(addr).await.unwrap();

    let body = "user=wall&password=wallboard-pw";
    let login = format!(
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://{addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let head = https(addr, &dir.join("cert.pem"), &login).await;
    assert!(head.starts_with("HTTP/1.1 303"), "{head}");
    let cookie = head.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).expect("a cookie");
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // Under TLS the cookie is `__Host-` (a sibling site cannot plant one), and the
    // plain name carries no session.
    let token = cookie
        .split_once(':')
        .and_then(|(_, v)| v.trim().strip_prefix("__Host-parkboard_session="))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("a __Host- session cookie: {cookie}"));
    assert!(cookie.contains("; Path=/;") && !cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    let page = |name: &str| {
        format!("GET / HTTP/1.1\r\nHost: {addr}\r\nCookie: {name}={token}\r\nConnection: close\r\n\r\n")
    };
    let head = https(addr, &dir.join("cert.pem"), &page("__Host-parkboard_session")).await;
    assert!(head.starts_with("HTTP/1.1 200"), "the session opens the board: {head}");
    let head = https(addr, &dir.join("cert.pem"), &page("parkboard_session")).await;
    assert!(head.starts_with("HTTP/1.1 303"), "the plain name is no session under TLS: {head}");
    assert!(head.to_ascii_lowercase().contains("strict-transport-security: max-age="), "{head}");
    // The own origin is https: the http one is foreign.
    let foreign = login.replace(&format!("Origin: https://{addr}"), &format!("Origin: http://{addr}"));
    let head = https(addr, &dir.join("cert.pem"), &foreign).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Silent sockets from one address holding every TLS handshake place cannot keep a
/// client of another address out: it takes a place from them and is answered long
/// before their handshakes would time out (found by an attacker's review: 1,300
/// reconnecting silent sockets kept every https client waiting). Eight places here
/// (`HANDSHAKES`, 256, in `parkboard`).
#[tokio::test]
async fn silent_sockets_holding_every_handshake_place_cannot_keep_a_client_out() {
    let (addr, dir, _ami) = tls_board("tls-fair", Users::default(), Some(8)).await;
    let mut silent = Vec::new();
    for _ in 0..20 {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind(std::net::SocketAddr::from(([127, 0, 0, 2], 0))).unwrap();
        silent.push(s.connect(addr).await.unwrap());
    }
    let started = std::time::Instant::now();
    let head = https(
        addr,
        &dir.join("cert.pem"),
        &format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 "), "{head}");
    let took = started.elapsed();
    assert!(
        took < parkboard::tls::HANDSHAKE,
        "a place was taken from the silent address, not waited for: {took:?}"
    );
    drop(silent);
    let _ = std::fs::remove_dir_all(&dir);
}
