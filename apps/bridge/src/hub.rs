//! Who is connected and where each message goes: a reply to the client whose action
//! it answers (its ActionID rewritten on the way up and restored on the way down),
//! everything else to every client. Each client has a bounded queue; a client whose
//! queue is full is cut off (close code 1008) instead of slowing the others.

use crate::frames;
use ami_parking::amiws::FrameType;
use ami_parking::Message;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

/// The prefix of every ActionID the bridge sends upstream: `amiwsb-<client>-<theirs>`.
const PREFIX: &str = "amiwsb-";

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
    pub(crate) actions: mpsc::UnboundedSender<Vec<u8>>,
    pub(crate) logged_in: AtomicBool,
}

/// The bridge's shared state.
#[derive(Debug, Default)]
pub struct Hub {
    clients: Mutex<HashMap<u64, Arc<Outbox>>>,
    next: AtomicU64,
    pub(crate) upstreams: Vec<Upstream>,
    /// Frames delivered to clients (for the load figures).
    pub delivered: AtomicU64,
}

impl Hub {
    pub(crate) fn new(upstreams: Vec<Upstream>) -> Self {
        Hub { upstreams, ..Default::default() }
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

    /// The ActionID to send upstream for client `id`'s `theirs`.
    pub(crate) fn upstream_action_id(id: u64, theirs: Option<&str>) -> String {
        format!("{PREFIX}{id}-{}", theirs.unwrap_or(""))
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

    /// A message from upstream server `server` (1-based): a reply goes to its client
    /// with the client's own ActionID, anything else to everyone.
    pub(crate) fn deliver(&self, server: u32, msg: &Message) {
        let kind = FrameType::of(msg);
        let name = &self.upstreams[(server - 1) as usize].name;
        if let Some((client, theirs)) = msg.get_str("ActionID").and_then(|a| split_action_id(&a)) {
            let out = self.lock().get(&client).cloned();
            if let Some(out) = out {
                let mut m = Message::with_capacity(msg.len(), 0);
                for (k, v) in msg.iter() {
                    if k.eq_ignore_ascii_case(b"ActionID") {
                        if !theirs.is_empty() {
                            m.push(k, theirs.as_bytes());
                        }
                    } else {
                        m.push(k, v);
                    }
                }
                self.send_to(&out, frames::frame(kind, server, name, &m).into());
            }
            return;
        }
        self.broadcast(frames::frame(kind, server, name, msg).into());
    }
}

/// `amiwsb-7-abc` is client 7's `abc`.
fn split_action_id(id: &str) -> Option<(u64, String)> {
    let rest = id.strip_prefix(PREFIX)?;
    let (client, theirs) = rest.split_once('-')?;
    Some((client.parse().ok()?, theirs.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_ids_round_trip_and_foreign_ones_are_broadcast() {
        assert_eq!(split_action_id(&Hub::upstream_action_id(7, Some("a-b"))), Some((7, "a-b".into())));
        assert_eq!(split_action_id(&Hub::upstream_action_id(3, None)), Some((3, String::new())));
        assert_eq!(split_action_id("someone-else-1"), None);
    }
}
