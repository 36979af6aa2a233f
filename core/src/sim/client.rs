//! [`SimClient`]: a [`ParkingClient`] over the reference model, in memory, on a clock
//! you move: the store and the requests behave as over a real link to Asterisk 22
//! (every byte goes through the AMI codec both ways), with no socket and no runtime.
//! UI tests and prototypes use it where a real PBX is not the point.

use super::{SimPbx, Wire};
use crate::client::{LocalFuture, ParkingClient};
use crate::connection::{Connection, ConnectionConfig, Output, Reply, Request, RequestId, Target};
use crate::error::ParkingError;
use crate::ParkingStore;
use crate::time::Timestamp;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// The model's PBX (the sandbox's lots on server 1) and a logged-in connection to
/// it, sharing `store`. Cheap to clone (one shared state); not `Send`.
///
/// ```
/// use ami_parking::sim::SimClient;
/// use ami_parking::{ParkingClient, ParkingStore, Timestamp};
/// use std::time::Duration;
/// let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(0));
/// sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
/// assert_eq!(sim.store().total_parked_calls_now(), 1);
/// sim.advance(Duration::from_secs(46)); // the lot's 45 s pass: Asterisk times it out
/// assert_eq!(sim.store().total_parked_calls_now(), 0);
/// ```
#[derive(Clone)]
pub struct SimClient {
    inner: Rc<RefCell<Inner>>,
    store: ParkingStore,
}

impl std::fmt::Debug for SimClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimClient").field("now", &self.now()).finish_non_exhaustive()
    }
}

struct Inner {
    pbx: SimPbx,
    conn: Connection,
    now: Timestamp,
    connected: bool,
    replies: HashMap<RequestId, Result<Reply, ParkingError>>,
    waiting: Vec<Waker>,
}

impl SimClient {
    /// The sandbox's PBX at `now`, connected and logged in, its lots and calls listed.
    pub fn new(store: ParkingStore, now: Timestamp) -> Self {
        let mut cfg = ConnectionConfig::ami("amiuser", "amisecret");
        cfg.keepalive_interval = Duration::ZERO;
        let inner = Inner {
            pbx: SimPbx::sandbox(Wire::Ami),
            conn: Connection::with_store(cfg, store.clone(), now),
            now,
            connected: false,
            replies: HashMap::new(),
            waiting: Vec::new(),
        };
        let sim = SimClient { inner: Rc::new(RefCell::new(inner)), store };
        sim.connect();
        sim
    }

    /// The simulated time.
    pub fn now(&self) -> Timestamp {
        self.inner.borrow().now
    }

    /// Acts on the PBX (park, retrieve, give up, swap, crash...) at the current time,
    /// then lets the bytes flow.
    pub fn with_pbx<R>(&self, f: impl FnOnce(&mut SimPbx, Timestamp) -> R) -> R {
        let r = {
            let mut i = self.inner.borrow_mut();
            let now = i.now;
            f(&mut i.pbx, now)
        };
        self.pump();
        r
    }

    /// Lets `d` pass: calls time out at their deadlines, the store's clock ticks, and
    /// request deadlines pass, each at its own instant and in order.
    pub fn advance(&self, d: Duration) {
        let until = self.now() + d;
        loop {
            let next = {
                let i = self.inner.borrow();
                [i.pbx.next_deadline(), i.conn.poll_timeout()].into_iter().flatten().min()
            };
            let Some(at) = next.filter(|t| *t <= until) else { break };
            {
                let mut i = self.inner.borrow_mut();
                let at = at.max(i.now);
                i.now = at;
                i.pbx.advance(at);
                if i.conn.poll_timeout().is_some_and(|t| t <= at) && i.conn.handle_timeout(at).is_err() {
                    i.conn.handle_disconnected(at);
                }
            }
            self.pump();
        }
        self.inner.borrow_mut().now = until;
        self.pump();
    }

    /// The link drops (Asterisk is still up): the store shows it, requests fail.
    pub fn disconnect(&self) {
        {
            let mut i = self.inner.borrow_mut();
            let now = i.now;
            i.pbx.disconnect_client(1);
            i.conn.handle_disconnected(now);
            i.connected = false;
        }
        self.pump();
    }

    /// The link comes back: login and resync, as after a reconnect.
    pub fn connect(&self) {
        {
            let mut i = self.inner.borrow_mut();
            if i.connected || !i.pbx.is_up(1) {
                return;
            }
            let now = i.now;
            i.pbx.connect_client(1);
            i.conn.handle_connected(now);
            i.connected = true;
        }
        self.pump();
    }

    /// Moves bytes both ways until nothing moves; answers go to their futures.
    fn pump(&self) {
        let wake = {
            let mut i = self.inner.borrow_mut();
            let i = &mut *i;
            for _ in 0..100 {
                let bytes = i.pbx.take_output(1);
                let mut moved = !bytes.is_empty();
                if i.connected && i.conn.handle_input(i.now, &bytes).is_err() {
                    i.conn.handle_disconnected(i.now);
                    i.connected = false;
                }
                while let Some(b) = i.conn.poll_transmit() {
                    moved = true;
                    i.pbx.handle_client_bytes(i.now, 1, &b);
                }
                while let Some(o) = i.conn.poll_output() {
                    if let Output::Reply { id, result } = o {
                        i.replies.insert(id, result);
                    }
                }
                if !moved {
                    break;
                }
            }
            std::mem::take(&mut i.waiting)
        };
        wake.into_iter().for_each(Waker::wake);
    }
}

impl ParkingClient for SimClient {
    fn store(&self) -> &ParkingStore {
        &self.store
    }

    fn request(&self, req: Request, target: Target) -> LocalFuture<Result<Reply, ParkingError>> {
        let sent = {
            let mut i = self.inner.borrow_mut();
            let now = i.now;
            i.conn.request(now, req, target)
        };
        self.pump();
        let inner = self.inner.clone();
        Box::pin(async move {
            let id = sent?;
            poll_fn(|cx| {
                let mut i = inner.borrow_mut();
                match i.replies.remove(&id) {
                    Some(r) => Poll::Ready(r),
                    None => {
                        i.waiting.push(cx.waker().clone());
                        Poll::Pending
                    }
                }
            })
            .await
        })
    }
}
