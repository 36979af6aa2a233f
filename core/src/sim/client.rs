//! [`SimClient`]: a [`ParkingClient`] over the reference model, in memory, on a clock
//! you move: the store and the requests behave as over a real link to Asterisk 22
//! (every byte goes through the AMI codec both ways), with no socket and no runtime.
//! UI tests and prototypes use it where a real PBX is not the point.

use super::{SimPbx, Wire};
use crate::client::{LocalFuture, ParkingClient, RequestResult};
use crate::connection::{Connection, ConnectionConfig, Output, Reply, Request, RequestId, Target};
use crate::error::ParkingError;
use crate::store::ParkingStore;
use crate::time::Timestamp;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// The model's PBX (the sandbox's lots on server 1) and a logged-in connection to
/// it, sharing `store`. Cheap to clone (one shared state); not `Send`.
///
/// The store's listeners run while the client moves bytes: there they may read
/// [`SimClient::now`] and make requests (sent once the bytes in hand are handled),
/// but not drive the client ([`SimClient::with_pbx`], [`SimClient::advance`],
/// `connect`, `disconnect`: these panic, saying so).
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
    /// The simulated time, readable while the client is busy (from a listener).
    now: Rc<Cell<Timestamp>>,
    /// Requests a listener made while the client was busy: sent after the bytes in
    /// hand, each with where its id goes.
    deferred: Rc<RefCell<Vec<Deferred>>>,
    /// Who waits for an answer: woken after each pump (kept apart from the state, so
    /// a future polled while the client is busy can still register).
    waiting: Rc<RefCell<Vec<Waker>>>,
}

/// A request made while the client was busy, and where its id (or refusal) goes.
struct Deferred {
    req: Request,
    target: Target,
    sent: Rc<RefCell<Option<Result<RequestId, ParkingError>>>>,
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
        };
        let sim = SimClient {
            inner: Rc::new(RefCell::new(inner)),
            store,
            now: Rc::new(Cell::new(now)),
            deferred: Rc::default(),
            waiting: Rc::default(),
        };
        sim.connect();
        sim
    }

    /// The simulated time.
    pub fn now(&self) -> Timestamp {
        self.now.get()
    }

    /// The shared state, to drive the client: never from a store listener.
    fn drive(&self) -> std::cell::RefMut<'_, Inner> {
        self.inner.try_borrow_mut().unwrap_or_else(|_| {
            panic!("SimClient driven from a store listener: with_pbx, advance, connect and disconnect run outside listeners (requests may be made there)")
        })
    }

    /// Acts on the PBX (park, retrieve, give up, swap, crash...) at the current time,
    /// then lets the bytes flow.
    pub fn with_pbx<R>(&self, f: impl FnOnce(&mut SimPbx, Timestamp) -> R) -> R {
        let r = {
            let mut i = self.drive();
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
                let i = self.drive();
                [i.pbx.next_deadline(), i.conn.poll_timeout()].into_iter().flatten().min()
            };
            let Some(at) = next.filter(|t| *t <= until) else { break };
            {
                let mut i = self.drive();
                let at = at.max(i.now);
                i.now = at;
                self.now.set(at);
                i.pbx.advance(at);
                if i.conn.poll_timeout().is_some_and(|t| t <= at) && i.conn.handle_timeout(at).is_err() {
                    i.conn.handle_disconnected(at);
                }
            }
            self.pump();
        }
        self.drive().now = until;
        self.now.set(until);
        self.pump();
    }

    /// The link drops (Asterisk is still up): the store shows it, requests fail.
    pub fn disconnect(&self) {
        {
            let mut i = self.drive();
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
            let mut i = self.drive();
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

    /// Moves bytes both ways until nothing moves, then sends what listeners asked
    /// meanwhile (and moves their bytes); answers go to their futures.
    fn pump(&self) {
        // Bounded: a listener that asks again at each answer to its own request
        // would otherwise keep this loop going for ever.
        for _ in 0..PUMP_ROUNDS {
            self.pump_bytes();
            let asked = std::mem::take(&mut *self.deferred.borrow_mut());
            if asked.is_empty() {
                break;
            }
            for d in asked {
                let sent = {
                    let mut i = self.drive();
                    let now = i.now;
                    i.conn.request(now, d.req, d.target)
                };
                *d.sent.borrow_mut() = Some(sent);
            }
        }
    }

    /// [`SimClient::pump`]'s bytes: both ways until nothing moves.
    fn pump_bytes(&self) {
        {
            let mut i = self.drive();
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
        }
        let wake = std::mem::take(&mut *self.waiting.borrow_mut());
        wake.into_iter().for_each(Waker::wake);
    }
}

impl ParkingClient for SimClient {
    type Answer = LocalFuture<RequestResult>;

    fn store(&self) -> &ParkingStore {
        &self.store
    }

    fn request(&self, req: Request, target: Target) -> Self::Answer {
        let (inner, waiting) = (self.inner.clone(), self.waiting.clone());
        let Ok(mut i) = self.inner.try_borrow_mut() else {
            // Busy: a store listener asks. Sent once the bytes in hand are handled.
            let sent = Rc::new(RefCell::new(None));
            self.deferred.borrow_mut().push(Deferred { req, target, sent: sent.clone() });
            return Box::pin(async move {
                let id = poll_fn(|cx| match sent.borrow_mut().take() {
                    Some(r) => Poll::Ready(r),
                    None => {
                        waiting.borrow_mut().push(cx.waker().clone());
                        Poll::Pending
                    }
                })
                .await?;
                answer(inner, waiting, id).await
            });
        };
        let now = i.now;
        let sent = i.conn.request(now, req, target);
        drop(i);
        self.pump();
        Box::pin(async move { answer(inner, waiting, sent?).await })
    }
}

/// Rounds of a pump: bytes moved, then the requests listeners made meanwhile sent.
const PUMP_ROUNDS: usize = 64;

/// The reply to request `id`, once the pump has it (polled while the client is busy,
/// it waits for the next pump).
async fn answer(inner: Rc<RefCell<Inner>>, waiting: Rc<RefCell<Vec<Waker>>>, id: RequestId) -> RequestResult {
    poll_fn(|cx| {
        let reply = inner.try_borrow_mut().ok().and_then(|mut i| i.replies.remove(&id));
        match reply {
            Some(r) => Poll::Ready(r),
            None => {
                waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ParkingClient;
    use crate::model::event::ParkingEvent;
    use std::future::Future;

    thread_local! {
        static SIM: RefCell<Option<SimClient>> = const { RefCell::new(None) };
        static ASKED: RefCell<Vec<(Timestamp, Asked)>> = const { RefCell::new(Vec::new()) };
    }

    type Asked = std::pin::Pin<Box<dyn Future<Output = Result<crate::RetrievedFrom, ParkingError>>>>;

    fn ready<T>(f: impl Future<Output = T>) -> T {
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut std::task::Context::from_waker(Waker::noop())) {
            Poll::Ready(t) => t,
            Poll::Pending => panic!("not answered"),
        }
    }

    /// A listener (a UI's effect, say) reads the clock and makes a request while the
    /// client delivers an event: the request is sent after the bytes in hand and
    /// answered (found by a review: both panicked, "already mutably borrowed").
    #[test]
    fn a_listener_may_read_the_clock_and_make_requests() {
        let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(5_000));
        SIM.with(|s| *s.borrow_mut() = Some(sim.clone()));
        let _sub = sim.store().on_parking_event(|e| {
            if let ParkingEvent::Parked { call } = e {
                let space = call.parking_space;
                SIM.with(|s| {
                    let sim = s.borrow();
                    let sim = sim.as_ref().unwrap();
                    let mut asked: Asked = Box::pin(sim.retrieve_call(Some("default"), space, "PJSIP/1002"));
                    // Polled in place (as an executor that polls on spawn does): it waits.
                    let cx = &mut std::task::Context::from_waker(Waker::noop());
                    assert!(asked.as_mut().poll(cx).is_pending());
                    ASKED.with(|a| a.borrow_mut().push((sim.now(), asked)));
                });
            }
        });
        sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
        let asked = ASKED.with(|a| std::mem::take(&mut *a.borrow_mut()));
        assert_eq!(asked.len(), 1, "the listener heard the park");
        let (when, answer) = asked.into_iter().next().unwrap();
        assert_eq!(when, Timestamp::from_unix_millis(5_000));
        let got = ready(answer).expect("the listener's retrieve is answered");
        assert_eq!((got.lot.as_str(), got.space), ("default", 701));
        assert_eq!(sim.store().total_parked_calls_now(), 0, "retrieved");
        SIM.with(|s| s.borrow_mut().take());
    }

    /// A retrieve to a phone is taken by that phone's channel, its caller id unknown,
    /// as Asterisk reports an `Originate` without `CallerID` (the simulator answered
    /// 1002 "Reception" whichever phone was asked for).
    #[test]
    fn a_retrieve_to_a_phone_is_taken_by_that_phone() {
        let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(5_000));
        let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let into = heard.clone();
        let _sub = sim.store().on_parking_event(move |e| {
            if let ParkingEvent::Retrieved { retriever, .. } = e {
                into.lock()
                    .unwrap()
                    .push((retriever.channel.to_string(), retriever.caller_id_num.to_string()));
            }
        });
        for phone in ["PJSIP/1001", "Local/200@desks"] {
            let (_, space) =
                sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
            ready(sim.retrieve_call(Some("default"), space, phone)).expect("retrieved");
        }
        let heard = heard.lock().unwrap();
        assert_eq!(heard.len(), 2, "{heard:?}");
        let (channel, number) = &heard[0];
        assert!(channel.starts_with("PJSIP/1001-") && !channel.ends_with(";1"), "{channel}");
        assert_eq!(number, "<unknown>");
        assert!(heard[1].0.starts_with("Local/200@desks-") && heard[1].0.ends_with(";1"), "{heard:?}");
    }
}
