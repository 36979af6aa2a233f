//! The client: one task per link owns the socket and the state machine; a
//! cloneable [`Client`] handle holds every link of an app (one Asterisk or several,
//! or one amiws) over one store, and is the app's [`ParkingClient`].
//!
//! Server ids follow one rule: raw AMI servers are numbered 1, 2, ... in the order
//! their endpoints are given; an amiws endpoint's servers keep amiws's own ids (so an
//! amiws endpoint is given alone).

use crate::clock::now;
use crate::command::{Command, COMMAND_QUEUE};
use crate::endpoint::Endpoint;
use crate::options::ClientOptions;
use ami_parking::futures_signals::signal::{Mutable, Signal, SignalExt};
use ami_parking::{
    Connection, ConnectionState, EventStream, ParkingClient, ParkingError, ParkingStore, Reply, Request,
    RequestResult, SendFuture, ServerId, Target,
};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

mod login_wait;

/// One link: its task's queue, where it goes, the server it is (raw AMI) and its state.
struct Link {
    /// Its place in the order given.
    index: usize,
    tx: mpsc::Sender<Command>,
    endpoint: Endpoint,
    /// The raw AMI server's id; `None` behind amiws (its servers have their own).
    server: Option<ServerId>,
    state: Mutable<ConnectionState>,
    /// Whether the link's last failure was a refused login (set before its
    /// `Reconnecting` state is published).
    refused: Arc<AtomicBool>,
}

struct Inner {
    store: ParkingStore,
    links: Vec<Link>,
    /// Every link's messages, when `forward_events` is on ([`Client::messages`]).
    messages: tokio::sync::broadcast::Sender<crate::messages::Numbered>,
}

/// A cloneable handle to the links of one app (one Asterisk, several, or one amiws),
/// kept alive and resynced by one background task each (spawned on the current tokio
/// runtime), all writing into one store. It is the app's [`ParkingClient`]: the
/// operations (`park_call`, `retrieve_call`, ...) come from that trait, with `Send`
/// futures.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use ami_parking::{Park, ParkingClient};
/// use ami_parking_transport::{Client, ClientOptions};
/// let client = Client::connect(ClientOptions::new("tcp://amiuser@127.0.0.1:5038".parse()?)); // secret: AMI_SECRET
/// client.wait_logged_in(std::time::Duration::from_secs(5)).await?;
/// let parked = client.park_call("PJSIP/1001-00000001", Park::default()).await?;
/// println!("parked at {} {}", parked.lot, parked.space);
/// client.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoints: Vec<&Endpoint> = self.inner.links.iter().map(|l| &l.endpoint).collect();
        f.debug_struct("Client").field("endpoints", &endpoints).field("store", &self.inner.store).finish()
    }
}

/// Two handles are equal when they drive the same links.
impl PartialEq for Client {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// Why a set of endpoints cannot be one client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServersError {
    /// No endpoint at all.
    #[error("no server given: name at least one endpoint")]
    None,
    /// An amiws endpoint beside another endpoint: their server ids would clash.
    #[error("{endpoint} is an amiws endpoint: it numbers its own servers, so give it alone (not beside other endpoints)")]
    AmiwsNotAlone {
        /// The amiws endpoint.
        endpoint: String,
    },
}

impl Client {
    /// Starts a client of one server with its own store of default parking options.
    ///
    /// # Panics
    /// Outside a tokio runtime: the links' tasks are spawned on the current one
    /// (call it from `#[tokio::main]`, a task, or inside `Runtime::enter`).
    pub fn connect(options: ClientOptions) -> Client {
        Self::connect_with_store(options, ParkingStore::default())
    }

    /// Starts a client of one server writing into `store`, following the store's
    /// parking options (lot, auto refresh, poll, filter, callbacks...): give them
    /// once, to [`ParkingStore::new`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use ami_parking::{ParkingOptions, ParkingStore};
    /// use ami_parking_transport::{Client, ClientOptions};
    /// let store = ParkingStore::new(ParkingOptions::default().parked_call_filter(|c| &*c.parking_lot == "sales"));
    /// let client = Client::connect_with_store(ClientOptions::new("tcp://amiuser@127.0.0.1:5038".parse()?), store);
    /// # drop(client); Ok(()) }
    /// ```
    ///
    /// # Panics
    /// Outside a tokio runtime: the links' tasks are spawned on the current one
    /// (call it from `#[tokio::main]`, a task, or inside `Runtime::enter`).
    pub fn connect_with_store(options: ClientOptions, store: ParkingStore) -> Client {
        let messages = crate::messages::channel(options.messages_queue);
        let link = start_link(options, 0, &store, &messages);
        Client { inner: Arc::new(Inner { store, links: vec![link], messages }) }
    }

    /// Starts one client of every server in `servers`, all writing into `store`.
    /// Raw AMI servers are numbered 1, 2, ... in the order given; an amiws endpoint
    /// must be alone (its servers keep amiws's ids). A list without a server goes to
    /// every server that is logged in and the answers are merged; a retrieve or a move
    /// goes to the server that holds the call.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use ami_parking::ParkingStore;
    /// use ami_parking_transport::{Client, ClientOptions};
    /// let servers = ["tcp://amiuser@10.0.0.1:5038", "tcp://amiuser@10.0.0.2:5038"]
    ///     .iter()
    ///     .map(|u| Ok(ClientOptions::new(u.parse()?)))
    ///     .collect::<Result<Vec<_>, ami_parking_transport::EndpointError>>()?;
    /// let client = Client::connect_all(servers, ParkingStore::default())?; // servers 1 and 2
    /// # drop(client); Ok(()) }
    /// ```
    ///
    /// # Panics
    /// Outside a tokio runtime: the links' tasks are spawned on the current one
    /// (call it from `#[tokio::main]`, a task, or inside `Runtime::enter`).
    pub fn connect_all(servers: Vec<ClientOptions>, store: ParkingStore) -> Result<Client, ServersError> {
        if servers.is_empty() {
            return Err(ServersError::None);
        }
        if servers.len() > 1 {
            if let Some(ws) = servers.iter().find(|o| o.endpoint.scheme.is_websocket()) {
                return Err(ServersError::AmiwsNotAlone { endpoint: ws.endpoint.to_string() });
            }
        }
        let messages = crate::messages::channel(servers[0].messages_queue);
        let links = servers
            .into_iter()
            .enumerate()
            .map(|(index, options)| start_link(options, index, &store, &messages))
            .collect();
        Ok(Client { inner: Arc::new(Inner { store, links, messages }) })
    }

    /// Every link's state, combined: the least advanced of them (stopped, then
    /// reconnecting, connecting, logging in, logged in), so "logged in" means every
    /// server is.
    pub fn connection_state(&self) -> impl Signal<Item = ConnectionState> + Send + 'static {
        Least {
            states: self.inner.links.iter().map(|l| l.state.signal_cloned().boxed()).collect(),
            now: vec![None; self.inner.links.len()],
            shown: None,
        }
    }

    /// Every link's state now, combined as [`Client::connection_state`] does.
    pub fn connection_state_now(&self) -> ConnectionState {
        least(self.inner.links.iter().map(|l| l.state.get_cloned()))
    }

    /// Each link's endpoint and state now, in the order given.
    pub fn links_now(&self) -> Vec<(Endpoint, ConnectionState)> {
        self.inner.links.iter().map(|l| (l.endpoint.clone(), l.state.get_cloned())).collect()
    }

    /// Link `link`'s own state (its index in the order given), `None` past the last.
    pub fn link_state(
        &self,
        link: usize,
    ) -> Option<impl Signal<Item = ConnectionState> + Send + Sync + 'static> {
        self.inner.links.get(link).map(|l| l.state.signal_cloned())
    }

    /// Every parking event from now on.
    pub fn events(&self) -> EventStream {
        self.inner.store.events()
    }

    /// Where the links go, in the order given.
    pub fn endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        self.inner.links.iter().map(|l| &l.endpoint)
    }

    /// [`Client::shutdown`], given at most `within` (a server that never takes the
    /// Logoff cannot hold an app's exit); whether every link closed in time.
    pub async fn shutdown_within(&self, within: Duration) -> bool {
        tokio::time::timeout(within, self.shutdown()).await.is_ok()
    }

    /// Logs off every raw AMI link, closes every link and stops reconnecting; returns
    /// when all are closed.
    pub async fn shutdown(&self) {
        let mut done = Vec::new();
        for link in &self.inner.links {
            let (tx, rx) = oneshot::channel();
            if link.tx.send(Command::Shutdown(tx)).await.is_ok() {
                done.push(rx);
            }
        }
        for rx in done {
            let _ = rx.await;
        }
    }

    /// The link that takes `req` on `target`, or why none does.
    fn route(&self, req: &Request, target: Target) -> Route {
        let links = &self.inner.links;
        if links.len() == 1 {
            return Route::One(0);
        }
        match target {
            Target::Server(id) => match links.iter().position(|l| l.server == Some(id)) {
                Some(i) => Route::One(i),
                None => Route::Refused(ParkingError::UnknownServer {
                    action: req.name(),
                    server_id: id,
                    servers: self.servers(),
                }),
            },
            Target::All => match req {
                Request::ParkingLots | Request::ParkedCalls { .. } | Request::RefreshLot { .. } => Route::All,
                Request::Retrieve { space, lot, .. } | Request::Move { space, lot, .. } => {
                    let lot = lot.as_deref().unwrap_or(&self.inner.store.options().default_parking_lot);
                    // Shown or not: a call a view's filter hides can still be retrieved
                    // (found by a review: with two servers it was "nothing is parked").
                    let holders = self.inner.store.servers_holding_now(lot, *space);
                    match holders.as_slice() {
                        [one] => self.route(req, Target::Server(*one)),
                        [] => Route::Refused(ParkingError::SpaceEmpty {
                            lot: lot.to_owned(),
                            space: *space,
                            server_id: None,
                        }),
                        many => Route::Refused(ParkingError::AmbiguousServer {
                            action: req.name(),
                            servers: many.to_vec(),
                        }),
                    }
                }
                _ => Route::Refused(ParkingError::AmbiguousServer {
                    action: req.name(),
                    servers: self.servers(),
                }),
            },
        }
    }

    /// Every message of every server that is not an answer of this client's own
    /// (events without an ActionID, messages with another program's), from now on.
    /// Needs [`ClientOptions::forward_events`].
    pub fn messages(&self) -> crate::messages::MessageStream {
        crate::messages::MessageStream::new(self.inner.messages.subscribe())
    }

    /// The parked calls of `server` in the client's store, and the number of the last
    /// message its link had reported on [`Client::messages`] then, read together by
    /// the link's task between two inputs. A program that passes the store's state on
    /// and then the messages after it (the NATS collector) skips every message
    /// numbered at most [`CallsThrough::number`](crate::CallsThrough::number): the
    /// calls already hold it. `None` when no link serves `server` or the client has
    /// stopped.
    ///
    /// ```no_run
    /// # async fn demo(client: ami_parking_transport::Client) {
    /// use futures_util::StreamExt;
    /// let mut messages = client.messages();
    /// let Some(at) = client.calls_through(1).await else { return };
    /// println!("{} calls", at.calls.len());
    /// while let Some((_server, m)) = messages.next().await {
    ///     if messages.number() > at.number {
    ///         println!("after the calls: {:?}", m.get("Event"));
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn calls_through(&self, server: ServerId) -> Option<crate::CallsThrough> {
        let links = &self.inner.links;
        let link = links.iter().find(|l| l.server == Some(server)).or_else(|| match &links[..] {
            [only] if only.server.is_none() => Some(only),
            _ => None,
        })?;
        let (tx, rx) = oneshot::channel();
        link.tx.send(Command::Calls(server, tx)).await.ok()?;
        rx.await.ok()
    }

    /// Like [`ParkingClient::request`], but never waits for room: when the link's
    /// queue of requests is full (the server is slow, or stopped reading and a write
    /// is waiting for its deadline) the request is refused at once with
    /// [`ParkingError::QueueFull`], as is a request that cannot be routed. Otherwise
    /// the returned future is the answer (`QueueFull` too when that many requests are
    /// unanswered already).
    ///
    /// ```no_run
    /// # async fn demo(client: ami_parking_transport::Client) {
    /// use ami_parking::{Action, Request, Target};
    /// match client.try_request(Request::Forward(Action::new("Ping")), Target::All) {
    ///     Ok(answer) => println!("{:?}", answer.await),
    ///     Err(busy) => println!("not sent: {busy}"),
    /// }
    /// # }
    /// ```
    pub fn try_request(
        &self,
        req: Request,
        target: Target,
    ) -> Result<SendFuture<RequestResult>, ParkingError> {
        let links: Vec<usize> = match self.route(&req, target) {
            Route::One(i) => vec![i],
            Route::All => self.listed_links().map(|l| l.index).collect(),
            Route::Refused(e) => return Err(e),
        };
        let target = if links.len() > 1 { Target::All } else { target };
        let mut answers = Vec::with_capacity(links.len());
        for i in links {
            let action = req.name();
            let (reply, answer) = oneshot::channel();
            match self.inner.links[i].tx.try_send(Command::Request(req.clone(), target, reply)) {
                Ok(()) => {
                    answers.push(async move { answer.await.unwrap_or(Err(ParkingError::Stopped { action })) })
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    return Err(ParkingError::QueueFull { action, limit: COMMAND_QUEUE })
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(ParkingError::Stopped { action }),
            }
        }
        Ok(Box::pin(async move { merge(futures_util::future::join_all(answers).await) }))
    }

    /// The links a list without a server goes to: every logged-in one (a server that
    /// is down does not fail the others' answer; it is listed again when it logs in),
    /// or, when none is, all of them (so the answer says why).
    fn listed_links(&self) -> impl Iterator<Item = &Link> {
        let up = |l: &Link| l.state.get_cloned() == ConnectionState::LoggedIn;
        let any_up = self.inner.links.iter().any(up);
        self.inner.links.iter().filter(move |l| !any_up || up(l))
    }

    fn servers(&self) -> Vec<ServerId> {
        self.inner.links.iter().filter_map(|l| l.server).collect()
    }
}

/// Where a request goes.
enum Route {
    One(usize),
    /// Every link, answers merged (lists).
    All,
    Refused(ParkingError),
}

/// Sends `req` to one link's task and waits for its answer.
async fn ask(tx: mpsc::Sender<Command>, req: Request, target: Target) -> RequestResult {
    let action = req.name();
    let (reply, answer) = oneshot::channel();
    if tx.send(Command::Request(req, target, reply)).await.is_err() {
        return Err(ParkingError::Stopped { action });
    }
    answer.await.unwrap_or(Err(ParkingError::Stopped { action }))
}

/// Every server's answer to one list, as one answer (in (server, ...) order); the
/// first error if any server failed.
fn merge(answers: Vec<RequestResult>) -> RequestResult {
    let mut merged: Option<Reply> = None;
    for a in answers {
        merged = Some(match (merged, a?) {
            (None, r) => r,
            (Some(Reply::Lots(mut a)), Reply::Lots(b)) => {
                a.extend(b);
                Reply::Lots(a)
            }
            (Some(Reply::Calls(mut a)), Reply::Calls(b)) => {
                a.extend(b);
                Reply::Calls(a)
            }
            (Some(Reply::List(mut a)), Reply::List(b)) => {
                a.extend(b);
                Reply::List(a)
            }
            (Some(first), _) => first,
        });
    }
    merged.ok_or(ParkingError::UnexpectedReply { reply: "no server answered".into() })
}

/// The client is the app's request API: the operations come from [`ParkingClient`].
impl ParkingClient for Client {
    type Answer = SendFuture<RequestResult>;

    fn store(&self) -> &ParkingStore {
        &self.inner.store
    }

    fn request(&self, req: Request, target: Target) -> Self::Answer {
        match self.route(&req, target) {
            Route::One(i) => Box::pin(ask(self.inner.links[i].tx.clone(), req, target)),
            Route::All => {
                let asks: Vec<_> =
                    self.listed_links().map(|l| ask(l.tx.clone(), req.clone(), Target::All)).collect();
                Box::pin(async move { merge(futures_util::future::join_all(asks).await) })
            }
            Route::Refused(e) => Box::pin(async move { Err(e) }),
        }
    }
}

/// Starts the task of link `index` (raw AMI: server `index + 1`).
fn start_link(
    options: ClientOptions,
    index: usize,
    store: &ParkingStore,
    messages: &tokio::sync::broadcast::Sender<crate::messages::Numbered>,
) -> Link {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let endpoint = options.endpoint.clone();
    let id = index as ServerId + 1;
    let server = (!endpoint.scheme.is_websocket()).then_some(id);
    let state = Mutable::new(ConnectionState::Connecting);
    let refused = Arc::new(AtomicBool::new(false));
    #[cfg(feature = "nats")]
    if endpoint.scheme.is_nats() {
        tokio::spawn(crate::nats::link::run(options, id, store.clone(), rx, state.clone(), messages.clone()));
        return Link { index, tx, endpoint, server, state, refused };
    }
    let conn = Connection::with_store(options.connection_config(id), store.clone(), now());
    let told =
        crate::driver::Told { state: state.clone(), refused: refused.clone(), messages: messages.clone() };
    tokio::spawn(crate::driver::run(options, conn, rx, told));
    Link { index, tx, endpoint, server, state, refused }
}

/// How far a state is from logged in (lower: further).
fn rank(s: &ConnectionState) -> u8 {
    match s {
        ConnectionState::Stopped => 0,
        ConnectionState::Reconnecting { .. } => 1,
        ConnectionState::Disconnected => 2,
        ConnectionState::Connecting => 3,
        ConnectionState::LoggingIn => 4,
        ConnectionState::LoggedIn => 5,
    }
}

/// The least advanced of `states`.
fn least(states: impl Iterator<Item = ConnectionState>) -> ConnectionState {
    states.min_by_key(rank).unwrap_or(ConnectionState::Stopped)
}

/// The least advanced of several links' state signals, as one signal (changes only
/// when the combined state does).
struct Least {
    states: Vec<std::pin::Pin<Box<dyn Signal<Item = ConnectionState> + Send>>>,
    now: Vec<Option<ConnectionState>>,
    shown: Option<ConnectionState>,
}

impl Signal for Least {
    type Item = ConnectionState;

    fn poll_change(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<ConnectionState>> {
        use std::task::Poll;
        let this = &mut *self;
        let mut ended = 0;
        for (signal, now) in this.states.iter_mut().zip(this.now.iter_mut()) {
            loop {
                match signal.as_mut().poll_change(cx) {
                    Poll::Ready(Some(s)) => *now = Some(s),
                    Poll::Ready(None) => {
                        ended += 1;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
        }
        if this.now.iter().all(Option::is_some) {
            let least = least(this.now.iter().flatten().cloned());
            if this.shown.as_ref() != Some(&least) {
                this.shown = Some(least.clone());
                return Poll::Ready(Some(least));
            }
        }
        if ended == this.states.len() {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}
