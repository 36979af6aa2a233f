//! Who is connected and where each message goes: the answer to an action to the
//! client that sent it (see `session`), every other message of a server to every
//! client. Each client has a bounded queue; a client whose queue is full is cut off
//! (close code 1008) instead of slowing the others.

use crate::frames;
use ami_parking::amiws::FrameType;
use ami_parking::Message;
use ami_parking_transport::Client;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

/// One client's way out: its queue and its kill switch.
#[derive(Debug)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<Arc<str>>,
    pub(crate) cut: Arc<Notify>,
    pub(crate) too_slow: AtomicBool,
}

/// The upstream servers, as clients name them (`AMIServerID` = index + 1).
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) name: String,
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
    /// Frames delivered to clients (for the load figures).
    pub delivered: AtomicU64,
}

impl Hub {
    pub(crate) fn new(client: Client, upstreams: Vec<Upstream>) -> Self {
        Hub {
            clients: Mutex::default(),
            next: AtomicU64::default(),
            client,
            upstreams,
            delivered: AtomicU64::default(),
        }
    }

    /// Registers a client; its id and its queue's receiving end.
    pub(crate) fn join(&self, queue: usize) -> (u64, Arc<Outbox>, mpsc::Receiver<Arc<str>>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = mpsc::channel(queue.max(1));
        let out = Arc::new(Outbox { tx, cut: Arc::new(Notify::new()), too_slow: AtomicBool::new(false) });
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

    /// Queues `frame` for one client; a full queue cuts the client off.
    pub(crate) fn send_to(&self, out: &Outbox, frame: Arc<str>) {
        match out.tx.try_send(frame) {
            Ok(()) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !out.too_slow.swap(true, Ordering::Relaxed) {
                    out.cut.notify_one();
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Sends `frame` to every client.
    pub(crate) fn broadcast(&self, frame: Arc<str>) {
        let outs: Vec<Arc<Outbox>> = self.lock().values().cloned().collect();
        for o in outs {
            self.send_to(&o, frame.clone());
        }
    }

    /// A message from upstream server `server` (1-based) that answers no client's
    /// action (an event, another program's answer): to everyone.
    pub(crate) fn deliver(&self, server: u32, msg: &Message) {
        let name = &self.upstreams[(server - 1) as usize].name;
        self.broadcast(frames::frame(FrameType::of(msg), server, name, msg).into());
    }
}
