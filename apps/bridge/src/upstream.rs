//! The upstream Asterisk servers (tcp:// or tls://) are one transport [`Client`] of
//! them all (`AMIServerID` 1, 2, ... in the order given, the client's one rule): each
//! link logs in (MD5: the secret never crosses the wire, within the login deadline),
//! keeps alive with a Ping whose answer is checked, gives up a write that does not
//! finish within the request timeout (an Asterisk that stopped reading), queues at
//! most a bounded number of actions, and reconnects with the shared backoff policy.
//!
//! Here: every message of the server that answers no client's action goes to the
//! clients that may see it (see `hub`), and each successful login is announced to the clients as amiws announces
//! one (`Response: Success`, `Message: Authentication accepted`, no ActionID), so
//! they resync that server. A client's own action goes up as a
//! [`Request::Forward`](ami_parking::Request::Forward) (see `session`).

use crate::frames::{self, Source};
use crate::hub::Hub;
use ami_parking::amiws::FrameType;
use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::{AuthMethod, ConnectionState, Message, ParkingError, ParkingOptions, ParkingStore};
use ami_parking_transport::{Client, ClientOptions, Endpoint, MessageStream, ServersError};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The links to every upstream, started now: one client, servers 1, 2, ... in order.
pub(crate) fn connect(endpoints: &[Endpoint], ca_file: Option<PathBuf>) -> Result<Client, ServersError> {
    let servers = endpoints
        .iter()
        .map(|ep| {
            let mut o = ClientOptions::new(ep.clone());
            o.auth = AuthMethod::Md5;
            o.forward_events = true;
            o.tls_ca_file = ca_file.clone();
            o
        })
        .collect();
    // The bridge's own store is for its checks (is a channel parked already?): it lists
    // the calls at every login, so it knows those parked before it started. Its lists
    // answer no client, and reach none.
    Client::connect_all(servers, ParkingStore::new(ParkingOptions::default()))
}

/// Passes every server's messages to every client until the client stops
/// (`messages` subscribed before the first login).
pub(crate) async fn pass_on(hub: Arc<Hub>, mut messages: MessageStream) {
    let mut lost = 0;
    while let Some((server, m)) = messages.next().await {
        if server >= 1 && server as usize <= hub.upstreams.len() {
            if is_nats(&hub, server) && snapshot_taken(&m) {
                // A `nats://` link took a snapshot: announced as a login, so clients list again.
                announce(&hub, server);
            } else {
                hub.deliver(server, &m);
            }
        }
        if messages.lost() != lost {
            eprintln!(
                "ami-ws-bridge: {} messages not passed on (the bridge fell behind)",
                messages.lost() - lost
            );
            lost = messages.lost();
        }
    }
}

/// Announces upstream `server`'s logins (1-based) until its link stops.
pub(crate) async fn follow(hub: Arc<Hub>, server: u32) {
    let Some(states) = hub.client.link_state(server as usize - 1) else { return };
    let mut states = states.to_stream();
    while let Some(s) = states.next().await {
        on_state(&hub, server, s);
    }
}

/// The link's state changed: a login is announced to every client; a lost link is
/// logged (its clients' pending actions are answered with errors by the transport).
fn on_state(hub: &Hub, server: u32, state: ConnectionState) {
    let up = &hub.upstreams[(server - 1) as usize];
    let endpoint = hub.client.endpoints().nth(server as usize - 1).map(|e| e.to_string()).unwrap_or_default();
    match state {
        // A `nats://` link announces each snapshot in its messages (`pass_on`).
        ConnectionState::LoggedIn if is_nats(hub, server) => {}
        ConnectionState::LoggedIn => {
            // Marked before it is said: a client that read the line may act at once.
            if !up.logged_in.swap(true, Ordering::Relaxed) {
                eprintln!("ami-ws-bridge: server {server} ({endpoint}) logged in");
                announce(hub, server);
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

/// Server `server` is up with a fresh state: every client is told as amiws tells a
/// login, and lists again.
fn announce(hub: &Hub, server: u32) {
    let up = &hub.upstreams[(server - 1) as usize];
    up.logged_in.store(true, Ordering::Relaxed);
    hub.broadcast(login_frame(&up.source).into(), |_| true);
}

/// Whether upstream `server` is a collector over NATS.
fn is_nats(hub: &Hub, server: u32) -> bool {
    hub.client.endpoints().nth(server as usize - 1).is_some_and(|e| e.scheme.is_nats())
}

#[cfg(feature = "nats")]
fn snapshot_taken(m: &Message) -> bool {
    ami_parking_transport::nats::is_snapshot_announcement(m)
}

#[cfg(not(feature = "nats"))]
fn snapshot_taken(_: &Message) -> bool {
    false
}

/// amiws's announcement of a login to a server.
pub(crate) fn login_frame(server: &Source) -> String {
    let mut m = Message::new();
    m.push(b"Response", b"Success");
    m.push(b"Message", b"Authentication accepted");
    frames::frame(FrameType::Response, server, &m)
}

/// What a client reads when its action for server `server` (`name`) failed: what
/// happened, and so what to do.
pub(crate) fn error_text(server: &Source, e: &ParkingError) -> String {
    let (server, name) = (server.id, &server.name);
    match e {
        ParkingError::NotLoggedIn { .. } => format!("server {server} ({name}) is not connected"),
        ParkingError::Stopped { .. } => {
            format!("server {server} ({name}) is not connected: the bridge is stopping")
        }
        e => format!("server {server} ({name}): {e}"),
    }
}
