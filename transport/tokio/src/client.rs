//! The client: one task owns the link and the state machine; handles send it requests.

use crate::endpoint::Endpoint;
use ami_parking::futures_signals::signal::{Mutable, Signal};
use ami_parking::{
    AuthMethod, Backoff, Connection, ConnectionConfig, ConnectionState, EventStream, Park, ParkedCall,
    ParkingError, ParkingLot, ParkingStore, Reply, Request, Retriever, Secret, ServerId, Target, Timestamp,
};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// How to reach and talk to one Asterisk (or one amiws).
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Where.
    pub endpoint: Endpoint,
    /// The secret when the URL has none (else `AMI_SECRET` is read).
    pub secret: Option<Secret>,
    /// Plain or MD5 login.
    pub auth: AuthMethod,
    /// Server id of a raw AMI server (amiws reports its own).
    pub server_id: ServerId,
    /// Reconnect policy.
    pub reconnect: Backoff,
    /// Reconnect policy after Asterisk refused the login (default
    /// [`REFUSED_LOGIN`](ami_parking::REFUSED_LOGIN): one minute doubling to five, so
    /// fail2ban does not ban the host over a wrong secret).
    pub refused_login: Backoff,
    /// Deadline of each request.
    pub request_timeout: Duration,
    /// How long opening the link may take: TCP connect, TLS handshake and WebSocket
    /// upgrade together (default 10 s).
    pub connect_timeout: Duration,
    /// Keep-alive when idle: an AMI `Ping` (raw AMI) or a WebSocket ping (amiws),
    /// answered within `request_timeout` or the link counts as dead. Zero: off.
    pub keepalive: Duration,
    /// Extra CA certificates (PEM) for `tls://` and `wss://`.
    pub tls_ca_file: Option<PathBuf>,
    /// `Events:` filter sent at login.
    pub events: Option<String>,
    /// Report the server's messages that are not answers of this client's own on
    /// [`Client::messages`] (default off: nothing is copied).
    pub forward_events: bool,
}

impl ClientOptions {
    /// Options for `endpoint` with defaults.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            secret: None,
            auth: AuthMethod::Plain,
            server_id: 1,
            reconnect: Backoff::default(),
            refused_login: ami_parking::REFUSED_LOGIN,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(30),
            tls_ca_file: None,
            events: None,
            forward_events: false,
        }
    }

    pub(crate) fn connection_config(&self) -> ConnectionConfig {
        let mut cfg = if self.endpoint.scheme.is_websocket() {
            ConnectionConfig::amiws()
        } else {
            let secret = self
                .endpoint
                .secret
                .clone()
                .or_else(|| self.secret.clone())
                .or_else(|| std::env::var("AMI_SECRET").ok().map(Secret::new))
                .unwrap_or_default();
            let mut c = ConnectionConfig::ami(self.endpoint.username.clone(), "");
            c.secret = secret;
            c
        };
        cfg.keepalive_interval = self.keepalive;
        cfg.auth = self.auth;
        cfg.server_id = self.server_id;
        cfg.request_timeout = self.request_timeout;
        cfg.events = self.events.clone();
        cfg.instance_id = Some(rand::random());
        cfg.forward_events = self.forward_events;
        cfg
    }
}

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Asterisk or the core refused or failed the request.
    #[error(transparent)]
    Parking(#[from] ParkingError),
    /// The client was shut down.
    #[error("the AMI client has been shut down")]
    Stopped,
    /// Could not log in (first failure, as reported by `wait_logged_in`).
    #[error("cannot log in to {endpoint}: {reason}")]
    Login {
        /// Where.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// Waiting for the login took too long.
    #[error("no login to {endpoint} within {after:?} ({reason})")]
    LoginTimeout {
        /// Where.
        endpoint: String,
        /// How long we waited.
        after: Duration,
        /// The state at that time.
        reason: String,
    },
    /// An answer of another shape than the request's (a bug).
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// Requests queued for the client's task; past this, `request` waits (backpressure)
/// and `try_request` is refused at once, instead of the queue growing without limit.
/// As many may be unanswered at a time; more are refused with
/// [`ParkingError::QueueFull`].
pub(crate) const COMMAND_QUEUE: usize = 1024;

pub(crate) enum Command {
    Request(Request, Target, oneshot::Sender<Result<Reply, ParkingError>>),
    Shutdown(oneshot::Sender<()>),
}

/// A cloneable handle to one AMI or amiws connection, kept alive and resynced by a
/// background task (spawned on the current tokio runtime).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use ami_parking_transport::{Client, ClientOptions};
/// let client = Client::connect(ClientOptions::new("tcp://amiuser:amisecret@127.0.0.1:5038".parse()?));
/// client.wait_logged_in(std::time::Duration::from_secs(5)).await?;
/// let space = client.park_call("PJSIP/1001-00000001", ami_parking::Park::default()).await?;
/// println!("parked at {space}");
/// client.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) tx: mpsc::Sender<Command>,
    /// The server's messages, when `forward_events` is on ([`Client::messages`]).
    pub(crate) messages: tokio::sync::broadcast::Sender<crate::messages::ServerMessage>,
    store: ParkingStore,
    endpoint: Endpoint,
    state: Mutable<ConnectionState>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("endpoint", &self.endpoint).field("store", &self.store).finish()
    }
}

/// Two handles are equal when they drive the same connection.
impl PartialEq for Client {
    fn eq(&self, other: &Self) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

/// Now as the core's timestamp: the wall clock read once, then moved by the
/// monotonic clock. Deadlines and timers therefore never jump when the system clock
/// is stepped (NTP, an administrator, a VM resumed); times shown stay wall-clock
/// within the step.
pub fn now() -> Timestamp {
    static ANCHOR: std::sync::OnceLock<(SystemTime, std::time::Instant)> = std::sync::OnceLock::new();
    let (wall, mono) = *ANCHOR.get_or_init(|| (SystemTime::now(), std::time::Instant::now()));
    anchored(wall, mono, std::time::Instant::now())
}

/// The timestamp `at` on a clock anchored at (`wall`, `mono`).
fn anchored(wall: SystemTime, mono: std::time::Instant, at: std::time::Instant) -> Timestamp {
    Timestamp::from_system_time(wall + at.saturating_duration_since(mono))
}

impl Client {
    /// Starts the client with its own store of default parking options.
    pub fn connect(options: ClientOptions) -> Client {
        Self::connect_with_store(options, ParkingStore::default())
    }

    /// Starts the client writing into `store`, following the store's parking options
    /// (lot, auto refresh, poll, filter, callbacks...): give them once, to
    /// [`ParkingStore::new`]. Several clients, one per server, may share one store:
    /// give each its own `server_id`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use ami_parking::{ParkingOptions, ParkingStore};
    /// use ami_parking_transport::{Client, ClientOptions};
    /// let store = ParkingStore::new(ParkingOptions::default().parked_call_filter(|c| &*c.parking_lot == "sales"));
    /// let client = Client::connect_with_store(ClientOptions::new("tcp://amiuser:amisecret@127.0.0.1:5038".parse()?), store);
    /// # drop(client); Ok(()) }
    /// ```
    pub fn connect_with_store(options: ClientOptions, store: ParkingStore) -> Client {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let endpoint = options.endpoint.clone();
        let conn = Connection::with_store(options.connection_config(), store.clone(), now());
        let state = Mutable::new(ConnectionState::Connecting);
        let messages = crate::messages::channel();
        tokio::spawn(crate::driver::run(options, conn, rx, state.clone(), messages.clone()));
        Client { tx, messages, store, endpoint, state }
    }

    /// This client's connection state. (Several clients may share one store; the
    /// store's `connection_state` shows the latest change of any of them.)
    pub fn connection_state(&self) -> impl Signal<Item = ConnectionState> + Send + Sync + 'static {
        self.state.signal_cloned()
    }

    /// This client's connection state now.
    pub fn connection_state_now(&self) -> ConnectionState {
        self.state.get_cloned()
    }

    /// The store (signals and snapshots).
    pub fn store(&self) -> &ParkingStore {
        &self.store
    }

    /// Every parking event from now on.
    pub fn events(&self) -> EventStream {
        self.store.events()
    }

    /// Where this client connects.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Waits until logged in. Fails at the first failed attempt (with its reason) or
    /// after `timeout`; the client keeps retrying in the background either way.
    pub async fn wait_logged_in(&self, timeout: Duration) -> Result<(), ClientError> {
        let mut states =
            ami_parking::futures_signals::signal::SignalExt::to_stream(self.state.signal_cloned());
        let endpoint = self.endpoint.to_string();
        let wait = async {
            while let Some(s) = states.next().await {
                match s {
                    ConnectionState::LoggedIn => return Ok(()),
                    ConnectionState::Reconnecting { last_error, .. } => {
                        return Err(ClientError::Login { endpoint: endpoint.clone(), reason: last_error })
                    }
                    ConnectionState::Stopped => return Err(ClientError::Stopped),
                    _ => {}
                }
            }
            Err(ClientError::Stopped)
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::LoginTimeout {
                endpoint,
                after: timeout,
                reason: format!("{:?}", self.state.get_cloned()),
            }),
        }
    }

    /// Sends any request and waits for its answer.
    pub async fn request(&self, req: Request, target: Target) -> Result<Reply, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Request(req, target, tx)).await.map_err(|_| ClientError::Stopped)?;
        Ok(rx.await.map_err(|_| ClientError::Stopped)??)
    }

    /// `Parkinglots` of every server (also written into the store).
    pub async fn get_parking_lots(&self) -> Result<Vec<ParkingLot>, ClientError> {
        self.get_parking_lots_on(Target::All).await
    }

    /// `Parkinglots` on `target`.
    pub async fn get_parking_lots_on(&self, target: Target) -> Result<Vec<ParkingLot>, ClientError> {
        match self.request(Request::ParkingLots, target).await? {
            Reply::Lots(l) => Ok(l),
            r => Err(ClientError::Unexpected(format!("{r:?}"))),
        }
    }

    /// `ParkedCalls` (one lot or all); reconciles the store.
    pub async fn get_parked_calls(&self, lot: Option<&str>) -> Result<Vec<Arc<ParkedCall>>, ClientError> {
        self.get_parked_calls_on(lot, Target::All).await
    }

    /// `ParkedCalls` on `target`.
    pub async fn get_parked_calls_on(
        &self,
        lot: Option<&str>,
        target: Target,
    ) -> Result<Vec<Arc<ParkedCall>>, ClientError> {
        match self.request(Request::ParkedCalls { lot: lot.map(Into::into) }, target).await? {
            Reply::Calls(c) => Ok(c),
            r => Err(ClientError::Unexpected(format!("{r:?}"))),
        }
    }

    /// Resyncs one lot.
    pub async fn refresh_parking_lot(&self, lot: &str) -> Result<Vec<Arc<ParkedCall>>, ClientError> {
        self.get_parked_calls(Some(lot)).await
    }

    /// Parks `channel` where `park` says (lot, preferred space, timeout); returns the
    /// space Asterisk assigned. A full or unknown lot is
    /// [`ParkingError::LotFull`](ami_parking::ParkingError::LotFull) /
    /// [`ParkingError::UnknownLot`](ami_parking::ParkingError::UnknownLot).
    pub async fn park_call(&self, channel: &str, park: Park) -> Result<u32, ClientError> {
        self.park_call_on(channel, park, Target::All).await.map(|(_, _, space)| space)
    }

    /// Parks `channel` on `target`; returns (server, lot, space).
    pub async fn park_call_on(
        &self,
        channel: &str,
        park: Park,
        target: Target,
    ) -> Result<(ServerId, String, u32), ClientError> {
        let req = Request::Park { channel: channel.into(), park };
        match self.request(req, target).await? {
            Reply::Parked { server_id, lot, space, .. } => Ok((server_id, lot, space)),
            r => Err(ClientError::Unexpected(format!("{r:?}"))),
        }
    }

    /// Moves the call in `space` of `lot` (the default lot when `None`) where `to`
    /// says; returns its new (lot, space). Reported once as `moved`.
    pub async fn move_call(
        &self,
        space: u32,
        lot: Option<&str>,
        to: Park,
    ) -> Result<(String, u32), ClientError> {
        self.move_call_on(space, lot, to, Target::All).await.map(|(_, lot, space)| (lot, space))
    }

    /// Moves on `target`; returns (server, new lot, new space).
    pub async fn move_call_on(
        &self,
        space: u32,
        lot: Option<&str>,
        to: Park,
        target: Target,
    ) -> Result<(ServerId, String, u32), ClientError> {
        let req = Request::Move { space, lot: lot.map(Into::into), to };
        match self.request(req, target).await? {
            Reply::Moved { server_id, lot, space, .. } => Ok((server_id, lot, space)),
            r => Err(ClientError::Unexpected(format!("{r:?}"))),
        }
    }

    /// Retrieves the call in `space` to `to_channel`; returns who took it.
    pub async fn retrieve_call(
        &self,
        space: u32,
        to_channel: &str,
        lot: Option<&str>,
    ) -> Result<Retriever, ClientError> {
        self.retrieve_call_on(space, to_channel, lot, Target::All).await.map(|(_, _, r)| r)
    }

    /// Retrieves on `target`; returns (server, lot, retriever).
    pub async fn retrieve_call_on(
        &self,
        space: u32,
        to_channel: &str,
        lot: Option<&str>,
        target: Target,
    ) -> Result<(ServerId, String, Retriever), ClientError> {
        let req = Request::Retrieve { space, to_channel: to_channel.into(), lot: lot.map(Into::into) };
        match self.request(req, target).await? {
            Reply::Retrieved { server_id, lot, retriever, .. } => Ok((server_id, lot, retriever)),
            r => Err(ClientError::Unexpected(format!("{r:?}"))),
        }
    }

    /// Logs off (raw AMI), closes the link and stops reconnecting.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The UI bindings' view of a client: the store and requests as futures.
impl ami_parking::ParkingClient for Client {
    fn store(&self) -> &ParkingStore {
        &self.store
    }

    fn request(&self, req: Request, target: Target) -> ami_parking::LocalFuture<Result<Reply, ParkingError>> {
        let client = self.clone();
        Box::pin(async move {
            let action = req.name();
            match Client::request(&client, req, target).await {
                Ok(reply) => Ok(reply),
                Err(ClientError::Parking(e)) => Err(e),
                Err(_) => Err(ParkingError::Stopped { action }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_follows_the_monotonic_clock_not_the_wall_clock() {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mono = std::time::Instant::now();
        let later = mono + Duration::from_millis(1500);
        assert_eq!(anchored(wall, mono, later).as_unix_millis(), 1_700_000_001_500);
        // Whatever the system clock does meanwhile, the anchor does not move.
        let a = now();
        let b = now();
        assert!(b >= a);
    }
}
