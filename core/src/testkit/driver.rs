//! [`Driver`]: plays [`Step`]s on a [`SimClient`], the reference model of Asterisk 22
//! behind a real connection and store.

use super::Step;
use crate::client::{LocalFuture, ParkingClient, RequestResult};
use crate::connection::{Park, Request, Target};
use crate::sim::{SimCall, SimClient};
use crate::store::ParkingStore;
use crate::time::Timestamp;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// How long a client step waits for its answer, in simulated time.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// Plays steps on a [`SimClient`] of the sandbox's lots (one server, raw AMI: a
/// step's `server` is read as server 1). Client steps wait for their answer in
/// simulated time, except a held refresh, whose answer comes with a later
/// [`Step::Deliver`] (or its deadline). [`Step::Rechunk`] changes nothing here (the
/// model's bytes go through whole).
///
/// ```
/// use ami_parking::testkit::{check_store, Driver, Step};
/// use ami_parking::{ParkingStore, Timestamp};
/// let store = ParkingStore::default();
/// let mut d = Driver::new(store.clone(), Timestamp::from_unix_millis(0));
/// d.run(&[Step::Park { server: 1, lot: 0, preferred: None }, Step::Wait { secs: 5 }]);
/// assert_eq!(store.total_parked_calls_now(), 1);
/// assert_eq!(check_store(&store), Ok(()));
/// ```
pub struct Driver {
    sim: SimClient,
    caller: u32,
    held: Vec<LocalFuture<RequestResult>>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("sim", &self.sim).field("held", &self.held.len()).finish()
    }
}

impl Driver {
    /// A [`SimClient`] writing into `store` at `now`, logged in and listed.
    pub fn new(store: ParkingStore, now: Timestamp) -> Self {
        Self::on(SimClient::new(store, now))
    }

    /// Plays on `sim` (a clone shares its state).
    pub fn on(sim: SimClient) -> Self {
        Driver { sim, caller: 5_550_000, held: Vec::new() }
    }

    /// The simulated client (its store, its PBX, its clock).
    pub fn sim(&self) -> &SimClient {
        &self.sim
    }

    /// Plays every step in order.
    pub fn run(&mut self, steps: &[Step]) {
        for s in steps {
            self.step(s);
        }
    }

    /// Plays one step.
    pub fn step(&mut self, step: &Step) {
        match *step {
            Step::Park { lot, preferred, .. } => {
                let num = self.next_caller();
                let lot = self.lot(lot);
                self.sim.with_pbx(|p, now| {
                    let _ = p.park(now, 1, &num, &format!("Customer {num}"), &lot, preferred);
                });
            }
            Step::DynamicPark { lot, .. } => {
                let num = self.next_caller();
                let lot = super::DYNAMIC_LOTS[lot % super::DYNAMIC_LOTS.len()];
                self.sim.with_pbx(|p, now| {
                    let _ = p.park_dynamic(now, 1, &num, &format!("Customer {num}"), lot);
                });
            }
            Step::Retrieve { pick, .. } => {
                self.on_call(pick, |p, now, c| drop(p.retrieve(now, 1, &c.lot, c.space, "1002")))
            }
            Step::GiveUp { pick, .. } => {
                self.on_call(pick, |p, now, c| drop(p.give_up(now, 1, &c.lot, c.space)))
            }
            Step::Swap { pick, .. } => {
                let n = self.caller + 1;
                self.caller = n;
                self.on_call(pick, |p, now, c| drop(p.swap(now, 1, &c.lot, c.space, n)));
            }
            Step::Reuse { pick, .. } => {
                let num = self.next_caller();
                self.on_call(pick, |p, now, c| {
                    drop(p.retrieve_and_reuse(now, 1, &c.lot, c.space, "1002", &num))
                });
            }
            Step::Move { pick, lot, space, .. } => {
                let (to, preferred) = self.place(lot, space);
                self.on_call(pick, |p, now, c| drop(p.move_call(now, 1, &c.lot, c.space, &to, preferred)));
            }
            Step::Wait { secs } => {
                self.sim.advance(Duration::from_secs(secs));
                self.poll_held();
            }
            Step::Refresh { lot } => {
                let lot = lot.map(|l| self.lot(l));
                self.answer(Request::ParkedCalls { lot });
            }
            Step::HeldRefresh { lot, .. } => {
                let lot = lot.map(|l| self.lot(l));
                self.sim.with_pbx(|p, _| p.hold_answers(true));
                let answer = self.sim.request(Request::ParkedCalls { lot }, Target::All);
                self.sim.with_pbx(|p, _| p.hold_answers(false));
                self.held.push(answer);
            }
            Step::Deliver { half } => {
                self.sim.with_pbx(|p, _| {
                    let _ = p.release_answer(half);
                });
                self.poll_held();
            }
            Step::ClientPark { lot, space, never, .. } => {
                let n = self.next_caller();
                let (name, preferred) = self.place(lot, space);
                let mut park = Park::default().lot(name);
                park.space = preferred;
                if never {
                    park = park.no_timeout();
                }
                self.answer(Request::Park { channel: format!("Local/caller-{n}-1;1"), park });
            }
            Step::ClientMove { pick, lot, space, .. } => {
                let Some(c) = self.pick(pick) else { return };
                let (name, preferred) = self.place(lot, space);
                let mut to = Park::default().lot(name);
                to.space = preferred;
                self.answer(Request::Move { space: c.space, lot: Some(c.lot), to });
            }
            Step::ClientRetrieve { pick, .. } => {
                let Some(c) = self.pick(pick) else { return };
                self.answer(Request::Retrieve {
                    space: c.space,
                    to_channel: "Local/s@hold".into(),
                    lot: Some(c.lot),
                });
            }
            Step::Disconnect => self.sim.disconnect(),
            Step::Reconnect => self.sim.connect(),
            Step::CleanRestart { .. } => {
                self.sim.with_pbx(|p, now| p.shutdown(now, 1));
                self.sim.disconnect();
                self.sim.with_pbx(|p, _| p.restart(1));
            }
            Step::Crash { .. } => {
                self.sim.with_pbx(|p, _| p.crash(1));
                self.sim.disconnect();
                self.sim.with_pbx(|p, _| p.restart(1));
            }
            Step::Rechunk { .. } => {}
        }
    }

    fn next_caller(&mut self) -> String {
        self.caller += 1;
        self.caller.to_string()
    }

    /// The name of lot `i` of server 1 (modulo its lots).
    fn lot(&self, i: usize) -> String {
        let lots = self.sim.with_pbx(|p, _| p.lots(1));
        lots.get(i % lots.len().max(1)).map(|l| l.name.clone()).unwrap_or_else(|| "default".into())
    }

    /// Lot `i`'s name and its `space`-th space.
    fn place(&self, lot: usize, space: Option<u32>) -> (String, Option<u32>) {
        let lots = self.sim.with_pbx(|p, _| p.lots(1));
        match lots.get(lot % lots.len().max(1)) {
            Some(l) => (l.name.clone(), space.map(|s| l.start + s % (l.end - l.start + 1).max(1))),
            None => ("default".into(), None),
        }
    }

    fn pick(&self, pick: usize) -> Option<SimCall> {
        let calls = self.sim.with_pbx(|p, _| p.calls(1));
        (!calls.is_empty()).then(|| calls[pick % calls.len()].clone())
    }

    fn on_call(&self, pick: usize, f: impl FnOnce(&mut crate::sim::SimPbx, Timestamp, SimCall)) {
        if let Some(c) = self.pick(pick) {
            self.sim.with_pbx(|p, now| f(p, now, c));
        }
    }

    /// Sends `req` and waits (in simulated time) for its answer, whatever it is.
    fn answer(&mut self, req: Request) {
        let mut answer = self.sim.request(req, Target::All);
        let until = self.sim.now() + ANSWER_WITHIN;
        while poll_once(&mut answer).is_pending() && self.sim.now() < until {
            self.sim.advance(Duration::from_millis(100));
        }
        self.poll_held();
    }

    /// Drops the held refreshes that were answered.
    fn poll_held(&mut self) {
        self.held.retain_mut(|a| poll_once(a).is_pending());
    }
}

fn poll_once(answer: &mut LocalFuture<RequestResult>) -> Poll<RequestResult> {
    Pin::new(answer).poll(&mut Context::from_waker(Waker::noop()))
}
