//! [`WebClient`]: one local task owns the socket and drives the connection (frames
//! in, frames out, the core's timers, reconnect with backoff); handles send requests
//! through the shared state and are answered by the task.

use crate::socket::{Socket, SocketEvent};
use ami_parking::futures_signals::signal::{Mutable, Signal};
use ami_parking::{
    Backoff, Connection, ConnectionConfig, ConnectionState, LocalFuture, Output, ParkingClient, ParkingError,
    ParkingStore, Reply, Request, RequestId, RequestResult, Target, Timestamp,
};
use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures_channel::oneshot;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use gloo_timers::future::TimeoutFuture;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// How to reach amiws (or `ami-ws-bridge`) from the page.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// `ws://` or `wss://` URL (a bridge token goes in `?token=`; a browser cannot set
    /// an `Authorization` header on a WebSocket).
    pub url: String,
    /// Reconnect policy (the tokio client's default).
    pub reconnect: Backoff,
    /// Deadline of each request.
    pub request_timeout: Duration,
    /// How long opening the socket may take before the attempt counts as failed.
    pub connect_timeout: Duration,
}

impl WebOptions {
    /// Options for `url` with defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            reconnect: Backoff::default(),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// What the handles and the task share (one page thread, so a `RefCell`).
struct Shared {
    conn: Connection,
    socket: Option<Socket>,
    /// Requests in flight and where their answers go (a few: a `Vec` is smaller code
    /// in the browser than a map).
    waiting: Vec<(RequestId, oneshot::Sender<Result<Reply, ParkingError>>)>,
    stopped: bool,
}

/// A cloneable handle to one amiws (or bridge) connection from the browser, kept
/// alive and resynced by a local task. Not `Send` (it holds JS values).
#[derive(Clone)]
pub struct WebClient {
    shared: Rc<RefCell<Shared>>,
    store: ParkingStore,
    state: Mutable<ConnectionState>,
    kick: UnboundedSender<()>,
    url: Rc<str>,
}

impl std::fmt::Debug for WebClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a token: show its scheme and host only.
        let shown = self.url.split(['?', '#']).next().unwrap_or_default();
        f.debug_struct("WebClient").field("url", &shown).finish_non_exhaustive()
    }
}

/// Now as the core's timestamp: the page's wall clock read once, then moved by the
/// monotonic `performance.now()`, so deadlines never jump when the system clock is
/// stepped.
pub(crate) fn now() -> Timestamp {
    thread_local! {
        static ANCHOR: (f64, f64) = (js_sys::Date::now(), monotonic_ms());
    }
    let (wall, mono) = ANCHOR.with(|a| *a);
    Timestamp::from_unix_millis((wall + (monotonic_ms() - mono).max(0.0)) as u64)
}

fn monotonic_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or_else(js_sys::Date::now)
}

impl WebClient {
    /// Connects to `url` with default options, writing into `store`.
    pub fn connect(url: &str, store: ParkingStore) -> WebClient {
        Self::connect_with(WebOptions::new(url), store)
    }

    /// Connects with `options`, writing into `store` (whose parking options it follows).
    pub fn connect_with(options: WebOptions, store: ParkingStore) -> WebClient {
        let mut cfg = ConnectionConfig::amiws();
        cfg.request_timeout = options.request_timeout;
        cfg.keepalive_interval = Duration::ZERO;
        cfg.instance_id = Some((js_sys::Math::random() * u32::MAX as f64) as u64);
        let conn = Connection::with_store(cfg, store.clone(), now());
        let shared =
            Rc::new(RefCell::new(Shared { conn, socket: None, waiting: Vec::new(), stopped: false }));
        let (kick, kicks) = unbounded();
        let state = Mutable::new(ConnectionState::Connecting);
        let client = WebClient { shared, store, state, kick, url: options.url.as_str().into() };
        wasm_bindgen_futures::spawn_local(client.clone().run(options, kicks));
        client
    }

    /// This client's connection state.
    pub fn connection_state(&self) -> impl Signal<Item = ConnectionState> + 'static {
        self.state.signal_cloned()
    }

    /// This client's connection state now.
    pub fn connection_state_now(&self) -> ConnectionState {
        self.state.get_cloned()
    }

    /// Closes the socket and stops reconnecting; pending requests fail.
    pub fn shutdown(&self) {
        self.shared.borrow_mut().stopped = true;
        let _ = self.kick.unbounded_send(());
    }

    fn set_state(&self, s: ConnectionState) {
        self.shared.borrow_mut().conn.handle_link_state(s.clone());
        self.state.set_neq(s);
    }

    /// Sends what the core wrote and hands out what it answered.
    fn flush(&self) {
        let mut sh = self.shared.borrow_mut();
        let sh = &mut *sh;
        while let Some(frame) = sh.conn.poll_transmit() {
            if let Some(s) = &sh.socket {
                let _ = s.ws.send_with_str(&String::from_utf8_lossy(&frame));
            }
        }
        let _ = sh.conn.poll_ping(); // a page cannot send WebSocket pings
        while let Some(o) = sh.conn.poll_output() {
            match o {
                Output::Reply { id, result } => {
                    if let Some(i) = sh.waiting.iter().position(|(w, _)| *w == id) {
                        let _ = sh.waiting.swap_remove(i).1.send(result);
                    }
                }
                Output::State(s) => self.state.set_neq(s),
                _ => {}
            }
        }
    }

    /// The task: connect, drive, reconnect, until shut down.
    async fn run(self, options: WebOptions, mut kicks: UnboundedReceiver<()>) {
        let mut reconnect = ami_parking::Reconnect::new(options.reconnect);
        loop {
            if self.shared.borrow().stopped {
                break;
            }
            if reconnect.attempt() == 0 {
                self.set_state(ConnectionState::Connecting);
            }
            let (reason, up_since) = self.drive(&options, &mut kicks).await;
            {
                let mut sh = self.shared.borrow_mut();
                sh.socket = None;
                sh.conn.handle_disconnected(now());
            }
            self.flush();
            if self.shared.borrow().stopped {
                break;
            }
            let up_for =
                up_since.map(|t| Duration::from_millis((now().as_unix_millis() as f64 - t).max(0.0) as u64));
            let (attempt, delay) = reconnect.after_link(up_for, false, js_sys::Math::random());
            self.set_state(ConnectionState::Reconnecting { attempt, last_error: reason });
            let mut sleep = TimeoutFuture::new(delay.as_millis() as u32);
            // Requests meanwhile fail at once (not logged in) instead of hanging.
            loop {
                match select(&mut sleep, kicks.next()).await {
                    Either::Left(_) => break,
                    Either::Right((_, _)) if self.shared.borrow().stopped => break,
                    Either::Right(_) => self.flush(),
                }
            }
        }
        self.set_state(ConnectionState::Stopped);
        let waiting = std::mem::take(&mut self.shared.borrow_mut().waiting);
        for (_, tx) in waiting {
            let _ = tx.send(Err(ParkingError::Stopped { action: "request".into() }));
        }
    }

    /// One link, from opening the socket until it closes. Returns why it ended, and
    /// since when (page clock, ms) it was logged in.
    async fn drive(&self, options: &WebOptions, kicks: &mut UnboundedReceiver<()>) -> (String, Option<f64>) {
        let mut up_since = None;
        let why = self.drive_link(options, kicks, &mut up_since).await;
        (why, up_since)
    }

    async fn drive_link(
        &self,
        options: &WebOptions,
        kicks: &mut UnboundedReceiver<()>,
        up_since: &mut Option<f64>,
    ) -> String {
        let (socket, mut events) = match Socket::open(&options.url) {
            Ok(s) => s,
            Err(e) => return e,
        };
        self.shared.borrow_mut().socket = Some(socket);
        let mut opening = TimeoutFuture::new(options.connect_timeout.as_millis() as u32);
        match select(&mut opening, events.next()).await {
            Either::Left(_) => {
                return format!(
                    "no WebSocket connection within {}",
                    ami_parking::display::duration(options.connect_timeout)
                )
            }
            Either::Right((Some(SocketEvent::Open), _)) => {}
            Either::Right((Some(SocketEvent::Closed(why)), _)) => return why,
            Either::Right(_) => return "the WebSocket failed while opening".into(),
        }
        self.shared.borrow_mut().conn.handle_connected(now());
        loop {
            self.flush();
            if self.shared.borrow().stopped {
                return "shut down".into();
            }
            if up_since.is_none() && self.shared.borrow().conn.is_logged_in() {
                *up_since = Some(now().as_unix_millis() as f64);
            }
            let wait = match self.shared.borrow().conn.poll_timeout() {
                Some(at) => at.saturating_duration_since(now()),
                None => Duration::from_secs(3600),
            };
            let timer = TimeoutFuture::new(wait.as_millis().min(u32::MAX as u128) as u32);
            let input = select(events.next(), select(kicks.next(), timer)).await;
            let now = now();
            let mut sh = self.shared.borrow_mut();
            match input {
                Either::Left((Some(SocketEvent::Frame(f)), _)) => {
                    if let Err(e) = sh.conn.handle_frame(now, &f) {
                        return e.to_string();
                    }
                }
                Either::Left((Some(SocketEvent::Closed(why)), _)) => return why,
                Either::Left((_, _)) => return "the WebSocket ended".into(),
                Either::Right((Either::Left(_), _)) => {} // a request was queued: flush and re-arm
                Either::Right((Either::Right(_), _)) => {
                    if let Err(e) = sh.conn.handle_timeout(now) {
                        return e.to_string();
                    }
                }
            }
        }
    }
}

impl ParkingClient for WebClient {
    type Answer = LocalFuture<RequestResult>;

    fn store(&self) -> &ParkingStore {
        &self.store
    }

    fn request(&self, req: Request, target: Target) -> Self::Answer {
        let action = req.name();
        let sent = {
            let mut sh = self.shared.borrow_mut();
            if sh.stopped {
                Err(ParkingError::Stopped { action: action.clone() })
            } else {
                sh.conn.request(now(), req, target).map(|id| {
                    let (tx, rx) = oneshot::channel();
                    sh.waiting.push((id, tx));
                    rx
                })
            }
        };
        self.flush();
        let _ = self.kick.unbounded_send(());
        Box::pin(async move { sent?.await.unwrap_or(Err(ParkingError::Stopped { action })) })
    }
}
