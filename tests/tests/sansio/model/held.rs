//! The reference's part for held answers: each client list request whose answer the
//! PBX holds back, what live changes touched meanwhile (the store's collection
//! window), and what it should bring when its answer is written, its deadline passes
//! or the link drops. It never looks at the system under test.

use super::reference::{Key, RefState};
use ami_parking::Timestamp;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

/// The connection's request deadline in the suite.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What a request should end with: the calls it answers, or the error's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Calls(BTreeSet<Key>),
    Failed(&'static str),
}

/// A `ParkedCalls` request of the client, its answer held by the PBX.
#[derive(Debug, Clone)]
pub struct HeldRequest {
    server: u32,
    lot: Option<String>,
    /// Asterisk's calls when it answered (the PBX answers as the action arrives).
    snapshot: BTreeSet<Key>,
    deadline: Timestamp,
    /// Places and calls live events touched since the request.
    places: BTreeSet<(u32, String, u32)>,
    uids: BTreeSet<(u32, String)>,
}

/// The held requests: the PBX's held answers in order, the requests still open, and
/// what each ended with.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// The answers the PBX holds, oldest first: token and server.
    pub queue: VecDeque<(u64, u32)>,
    open: BTreeMap<u64, HeldRequest>,
    pub replies: BTreeMap<u64, Expected>,
    next: u64,
}

impl Held {
    /// The next token (the system under test numbers its held requests the same way).
    pub fn open(&mut self, server: u32, lot: Option<String>, snapshot: BTreeSet<Key>, now: Timestamp) {
        self.next += 1;
        let r = HeldRequest {
            server,
            lot,
            snapshot,
            deadline: now + REQUEST_TIMEOUT,
            places: BTreeSet::new(),
            uids: BTreeSet::new(),
        };
        self.open.insert(self.next, r);
        self.queue.push_back((self.next, server));
    }

    /// A live change the client saw: every open request's window notes it.
    pub fn touched(&mut self, k: &Key) {
        for r in self.open.values_mut() {
            r.places.insert((k.0, k.1.clone(), k.2));
            r.uids.insert((k.0, k.3.clone()));
        }
    }

    /// The link dropped: open requests fail, held answers are lost.
    pub fn link_lost(&mut self) {
        for t in std::mem::take(&mut self.open).into_keys() {
            self.replies.insert(t, Expected::Failed("Disconnected"));
        }
        self.queue.clear();
    }

    /// amiws: `server` went down: its held answers are lost. (Its resync does not
    /// wait for the client's own open requests: only an automatic refresh defers it.)
    pub fn server_lost(&mut self, server: u32) {
        self.queue.retain(|(_, s)| *s != server);
    }

    /// The earliest deadline of an open request.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.open.values().map(|r| r.deadline).min()
    }

    /// Requests whose deadline has come fail.
    pub fn expire(&mut self, now: Timestamp) {
        let due: Vec<u64> = self.open.iter().filter(|(_, r)| r.deadline <= now).map(|(t, _)| *t).collect();
        for t in due {
            self.open.remove(&t);
            self.replies.insert(t, Expected::Failed("Timeout"));
        }
    }

    /// The PBX wrote the oldest held answer whole: its request, if still open.
    pub fn delivered(&mut self) -> Option<(u64, HeldRequest)> {
        let (t, _) = self.queue.pop_front()?;
        self.open.remove(&t).map(|r| (t, r))
    }
}

impl RefState {
    /// A held request's answer came: the store reconciles its scope with the
    /// snapshot, leaving what live events touched meanwhile as they made it.
    pub fn reconcile(&mut self, token: u64, r: HeldRequest) {
        let dirty =
            |k: &Key| r.places.contains(&(k.0, k.1.clone(), k.2)) || r.uids.contains(&(k.0, k.3.clone()));
        let in_scope = |k: &Key| k.0 == r.server && r.lot.as_ref().is_none_or(|l| *l == k.1);
        let listed: BTreeSet<(String, u32)> = r.snapshot.iter().map(|k| (k.1.clone(), k.2)).collect();
        let gone: Vec<Key> = self
            .view
            .iter()
            .filter(|k| in_scope(k) && !listed.contains(&(k.1.clone(), k.2)) && !dirty(k))
            .cloned()
            .collect();
        for k in gone {
            self.vanish(&k);
        }
        let mut reply = BTreeSet::new();
        for c in &r.snapshot {
            let occupant = self.view.iter().find(|k| k.0 == c.0 && k.1 == c.1 && k.2 == c.2).cloned();
            if dirty(c) {
                reply.insert(occupant.unwrap_or_else(|| c.clone()));
                continue;
            }
            match occupant {
                Some(o) if o.3 == c.3 => {}
                o => {
                    if let Some(o) = o {
                        self.vanish(&o);
                    }
                    self.expected.push(("appeared", c.0, c.1.clone(), c.2, c.3.clone()));
                    self.view.insert(c.clone());
                    self.park_seen(c);
                }
            }
            reply.insert(c.clone());
        }
        self.held.replies.insert(token, Expected::Calls(reply));
    }

    fn vanish(&mut self, k: &Key) {
        self.expected.push(("vanished", k.0, k.1.clone(), k.2, k.3.clone()));
        self.view.remove(k);
        self.parks.remove(k);
    }
}
