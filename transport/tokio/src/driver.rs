//! The client's task: opens the link, drives the sans-IO connection over it (bytes
//! or WebSocket frames, the core's timers and keep-alive, the handles' commands),
//! and reconnects with backoff when it drops.

use crate::clock::now;
use crate::command::{Command, COMMAND_QUEUE};
use crate::link::{self, Link};
use crate::messages::{CallsThrough, Numbered};
use crate::options::ClientOptions;
use crate::stream::BoxIo;
use crate::ws::{WsReader, WsWriter};
use crate::ws_codec::WsIn;
use ami_parking::futures_signals::signal::Mutable;
use ami_parking::{Connection, ConnectionState, Output, ParkingError, Reply, RequestId, Timestamp};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};

type Waiting = HashMap<RequestId, oneshot::Sender<Result<Reply, ParkingError>>>;

/// How one link's session ended.
enum End {
    Shutdown(oneshot::Sender<()>),
    Failed(String),
    /// Asterisk refused the login (a wrong user or secret), or a bridge the token
    /// at the upgrade: retried slowly.
    Refused(String),
    Dropped,
}

impl From<ami_parking::ConnectionError> for End {
    fn from(e: ami_parking::ConnectionError) -> Self {
        match e {
            ami_parking::ConnectionError::LoginRejected { .. } => End::Refused(e.to_string()),
            e => End::Failed(e.to_string()),
        }
    }
}

/// What the task owns across links.
struct Session {
    conn: Connection,
    rx: mpsc::Receiver<Command>,
    waiting: Waiting,
    /// Attempts in a row and the wait before the next.
    reconnect: ami_parking::Reconnect,
    /// Since when this link has been logged in.
    up_since: Option<std::time::Instant>,
    /// The client's copy of the connection's state.
    client_state: Mutable<ConnectionState>,
    /// Whether the last failure was a refused login (the client's copy).
    refused: Arc<AtomicBool>,
    /// Where the server's messages go (`forward_events`).
    messages: tokio::sync::broadcast::Sender<Numbered>,
    /// How many messages this link has reported (the last one's number).
    reported: u64,
}

/// What a link's task tells its client: its state, whether its last failure was a
/// refused login, and the server's messages (`forward_events`).
pub(crate) struct Told {
    pub(crate) state: Mutable<ConnectionState>,
    pub(crate) refused: Arc<AtomicBool>,
    pub(crate) messages: tokio::sync::broadcast::Sender<Numbered>,
}

pub(crate) async fn run(opts: ClientOptions, conn: Connection, rx: mpsc::Receiver<Command>, told: Told) {
    let reconnect = ami_parking::Reconnect::with_refused(opts.reconnect, opts.refused_login);
    let mut s = Session {
        conn,
        rx,
        waiting: HashMap::new(),
        reconnect,
        up_since: None,
        client_state: told.state,
        refused: told.refused,
        messages: told.messages,
        reported: 0,
    };
    loop {
        if s.reconnect.attempt() == 0 {
            s.set_state(ConnectionState::Connecting);
        }
        let end = match s.open_link(&opts).await {
            Ok(l) => {
                s.conn.handle_connected(now());
                match l {
                    Link::Bytes(io) => s.drive_bytes(io).await,
                    Link::Ws(r, w) => s.drive_ws(r, w).await,
                }
            }
            Err(end) => end,
        };
        s.conn.handle_disconnected(now());
        s.flush_outputs();
        let (reason, refused) = match end {
            End::Failed(r) => (r, false),
            // A login refused for want of a secret says so: Asterisk's "Authentication
            // failed" reads as a wrong one.
            End::Refused(r)
                if opts.endpoint.scheme.is_raw_ami()
                    && opts.ami_secret().is_none_or(|s| s.expose().is_empty()) =>
            {
                let why =
                    "no secret was given: none in the URL, none from the program, AMI_SECRET unset or empty";
                (format!("{r} ({why})"), true)
            }
            End::Refused(r) => (r, true),
            end => return s.stop(end),
        };
        let up_for = s.up_since.take().map(|t| t.elapsed());
        let (attempt, delay) = s.reconnect.after_link(up_for, refused, rand::random::<f64>());
        s.set_failed(ConnectionState::Reconnecting { attempt, last_error: reason }, refused);
        if let Some(end) = s.wait_out(delay).await {
            return s.stop(end);
        }
    }
}

impl Session {
    /// Opens the link (TCP, then TLS, then the WebSocket upgrade) within
    /// `connect_timeout`, still answering the handles meanwhile: a server that accepts
    /// and stalls neither hangs the client nor its shutdown.
    async fn open_link(&mut self, opts: &ClientOptions) -> Result<Link, End> {
        let open = tokio::time::timeout(
            opts.connect_timeout,
            link::open(&opts.endpoint, opts.tls_ca_file.as_deref(), opts.secret.as_ref()),
        );
        tokio::pin!(open);
        loop {
            tokio::select! {
                r = &mut open => return match r {
                    Ok(Ok(link)) => Ok(link),
                    Ok(Err(e)) if e.refused => Err(End::Refused(e.message)),
                    Ok(Err(e)) => Err(End::Failed(e.message)),
                    Err(_) => Err(End::Failed(format!(
                        "no connection to {} within {:?} (TCP connect, TLS handshake or WebSocket upgrade stalled)",
                        opts.endpoint, opts.connect_timeout
                    ))),
                },
                cmd = self.rx.recv() => match cmd {
                    None => return Err(End::Dropped),
                    Some(Command::Shutdown(done)) => return Err(End::Shutdown(done)),
                    Some(Command::Request(req, target, reply)) => self.submit(req, target, reply),
                    Some(Command::Calls(server, reply)) => self.calls_through(server, reply),
                },
            }
        }
    }

    /// A state only the transport knows (connecting, reconnecting, stopped): the
    /// connection shows it, and so does the client.
    fn set_state(&mut self, s: ConnectionState) {
        self.conn.handle_link_state(s.clone());
        self.client_state.set_neq(s);
    }

    /// The link failed (`state`: `Reconnecting`); `refused`: by a refused login. The
    /// flag is stored under the state's lock, so a reader holding that lock reads
    /// the flag of the failure the state shows.
    fn set_failed(&mut self, state: ConnectionState, refused: bool) {
        self.conn.handle_link_state(state.clone());
        let mut shown = self.client_state.lock_mut();
        self.refused.store(refused, Ordering::Relaxed);
        *shown = state;
    }

    /// The client stops for good (shut down, or every handle dropped).
    fn stop(&mut self, end: End) {
        self.set_state(ConnectionState::Stopped);
        if let End::Shutdown(done) = end {
            let _ = done.send(());
        }
    }

    /// Waits `delay` before the next attempt; requests meanwhile fail at once (not
    /// logged in) instead of hanging. `Some` when the client stops meanwhile.
    async fn wait_out(&mut self, delay: Duration) -> Option<End> {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return None,
                cmd = self.rx.recv() => match cmd {
                    None => return Some(End::Dropped),
                    Some(Command::Shutdown(done)) => return Some(End::Shutdown(done)),
                    Some(Command::Request(req, target, reply)) => self.submit(req, target, reply),
                    Some(Command::Calls(server, reply)) => self.calls_through(server, reply),
                },
            }
        }
    }

    fn flush_outputs(&mut self) {
        while let Some(o) = self.conn.poll_output() {
            match o {
                Output::Reply { id, result } => {
                    if let Some(tx) = self.waiting.remove(&id) {
                        let _ = tx.send(result);
                    }
                }
                Output::State(s) => self.client_state.set_neq(s),
                // Numbered even with no subscriber (nobody to tell), so that
                // `calls_through` and the streams agree on every message's number.
                Output::Message(server, m) => {
                    self.reported += 1;
                    drop(self.messages.send((self.reported, (server, std::sync::Arc::new(m)))));
                }
                _ => {}
            }
        }
    }

    /// After every input: outputs delivered, and the moment of the login noted (a
    /// link that stays up long enough starts the backoff over).
    fn settle(&mut self) {
        self.flush_outputs();
        if self.conn.is_logged_in() && self.up_since.is_none() {
            self.up_since = Some(std::time::Instant::now());
        }
    }

    /// Between inputs every message read so far is applied and reported: the store's
    /// calls are exactly those after message `reported`.
    fn calls_through(&self, server: ami_parking::ServerId, reply: oneshot::Sender<CallsThrough>) {
        let _ = reply.send(CallsThrough::of(self.conn.store(), server, self.reported));
    }

    fn submit(
        &mut self,
        req: ami_parking::Request,
        target: ami_parking::Target,
        reply: oneshot::Sender<Result<Reply, ParkingError>>,
    ) {
        if self.waiting.len() >= COMMAND_QUEUE {
            // As many requests are unanswered as may wait: refused at once, so a server
            // that stopped answering cannot make the client hold ever more of them.
            let _ = reply.send(Err(ParkingError::QueueFull { action: req.name(), limit: COMMAND_QUEUE }));
            return;
        }
        match self.conn.request(now(), req, target) {
            Ok(id) => {
                self.waiting.insert(id, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Raw AMI over TCP or TLS until the link drops, fails, or the client stops.
    async fn drive_bytes(&mut self, io: BoxIo) -> End {
        let (mut r, mut w) = tokio::io::split(io);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            while let Some(b) = self.conn.poll_transmit() {
                if let Err(end) = self.write(&mut w, &b).await {
                    return end;
                }
            }
            self.settle();
            let sleep = sleep_until_ts(self.conn.poll_timeout());
            tokio::select! {
                n = r.read(&mut buf) => match n {
                    Ok(0) => return End::Failed("Asterisk closed the connection".into()),
                    Ok(n) => if let Err(e) = self.conn.handle_input(now(), &buf[..n]) { return e.into() },
                    Err(e) => return End::Failed(format!("read failed: {e}")),
                },
                cmd = self.rx.recv() => match cmd {
                    None => return End::Dropped,
                    Some(Command::Shutdown(done)) => return self.log_off(r, w, buf, done).await,
                    Some(Command::Request(req, target, reply)) => self.submit(req, target, reply),
                    Some(Command::Calls(server, reply)) => self.calls_through(server, reply),
                },
                _ = sleep => if let Err(e) = self.conn.handle_timeout(now()) { return e.into() },
            }
        }
    }

    /// Writes `bytes` within `request_timeout` (the write deadline: a server that
    /// stopped reading ends the link). Meanwhile the core's timers still fire, so
    /// requests past their deadline are answered while the write waits; new requests
    /// wait in the bounded command queue.
    async fn write(&mut self, w: &mut WriteHalf<BoxIo>, bytes: &[u8]) -> Result<(), End> {
        let limit = self.conn.config().request_timeout;
        let write = tokio::time::timeout(limit, w.write_all(bytes));
        tokio::pin!(write);
        loop {
            let sleep = sleep_until_ts(self.conn.poll_timeout());
            tokio::select! {
                r = &mut write => return match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(End::Failed(format!("write failed: {e}"))),
                    Err(_) => Err(stalled(limit)),
                },
                _ = sleep => {
                    self.conn.handle_timeout(now())?;
                    self.flush_outputs();
                }
            }
        }
    }

    /// Sends Logoff, waits briefly for Asterisk's Goodbye and close, then closes.
    async fn log_off(
        &mut self,
        mut r: ReadHalf<BoxIo>,
        mut w: WriteHalf<BoxIo>,
        mut buf: Vec<u8>,
        done: oneshot::Sender<()>,
    ) -> End {
        self.conn.logoff();
        while let Some(b) = self.conn.poll_transmit() {
            let _ = w.write_all(&b).await;
        }
        let _ = w.flush().await;
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while let Ok(n) = r.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        let _ = w.shutdown().await;
        End::Shutdown(done)
    }

    /// amiws over WebSocket: frames in and out; the core decides the keep-alive pings.
    async fn drive_ws(&mut self, mut r: WsReader, mut w: WsWriter) -> End {
        loop {
            let limit = self.conn.config().request_timeout;
            while let Some(b) = self.conn.poll_transmit() {
                match tokio::time::timeout(limit, w.text(&b)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return End::Failed(e),
                    Err(_) => return stalled(limit),
                }
            }
            if self.conn.poll_ping() {
                match tokio::time::timeout(limit, w.ping()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return End::Failed(e),
                    Err(_) => return stalled(limit),
                }
            }
            self.settle();
            let sleep = sleep_until_ts(self.conn.poll_timeout());
            tokio::select! {
                msg = r.next() => if let Err(e) = self.on_ws(msg, &mut w).await { return e },
                cmd = self.rx.recv() => match cmd {
                    None => return End::Dropped,
                    Some(Command::Shutdown(done)) => {
                        w.close(&1000u16.to_be_bytes()).await;
                        return End::Shutdown(done);
                    }
                    Some(Command::Request(req, target, reply)) => self.submit(req, target, reply),
                    Some(Command::Calls(server, reply)) => self.calls_through(server, reply),
                },
                _ = sleep => if let Err(e) = self.conn.handle_timeout(now()) { return e.into() },
            }
        }
    }

    /// One WebSocket message. `Err` ends the link.
    async fn on_ws(&mut self, msg: Result<WsIn, String>, w: &mut WsWriter) -> Result<(), End> {
        let now = now();
        match msg.map_err(End::Failed)? {
            WsIn::Data(frame) => self.conn.handle_frame(now, &frame).map_err(End::from),
            WsIn::Ping(p) => {
                self.conn.handle_link_alive(now);
                let limit = self.conn.config().request_timeout;
                match tokio::time::timeout(limit, w.pong(&p)).await {
                    Ok(r) => r.map_err(End::Failed),
                    Err(_) => Err(stalled(limit)),
                }
            }
            WsIn::Pong => {
                self.conn.handle_link_alive(now);
                Ok(())
            }
            WsIn::Close(payload) => {
                // Echo the status code (RFC 6455 5.5.1), then the link is over.
                w.close(&payload[..2.min(payload.len())]).await;
                Err(End::Failed("amiws closed the connection".into()))
            }
        }
    }
}

/// A write that did not finish within `limit`: the peer stopped reading. The link is
/// given up rather than freezing keep-alive and request deadlines behind it.
fn stalled(limit: Duration) -> End {
    End::Failed(format!("the server stopped reading: a write did not finish within {limit:?}"))
}

fn sleep_until_ts(ts: Option<Timestamp>) -> tokio::time::Sleep {
    let d = match ts {
        Some(t) => t.saturating_duration_since(now()),
        None => Duration::from_secs(3600),
    };
    tokio::time::sleep(d)
}
