//! Caps on connections: a listener that holds at most [`MAX_CONNECTIONS`] open at once
//! (more wait in the kernel's backlog) and at most [`PER_ADDRESS`] from one address
//! (an IPv6 address by its /64; more are closed at once), and a connection that has
//! not sent a whole request head within [`REQUEST_DEADLINE`] of its opening (or of the
//! board's last answer on it), or its body within as long after the head, or whose
//! head passes [`MAX_HEAD`], is closed, so sockets that never finish a request
//! (slowloris) cannot use up the board's connections or its memory; and when every
//! place is taken, a new connection takes the place of the one that has waited
//! longest on its client ([`EVICT_AFTER`]). A connection the
//! board switched to a WebSocket (`101`) is the live page's, and has no deadline here.

use axum::serve::Listener;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

mod request_watch;
use request_watch::Watch;

/// Connections open at once, at most.
pub const MAX_CONNECTIONS: usize = 2_048;
/// Descriptors kept out of the connection cap: the AMI links, the history database,
/// the metrics address's connections, the log, the password checker's thread.
pub const RESERVED_DESCRIPTORS: u64 = 128;

/// The connection cap for `open_files` descriptors (the process's soft limit; `None`:
/// unlimited): [`MAX_CONNECTIONS`], or fewer so that every connection the cap lets in
/// has a descriptor. Past the limit `accept` fails instead, no connection is ever cut
/// to make room, and the board stops answering (found by a review, under systemd's
/// default soft limit of 1,024 descriptors).
///
/// ```
/// use parkboard::limits::{connection_cap, MAX_CONNECTIONS};
/// assert_eq!(connection_cap(None), MAX_CONNECTIONS);
/// assert_eq!(connection_cap(Some(1_048_576)), MAX_CONNECTIONS);
/// assert_eq!(connection_cap(Some(1024)), 896);
/// ```
pub fn connection_cap(open_files: Option<u64>) -> usize {
    match open_files {
        None => MAX_CONNECTIONS,
        Some(n) => (n.saturating_sub(RESERVED_DESCRIPTORS) as usize).clamp(16, MAX_CONNECTIONS),
    }
}

/// Raises the process's open-files soft limit to its hard limit; the soft limit then
/// (`None`: unlimited, or not known on this system).
pub fn raise_open_files() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let limit = getrlimit(Resource::Nofile);
        // The hard limit; or, where it is unlimited (macOS refuses an unlimited soft
        // limit of open files), its OPEN_MAX, 10,240.
        for want in [limit.maximum, Some(10_240)] {
            let more = match (limit.current, want) {
                (Some(now), Some(want)) => want > now,
                (Some(_), None) => true,
                (None, _) => false,
            };
            let raised = rustix::process::Rlimit { current: want, maximum: limit.maximum };
            if more && setrlimit(Resource::Nofile, raised).is_ok() {
                break;
            }
        }
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Connections from one address at once, at most (a reverse proxy counts as one
/// address: raise it there).
pub const PER_ADDRESS: usize = 256;
/// How long a client has to send a whole request head, from the connection's opening
/// or from the board's last answer on it (an idle keep-alive connection is closed
/// then too).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(15);
/// The longest request head (request line and headers) the board reads: a browser's
/// is one or two KiB. Without it the HTTP server buffers up to about 400 KiB of an
/// unfinished head per connection.
pub const MAX_HEAD: usize = 32 * 1024;
/// When every place is taken, a new connection takes the place of the one that has
/// waited longest on its client (for its request, or to read a write), if it has
/// waited this long (it is closed): a browser sends its request at once and reads
/// what it is sent, so sockets that hold their place without doing so cannot keep a
/// new client waiting.
pub const EVICT_AFTER: Duration = Duration::from_secs(1);

pub use ami_parking_transport::admission::address_key;

/// The kernel's send buffer of each connection (Linux doubles it for its own books):
/// set on the listening socket, so each accepted connection has it. A browser that
/// stops reading then holds a few hundred KiB of the board's kernel memory, not the
/// megabytes the kernel would grow it to, and its page is found stalled in seconds
/// ([`WRITE_STALL`](crate::shutdown::WRITE_STALL)). A page needs far less: its first
/// render is about 10 KiB, then a few KiB a second.
pub const SEND_BUFFER: u32 = 128 * 1024;

/// Listens on `addr` as the board does (each connection with [`SEND_BUFFER`]).
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// let listener = parkboard::limits::listen("127.0.0.1:8080".parse().unwrap())?;
/// let capped = parkboard::limits::Capped::new(listener);
/// # Ok(()) }
/// ```
pub fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket =
        if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.set_send_buffer_size(SEND_BUFFER)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// A listener with the caps above.
pub struct Capped<L> {
    inner: L,
    slots: Arc<Semaphore>,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// The open connections, in the order they opened (those closed since are let go
    /// when room is made, or when the list has grown to twice `max`).
    open: Vec<std::sync::Weak<Shared>>,
    max: usize,
}

impl<L> Capped<L> {
    /// `inner`, capped at [`MAX_CONNECTIONS`].
    pub fn new(inner: L) -> Capped<L> {
        Capped::with_max(inner, MAX_CONNECTIONS)
    }

    /// `inner`, capped at `max` connections (tests use a few).
    pub fn with_max(inner: L, max: usize) -> Capped<L> {
        Capped {
            inner,
            slots: Arc::new(Semaphore::new(max)),
            per_address: Arc::default(),
            open: Vec::new(),
            max,
        }
    }
}

/// A connection that gives its place back when it closes.
pub struct CappedIo<T> {
    io: T,
    _slot: OwnedSemaphorePermit,
    _seat: AddressSeat,
    watch: Watch,
    shared: Arc<Shared>,
    /// While a write waits on the client: when it is given up ([`WRITE_DEADLINE`]).
    write_stall: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// What a connection shares with the listener.
#[derive(Default)]
struct Shared {
    /// The listener closed it to make room (see [`EVICT_AFTER`]).
    evicted: std::sync::atomic::AtomicBool,
    /// A live page's WebSocket now: never closed to make room.
    upgraded: std::sync::atomic::AtomicBool,
    waits: Mutex<Waits>,
}

/// Since when the connection has waited for its client's request (its head, or a
/// body still due; counted from the request's start, so a client sending a byte at a
/// time still waited) and for its client to read a write (`None`: not waiting), and
/// the wakers of its reads and writes: a new deadline, or an eviction, wakes them so
/// they poll again. A request the board is answering waits on nobody.
#[derive(Default)]
struct Waits {
    request: Option<std::time::Instant>,
    write: Option<std::time::Instant>,
    reader: Option<std::task::Waker>,
    writer: Option<std::task::Waker>,
}

impl Shared {
    fn waits(&self) -> std::sync::MutexGuard<'_, Waits> {
        self.waits.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_reader(&self) {
        if let Some(w) = self.waits().reader.take() {
            w.wake();
        }
    }

    fn wake_all(&self) {
        let (r, w) = {
            let mut waits = self.waits();
            (waits.reader.take(), waits.writer.take())
        };
        r.into_iter().chain(w).for_each(std::task::Waker::wake);
    }

    fn is_evicted(&self) -> bool {
        self.evicted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Since when it has waited on the client, read or write, if it may be closed to
    /// make room (not a live page's socket).
    fn waiting_since(&self) -> Option<std::time::Instant> {
        if self.is_evicted() || self.upgraded.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let w = self.waits();
        match (w.request, w.write) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// An error for a connection closed to make room.
fn evicted_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "closed to make room: every place was taken and this connection waited on its client",
    )
}

/// The largest request body the board reads (a body announced larger is refused on
/// the request's head: `guard`).
pub const MAX_BODY: usize = 16 * 1024;

/// Whether a refusal may be logged now: one line every 5 s at most, with how many
/// were held back since (refusals are what a flood is made of: a client pipelining
/// requests with a wrong Host wrote megabytes of log a second). Shared by every kind
/// of refusal the board logs.
pub(crate) fn refusal_to_log() -> Option<u64> {
    static LAST: Mutex<(Option<std::time::Instant>, u64)> = Mutex::new((None, 0));
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let now = std::time::Instant::now();
    if last.0.is_some_and(|t| now.duration_since(t) < Duration::from_secs(5)) {
        last.1 += 1;
        return None;
    }
    last.0 = Some(now);
    Some(std::mem::take(&mut last.1))
}

/// How long a write may wait on a client that does not read before the connection is
/// closed (a live page's own stall check, `WRITE_STALL`, acts sooner).
pub const WRITE_DEADLINE: Duration = Duration::from_secs(30);

struct AddressSeat {
    map: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Drop for AddressSeat {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl<L> Listener for Capped<L>
where
    L: Listener<Addr = SocketAddr>,
    L::Io: Unpin,
{
    type Io = CappedIo<L::Io>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // A place first when one is free; else the connection is accepted and
            // waits for one, after the longest wait for a head is cut to make room.
            let free = self.slots.clone().try_acquire_owned().ok();
            let (io, peer) = self.inner.accept().await;
            let ip = address_key(peer.ip());
            {
                let mut map = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
                let n = map.entry(ip).or_default();
                if *n >= PER_ADDRESS {
                    if let Some(held) = refusal_to_log() {
                        tracing::warn!(%ip, held, "refused a connection: {PER_ADDRESS} open from this address (held: refusals not logged since the last line)");
                    }
                    drop(io);
                    continue;
                }
                *n += 1;
            }
            let seat = AddressSeat { map: self.per_address.clone(), ip };
            let slot = match free {
                Some(slot) => slot,
                None => {
                    // Room is made as soon as some connection has waited long enough
                    // (and made again each second while the one told to go lingers).
                    let mut made = self.make_room(std::time::Instant::now()).then(std::time::Instant::now);
                    loop {
                        let wait = self.slots.clone().acquire_owned();
                        let retry = tokio::time::sleep(EVICT_AFTER / 4);
                        tokio::select! {
                            slot = wait => match slot {
                                Ok(slot) => break slot,
                                Err(_) => return std::future::pending().await,
                            },
                            _ = retry => {
                                let now = std::time::Instant::now();
                                if made.is_none_or(|t| now.duration_since(t) >= EVICT_AFTER) {
                                    made = self.make_room(now).then_some(now);
                                }
                            }
                        }
                    }
                }
            };
            let shared = Arc::new(Shared::default());
            if self.open.len() >= 2 * self.max {
                self.open.retain(|c| c.strong_count() > 0);
            }
            self.open.push(Arc::downgrade(&shared));
            let io =
                CappedIo { io, _slot: slot, _seat: seat, watch: Watch::head(), shared, write_stall: None };
            io.share_request_wait();
            return (io, peer);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl<L> Capped<L> {
    /// Every place is taken and a connection waits: the connection that has waited
    /// longest on its client (for a request head or body, or to read what the board
    /// wrote), at least [`EVICT_AFTER`], is told to close; a live page's socket never
    /// is. False when none has.
    fn make_room(&mut self, now: std::time::Instant) -> bool {
        self.open.retain(|c| c.strong_count() > 0);
        let oldest = self
            .open
            .iter()
            .filter_map(|c| c.upgrade())
            .filter_map(|c| {
                let since = c.waiting_since()?;
                (now.saturating_duration_since(since) >= EVICT_AFTER).then_some((since, c))
            })
            .min_by_key(|(since, _)| *since);
        let Some((_, c)) = oldest else { return false };
        c.evicted.store(true, std::sync::atomic::Ordering::Relaxed);
        c.wake_all();
        true
    }
}

impl<T> CappedIo<T> {
    /// The board wrote `first`: the watch moves on, and a reader waiting without a
    /// deadline is woken to take the new one.
    fn wrote(&mut self, first: &[u8]) {
        self.watch.write(first);
        self.share_request_wait();
        match self.watch {
            Watch::Head { .. } | Watch::Unframed { .. } => self.shared.wake_reader(),
            Watch::Upgraded => self.shared.upgraded.store(true, std::sync::atomic::Ordering::Relaxed),
            Watch::Answering { .. } => {}
        }
    }

    /// The listener sees whether the board waits for the client's request, and since
    /// when (the start of the wait: a byte now and then does not make it new).
    fn share_request_wait(&self) {
        let waits = self.watch.waits_on_client();
        let mut w = self.shared.waits();
        match (waits, w.request) {
            (true, None) => w.request = Some(std::time::Instant::now()),
            (false, Some(_)) => w.request = None,
            _ => {}
        }
    }

    /// A write made progress, or had to wait: the wait is shared with the listener,
    /// and past [`WRITE_DEADLINE`] it fails.
    fn after_write<R>(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<std::io::Result<R>>,
    ) -> Poll<std::io::Result<R>> {
        match written {
            Poll::Pending => {
                {
                    let mut w = self.shared.waits();
                    w.write.get_or_insert_with(std::time::Instant::now);
                    w.writer = Some(cx.waker().clone());
                }
                if self.shared.is_evicted() {
                    return Poll::Ready(Err(evicted_error()));
                }
                let stall =
                    self.write_stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_DEADLINE)));
                if stall.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("the client read nothing for {WRITE_DEADLINE:?}"),
                    )));
                }
                Poll::Pending
            }
            done => {
                self.write_stall = None;
                self.shared.waits().write = None;
                done
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CappedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.shared.is_evicted() {
            return Poll::Ready(Err(evicted_error()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let this = &mut *self;
                let ok = this.watch.read(&buf.filled()[before..]);
                this.share_request_wait();
                if ok {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("a request head over {MAX_HEAD} bytes"),
                    )))
                }
            }
            Poll::Pending if self.watch.expired(cx) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no whole request head within {REQUEST_DEADLINE:?}"),
            ))),
            Poll::Pending => {
                self.shared.waits().reader = Some(cx.waker().clone());
                // Evicted between the check above and the waker's arrival: seen now.
                if self.shared.is_evicted() {
                    return Poll::Ready(Err(evicted_error()));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CappedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.shared.is_evicted() {
            return Poll::Ready(Err(evicted_error()));
        }
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            self.wrote(&buf[..n]);
        }
        self.after_write(cx, written)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let flushed = Pin::new(&mut self.io).poll_flush(cx);
        self.after_write(cx, flushed)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if self.shared.is_evicted() {
            return Poll::Ready(Err(evicted_error()));
        }
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let (Poll::Ready(Ok(n)), Some(first)) = (&written, bufs.iter().find(|b| !b.is_empty())) {
            if *n > 0 {
                self.wrote(&first[..(*n).min(first.len())]);
            }
        }
        self.after_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Actions (park, retrieve, move) a user may start: [`ACTIONS_PER_SECOND`] a second,
/// bursts of [`ACTION_BURST`], all their pages together. A person clicks a few times a
/// second; a script on a stolen session, or a page's forged clicks, cannot hammer
/// Asterisk or fill the audit log.
pub const ACTIONS_PER_SECOND: f64 = 5.0;
/// See [`ACTIONS_PER_SECOND`].
pub const ACTION_BURST: f64 = 20.0;

/// Each user's bucket of actions (see [`ACTIONS_PER_SECOND`]); one per user name, and
/// user names come from the configuration, so the map stays as small as it.
#[derive(Clone, Default)]
pub struct ActionRates(Arc<Mutex<HashMap<String, (f64, std::time::Instant)>>>);

impl ActionRates {
    /// Takes one action of `user`'s at `now`; false when none is left.
    ///
    /// ```
    /// use parkboard::limits::{ActionRates, ACTION_BURST};
    /// let rates = ActionRates::default();
    /// let t = std::time::Instant::now();
    /// let taken = (0..100).filter(|_| rates.take("reception", t)).count();
    /// assert_eq!(taken, ACTION_BURST as usize);
    /// assert!(rates.take("reception", t + std::time::Duration::from_millis(200)), "one more a fifth of a second later");
    /// assert!(rates.take("wallboard", t), "each user has their own");
    /// ```
    pub fn take(&self, user: &str, now: std::time::Instant) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = map.entry(user.to_owned()).or_insert((ACTION_BURST, now));
        let dt = now.saturating_duration_since(*at).as_secs_f64();
        *at = now.max(*at);
        *tokens = (*tokens + dt * ACTIONS_PER_SECOND).min(ACTION_BURST);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
