//! One transport [`Client`] per upstream Asterisk (tcp:// or tls://): it logs in
//! (MD5: the secret never crosses the wire, within the login deadline), keeps the
//! link alive with a Ping whose answer is checked, gives up a write that does not
//! finish within the request timeout (an Asterisk that stopped reading), queues at
//! most a bounded number of actions, and reconnects with the shared backoff policy.
//!
//! Here: every message of the server that answers no client's action goes to every
//! client, and each successful login is announced to the clients as amiws announces
//! one (`Response: Success`, `Message: Authentication accepted`, no ActionID), so
//! they resync that server. A client's own action goes up as a
//! [`Request::Forward`](ami_parking::Request::Forward) (see `session`).

use crate::frames;
use crate::hub::Hub;
use ami_parking::amiws::FrameType;
use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::{AuthMethod, ConnectionState, Message, ParkingError, ParkingOptions, ParkingStore};
use ami_parking_transport::{Client, ClientOptions, Endpoint, MessageStream};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The link to upstream `server` (1-based) at `endpoint`, started now.
pub(crate) fn connect(server: u32, endpoint: Endpoint, ca_file: Option<PathBuf>) -> Client {
    let mut o = ClientOptions::new(endpoint);
    o.auth = AuthMethod::Md5;
    o.server_id = server;
    o.forward_events = true;
    o.tls_ca_file = ca_file;
    // The bridge keeps no parking state of its own: its clients do.
    let store = ParkingStore::new(ParkingOptions::default().auto_refresh(false));
    Client::connect_with_store(o, store)
}

/// Runs upstream `server` (1-based) until its client stops: its messages to every
/// client (`messages` subscribed before the first login), its logins announced.
pub(crate) async fn run(hub: Arc<Hub>, server: u32, mut messages: MessageStream) {
    let up = &hub.upstreams[(server - 1) as usize];
    let mut states = up.client.connection_state().to_stream();
    let mut lost = 0;
    loop {
        tokio::select! {
            m = messages.next() => match m {
                Some((_, m)) => hub.deliver(server, &m),
                None => return,
            },
            s = states.next() => match s {
                Some(s) => on_state(&hub, server, s),
                None => return,
            },
        }
        if messages.lost() != lost {
            eprintln!(
                "ami-ws-bridge: server {server} ({}): {} messages not passed on (the bridge fell behind)",
                up.name,
                messages.lost() - lost
            );
            lost = messages.lost();
        }
    }
}

/// The link's state changed: a login is announced to every client; a lost link is
/// logged (its clients' pending actions are answered with errors by the transport).
fn on_state(hub: &Hub, server: u32, state: ConnectionState) {
    let up = &hub.upstreams[(server - 1) as usize];
    let endpoint = up.client.endpoint();
    match state {
        ConnectionState::LoggedIn => {
            if !up.logged_in.swap(true, Ordering::Relaxed) {
                eprintln!("ami-ws-bridge: server {server} ({endpoint}) logged in");
                hub.broadcast(login_frame(server, &up.name).into());
            }
        }
        other => {
            up.logged_in.store(false, Ordering::Relaxed);
            if let ConnectionState::Reconnecting { attempt, last_error } = other {
                eprintln!(
                    "ami-ws-bridge: server {server} ({endpoint}): {last_error}; retrying (attempt {attempt})"
                );
            }
        }
    }
}

/// amiws's announcement of a login to server `server`.
pub(crate) fn login_frame(server: u32, name: &str) -> String {
    let mut m = Message::new();
    m.push(b"Response", b"Success");
    m.push(b"Message", b"Authentication accepted");
    frames::frame(FrameType::Response, server, name, &m)
}

/// What a client reads when its action for server `server` (`name`) failed: what
/// happened, and so what to do.
pub(crate) fn error_text(server: u32, name: &str, e: &ParkingError) -> String {
    match e {
        ParkingError::NotLoggedIn { .. } => format!("server {server} ({name}) is not connected"),
        ParkingError::Stopped { .. } => {
            format!("server {server} ({name}) is not connected: the bridge is stopping")
        }
        e => format!("server {server} ({name}): {e}"),
    }
}
