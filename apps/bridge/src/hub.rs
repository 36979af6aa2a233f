//! Who is connected and where each message goes: the answer to an action to the
//! client that sent it (see `session`); of every other message of a server, by
//! default only parking leaves the bridge (parking events, `FullyBooted`,
//! `Shutdown`), each parking event only to the clients whose token sees its lot
//! (`--events all`: everything to every client of every lot). Each client has a
//! bounded queue, in frames (`--queue`) and in bytes ([`QUEUE_BYTES`]); a client
//! whose queue is full is cut off (close code 1008) instead of slowing the others.

use crate::frames::{self, Source};
use crate::tokens::Grant;
use ami_parking::amiws::FrameType;
use ami_parking::Message;
use ami_parking_transport::Client;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

/// The largest frame the bridge writes: an upstream message of at most
/// `DEFAULT_MAX_MESSAGE_BYTES` (1 MiB), each byte at most six in JSON (a control
/// character is `\u00XX`), and room for the frame's own keys.
pub const MAX_FRAME_BYTES: usize = 6 * ami_parking::ami_codec::DEFAULT_MAX_MESSAGE_BYTES + (1 << 20);

/// The most bytes of frames queued for one client: with the frame count alone, a
/// client that sent refused frames without reading their answers held about 1 GiB
/// (4,096 answers of 240 KB); a hostile upstream's frames of nearly 1 MiB, 4 GiB.
/// One largest frame and 1 MiB more (a list answer of about 10,000 calls fits), so a
/// client that reads is never cut by one frame.
pub const QUEUE_BYTES: usize = MAX_FRAME_BYTES + (1 << 20);

/// One client's way out: its queue and its kill switch.
#[derive(Debug)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<Arc<str>>,
    /// The bytes of the frames in the queue (taken off by the writer).
    queued: std::sync::atomic::AtomicUsize,
    /// What the client may see.
    pub(crate) grant: Arc<Grant>,
    pub(crate) cut: Arc<Notify>,
    pub(crate) too_slow: AtomicBool,
}

/// The upstream servers, as clients name them (`AMIServerID` = index + 1).
#[derive(Debug)]
pub(crate) struct Upstream {
    /// `server_id`, `server_name`, `ssl` of its frames.
    pub(crate) source: Source,
    /// Logged in, as last announced to the clients.
    pub(crate) logged_in: AtomicBool,
}

/// The bridge's shared state.
#[derive(Debug)]
pub struct Hub {
    clients: Mutex<HashMap<u64, Arc<Outbox>>>,
    next: AtomicU64,
    /// The links to every upstream (login, keep-alive, write deadline, bounded
    /// queue, reconnect: the transport's), servers 1, 2, ... in order.
    pub(crate) client: Client,
    pub(crate) upstreams: Vec<Upstream>,
    /// Every message of the servers to every client (`--events all`), not only
    /// parking.
    pub(crate) all_events: bool,
    /// Frames delivered to clients (for the load figures).
    pub delivered: AtomicU64,
}

impl Hub {
    pub(crate) fn new(client: Client, upstreams: Vec<Upstream>, all_events: bool) -> Self {
        Hub {
            clients: Mutex::default(),
            next: AtomicU64::default(),
            client,
            upstreams,
            all_events,
            delivered: AtomicU64::default(),
        }
    }

    /// Registers a client; its id and its queue's receiving end.
    pub(crate) fn join(
        &self,
        queue: usize,
        grant: Arc<Grant>,
    ) -> (u64, Arc<Outbox>, mpsc::Receiver<Arc<str>>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = mpsc::channel(queue.max(1));
        let out = Arc::new(Outbox {
            tx,
            queued: Default::default(),
            grant,
            cut: Arc::new(Notify::new()),
            too_slow: AtomicBool::new(false),
        });
        self.lock().insert(id, out.clone());
        (id, out, rx)
    }

    /// Forgets a client.
    pub(crate) fn leave(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Whether upstream `server` (1-based) is logged in now.
    pub fn is_logged_in(&self, server: u32) -> bool {
        server >= 1
            && self.upstreams.get(server as usize - 1).is_some_and(|u| u.logged_in.load(Ordering::Relaxed))
    }

    /// How many clients are connected.
    pub fn clients(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Outbox>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `frame` for one client; a full queue (in frames or in bytes) cuts the
    /// client off.
    pub(crate) fn send_to(&self, out: &Outbox, frame: Arc<str>) {
        let n = frame.len();
        let cut = |out: &Outbox| {
            if !out.too_slow.swap(true, Ordering::Relaxed) {
                out.cut.notify_one();
            }
        };
        if out.queued.fetch_add(n, Ordering::Relaxed) + n > QUEUE_BYTES {
            out.queued.fetch_sub(n, Ordering::Relaxed);
            return cut(out);
        }
        match out.tx.try_send(frame) {
            Ok(()) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                out.queued.fetch_sub(n, Ordering::Relaxed);
                cut(out);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                out.queued.fetch_sub(n, Ordering::Relaxed);
            }
        }
    }

    /// The writer took `frame` off `out`'s queue.
    pub(crate) fn taken(out: &Outbox, frame: &str) {
        out.queued.fetch_sub(frame.len(), Ordering::Relaxed);
    }

    /// Sends `frame` to every client `to` accepts.
    pub(crate) fn broadcast(&self, frame: Arc<str>, to: impl Fn(&Grant) -> bool) {
        let outs: Vec<Arc<Outbox>> = self.lock().values().filter(|o| to(&o.grant)).cloned().collect();
        for o in outs {
            self.send_to(&o, frame.clone());
        }
    }

    /// The source of upstream `server`'s frames (1-based).
    pub(crate) fn source(&self, server: u32) -> &Source {
        &self.upstreams[(server - 1) as usize].source
    }

    /// A message from upstream server `server` (1-based) that answers no client's
    /// action (an event, another program's answer): to the clients that may see it.
    pub(crate) fn deliver(&self, server: u32, msg: &Message) {
        let audience = audience(msg, self.all_events);
        if matches!(audience, Audience::Nobody) {
            return;
        }
        let frame: Arc<str> = frames::frame(FrameType::of(msg), self.source(server), msg).into();
        self.broadcast(frame, |g| audience.includes(g));
    }
}

/// Parking events: they go to the clients whose token sees their lot.
pub const PARKING_EVENTS: [&str; 5] =
    ["ParkedCall", "UnParkedCall", "ParkedCallTimeOut", "ParkedCallGiveUp", "ParkedCallSwap"];

/// Events every client gets: a server booted or is going down (resync).
pub const SERVER_EVENTS: [&str; 2] = ["FullyBooted", "Shutdown"];

/// Who may see a message that answers no client's action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Audience {
    /// Every client.
    Everyone,
    /// The clients whose token sees this lot.
    Lot(String),
    /// The clients of every lot (`--events all`).
    AllLots,
    /// No client.
    Nobody,
}

impl Audience {
    fn includes(&self, g: &Grant) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Lot(l) => g.sees_lot(l),
            Audience::AllLots => g.lots.is_none(),
            Audience::Nobody => false,
        }
    }
}

/// The lot a parking message (an event or a list item) is about, if it names one.
pub(crate) fn lot_of(msg: &Message) -> Option<String> {
    let key = if msg.is("Event", "Parkinglot") { "Name" } else { "ParkingLot" };
    msg.get_str(key).map(|l| l.into_owned())
}

/// Who may see `msg`, a message that answers no client's action.
pub(crate) fn audience(msg: &Message, all_events: bool) -> Audience {
    let event = msg.get_str("Event").unwrap_or_default();
    if PARKING_EVENTS.iter().any(|e| e.eq_ignore_ascii_case(&event)) {
        return match lot_of(msg) {
            Some(l) => Audience::Lot(l),
            None => Audience::AllLots,
        };
    }
    if SERVER_EVENTS.iter().any(|e| e.eq_ignore_ascii_case(&event)) {
        return Audience::Everyone;
    }
    if all_events {
        Audience::AllLots
    } else {
        Audience::Nobody
    }
}
