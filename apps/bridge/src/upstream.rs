//! One task per upstream Asterisk: connect (tcp:// or tls://), log in, pass every
//! message to the hub and every queued action up; reconnect with backoff. Each
//! successful login is announced to the clients as amiws announces one
//! (`Response: Success`, `Message: Authentication accepted`, no ActionID), so they
//! resync that server.

use crate::frames;
use crate::hub::Hub;
use ami_parking::ami_codec::{encode_action, Decoded, Decoder};
use ami_parking::amiws::FrameType;
use ami_parking::{Action, Backoff, Message};
use ami_parking_transport::{connect_ami, Endpoint};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Runs upstream `server` (1-based) for ever.
pub(crate) async fn run(
    hub: Arc<Hub>,
    server: u32,
    endpoint: Endpoint,
    ca_file: Option<PathBuf>,
    mut actions: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let backoff = Backoff::default();
    let mut attempt = 0u32;
    loop {
        let why = session(&hub, server, &endpoint, ca_file.as_deref(), &mut actions).await;
        let up = &hub.upstreams[(server - 1) as usize];
        if up.logged_in.swap(false, Ordering::Relaxed) {
            attempt = 0;
        }
        attempt += 1;
        eprintln!("ami-ws-bridge: server {server} ({endpoint}): {why}; retrying");
        let delay = backoff.delay(attempt, rand::random::<f64>());
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        // Actions meanwhile are dropped: their clients got an error when sent.
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                a = actions.recv() => if a.is_none() { return },
            }
        }
    }
}

async fn session(
    hub: &Hub,
    server: u32,
    endpoint: &Endpoint,
    ca_file: Option<&std::path::Path>,
    actions: &mut mpsc::UnboundedReceiver<Vec<u8>>,
) -> String {
    let io = match tokio::time::timeout(Duration::from_secs(10), connect_ami(endpoint, ca_file)).await {
        Ok(Ok(io)) => io,
        Ok(Err(e)) => return e,
        Err(_) => return "no connection within 10 s".into(),
    };
    let (mut r, mut w) = tokio::io::split(io);
    let secret = endpoint
        .secret
        .as_ref()
        .map(|s| s.expose().to_owned())
        .or_else(|| std::env::var("AMI_SECRET").ok())
        .unwrap_or_default();
    let login = Action::new("Login")
        .header("ActionID", "amiwsb-login")
        .header("Username", &endpoint.username)
        .header("Secret", secret);
    let mut out = Vec::new();
    if encode_action(&login, &mut out).is_err() {
        return "the username or secret cannot be sent (line break)".into();
    }
    if let Err(e) = w.write_all(&out).await {
        return format!("write failed: {e}");
    }
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut keepalive = tokio::time::interval(Duration::from_secs(30));
    keepalive.tick().await;
    loop {
        tokio::select! {
            n = r.read(&mut buf) => {
                let n = match n {
                    Ok(0) => return "Asterisk closed the connection".into(),
                    Ok(n) => n,
                    Err(e) => return format!("read failed: {e}"),
                };
                let mut failed = None;
                let result = decoder.decode(&buf[..n], |d| {
                    if let Decoded::Message(raw) = d {
                        let msg = raw.to_message();
                        if msg.get("ActionID") == Some(b"amiwsb-login") {
                            failed = on_login(hub, server, &msg);
                        } else if msg.get("ActionID") != Some(b"amiwsb-ping") {
                            hub.deliver(server, &msg);
                        }
                    }
                });
                if let Err(e) = result {
                    return format!("unreadable AMI stream: {e}");
                }
                if let Some(why) = failed {
                    return why;
                }
            }
            a = actions.recv() => match a {
                Some(bytes) => if let Err(e) = w.write_all(&bytes).await { return format!("write failed: {e}") },
                None => return "the bridge is stopping".into(),
            },
            _ = keepalive.tick() => {
                if let Err(e) = w.write_all(b"Action: Ping\r\nActionID: amiwsb-ping\r\n\r\n").await {
                    return format!("write failed: {e}");
                }
            }
        }
    }
}

/// The login's answer: logged in (announced to every client), or why not.
fn on_login(hub: &Hub, server: u32, msg: &Message) -> Option<String> {
    if !msg.is("Response", "Success") {
        let why = msg.get_str("Message").unwrap_or_default().into_owned();
        return Some(format!("login refused: {why}"));
    }
    let up = &hub.upstreams[(server - 1) as usize];
    up.logged_in.store(true, Ordering::Relaxed);
    eprintln!("ami-ws-bridge: server {server} ({}) logged in", up.name);
    let mut m = Message::new();
    m.push(b"Response", b"Success");
    m.push(b"Message", b"Authentication accepted");
    hub.broadcast(frames::frame(FrameType::Response, server, &up.name, &m).into());
    None
}
