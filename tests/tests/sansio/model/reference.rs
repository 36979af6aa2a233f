//! The reference: what the client should believe and hear, computed from the model
//! of Asterisk (its own `SimPbx`, the truth) and whether the client is connected.
//! It never looks at the system under test.

use super::held::Held;
use super::{Ev, Op, LOTS_A, LOTS_B};
use ami_parking::sim::{SimCall, SimPbx, Wire};
use ami_parking::testkit::DYNAMIC_LOTS;
use ami_parking::Timestamp;
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The store's default near-timeout threshold.
const NEAR: Duration = Duration::from_secs(30);

/// One park the client knows: when its near-timeout alert is due, and whether it
/// should have fired.
#[derive(Debug, Clone)]
pub struct Park {
    alert: Option<Timestamp>,
    alerted: bool,
    /// Counted in `alerts_allowed` already.
    allowed: bool,
}

/// A call as the client should know it: (server, lot, space, unique id).
pub type Key = (u32, String, u32, String);

/// The reference state.
#[derive(Debug, Clone)]
pub struct RefState {
    pub wire: Wire,
    pub connected: bool,
    pub now: Timestamp,
    /// Asterisk's truth.
    pub pbx: SimPbx,
    /// The last caller number used.
    pub caller: u32,
    /// What the client should believe.
    pub view: BTreeSet<Key>,
    /// What the client should have heard, in order (near-timeout alerts apart).
    pub expected: Vec<Ev>,
    /// The parks in the view, by their current call.
    pub parks: BTreeMap<Key, Park>,
    /// Calls whose near-timeout alert must have fired (its time has come while the
    /// client knew the park).
    pub alerts_due: BTreeMap<Key, usize>,
    /// Calls whose alert may have fired: the store reads deadlines in whole seconds,
    /// so its alert may come up to a second before the model's.
    pub alerts_allowed: BTreeMap<Key, usize>,
    seen_changes: usize,
    /// The client's list requests whose answers the PBX holds.
    pub held: Held,
}

pub struct Model;

pub fn servers(wire: Wire) -> u32 {
    if wire == Wire::Amiws {
        2
    } else {
        1
    }
}

pub fn start() -> Timestamp {
    Timestamp::from_unix_millis(1_800_000_000_000)
}

/// The steps on `wire`: the test kit's strategy (`ami_parking::testkit::strategy`).
fn ops(wire: Wire) -> BoxedStrategy<Op> {
    ami_parking::testkit::strategy::step(servers(wire))
}

impl ReferenceStateMachine for Model {
    type State = RefState;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<RefState> {
        prop_oneof![Just(Wire::Ami), Just(Wire::Amiws)].prop_map(RefState::new).boxed()
    }

    fn transitions(state: &RefState) -> BoxedStrategy<Op> {
        ops(state.wire)
    }

    fn apply(mut state: RefState, op: &Op) -> RefState {
        state.step(&op.clone().for_wire(state.wire));
        state.note_alerts();
        state
    }
}

/// The lot `lot` (0 or 1) of `server`.
pub fn lot_name(server: u32, lot: usize) -> &'static str {
    if server == 2 {
        LOTS_B[lot % LOTS_B.len()]
    } else {
        LOTS_A[lot % LOTS_A.len()]
    }
}

/// The call `pick` chooses among `server`'s, if any.
/// The model's PBX: the sandbox's servers, server 1 with a `tiny` lot too (901-902,
/// 60 s, findslot=first), so that full lots happen.
pub fn model_pbx(wire: Wire) -> SimPbx {
    let mut p = SimPbx::new(wire);
    p.add_server("pbx-a", lots_a());
    if wire == Wire::Amiws {
        p.add_server("pbx-b", ami_parking::sim::sandbox_lots_b());
    }
    p
}

fn lots_a() -> Vec<ami_parking::sim::SimLot> {
    let mut lots = ami_parking::sim::sandbox_lots();
    lots.push(ami_parking::sim::SimLot::new("tiny", 901, 902, 60, ami_parking::sim::Findslot::First));
    lots
}

/// Plays a PBX-side `op` (a phone, a caller, another client) on `pbx`, with
/// `caller` as the number of a new caller; the server it acted on, `None` when it
/// found nothing to do. The reference and the system under test each play it on
/// their own PBX.
pub fn pbx_op(pbx: &mut SimPbx, now: Timestamp, op: &Op, caller: u32) -> Option<u32> {
    let num = caller.to_string();
    match *op {
        Op::Park { server, lot, preferred } => {
            let _ = pbx.park(now, server, &num, &format!("Customer {num}"), lot_name(server, lot), preferred);
            Some(server)
        }
        Op::DynamicPark { server, lot } => {
            let name = DYNAMIC_LOTS[lot % DYNAMIC_LOTS.len()];
            let _ = pbx.park_dynamic(now, server, &num, &format!("Customer {num}"), name);
            Some(server)
        }
        Op::Retrieve { server, pick: p }
        | Op::GiveUp { server, pick: p }
        | Op::Swap { server, pick: p }
        | Op::Reuse { server, pick: p }
        | Op::Move { server, pick: p, .. } => {
            let c = pick(pbx, server, p)?;
            let _ = match *op {
                Op::Retrieve { .. } => pbx.retrieve(now, server, &c.lot, c.space, "1002").map(drop),
                Op::GiveUp { .. } => pbx.give_up(now, server, &c.lot, c.space).map(drop),
                Op::Swap { .. } => pbx.swap(now, server, &c.lot, c.space, caller).map(drop),
                Op::Reuse { .. } => {
                    pbx.retrieve_and_reuse(now, server, &c.lot, c.space, "1002", &num).map(drop)
                }
                Op::Move { lot, space, .. } => {
                    let (to, preferred) = (lot_name(server, lot), preferred_space(server, lot, space));
                    pbx.move_call(now, server, &c.lot, c.space, to, preferred).map(drop)
                }
                _ => Ok(()),
            };
            Some(server)
        }
        _ => None,
    }
}

/// The preferred space an op's `space` index names in lot `lot` of `server`: inside
/// the lot (what Asterisk does with one outside was not measured).
pub fn preferred_space(server: u32, lot: usize, space: Option<u32>) -> Option<u32> {
    space.map(|i| first_space(server, lot) + i % lot_size(server, lot))
}

/// How many spaces lot `lot` of `server` has.
fn lot_size(server: u32, lot: usize) -> u32 {
    let name = lot_name(server, lot);
    let lots = if server == 2 { ami_parking::sim::sandbox_lots_b() } else { lots_a() };
    lots.into_iter().find(|l| l.name == name).map(|l| l.end - l.start + 1).unwrap_or(1)
}

/// The first space of lot `lot` of `server`.
fn first_space(server: u32, lot: usize) -> u32 {
    let name = lot_name(server, lot);
    let lots = if server == 2 { ami_parking::sim::sandbox_lots_b() } else { lots_a() };
    lots.into_iter().find(|l| l.name == name).map(|l| l.start).unwrap_or(701)
}

pub fn pick(pbx: &SimPbx, server: u32, pick: usize) -> Option<SimCall> {
    let calls = pbx.calls(server);
    (!calls.is_empty()).then(|| calls[pick % calls.len()].clone())
}

impl RefState {
    pub fn new(wire: Wire) -> Self {
        let mut s = RefState {
            wire,
            connected: false,
            now: start(),
            pbx: model_pbx(wire),
            caller: 5550000,
            view: BTreeSet::new(),
            expected: Vec::new(),
            parks: BTreeMap::new(),
            alerts_due: BTreeMap::new(),
            alerts_allowed: BTreeMap::new(),
            seen_changes: 0,
            held: Held::default(),
        };
        s.connect();
        s
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Park { .. }
            | Op::DynamicPark { .. }
            | Op::Retrieve { .. }
            | Op::GiveUp { .. }
            | Op::Swap { .. }
            | Op::Reuse { .. }
            | Op::Move { .. } => self.pbx_step(op),
            // The client's retrieve and move do on the PBX what a phone's or another
            // client's do, when the client can reach it.
            Op::ClientRetrieve { server, pick: p } if self.visible(server) => {
                if let Some(c) = pick(&self.pbx, server, p) {
                    let _ = self.pbx.retrieve(self.now, server, &c.lot, c.space, "1002");
                    self.absorb(self.visible(server));
                }
            }
            Op::ClientMove { server, pick, lot, space } if self.visible(server) => {
                self.pbx_step(&Op::Move { server, pick, lot, space })
            }
            Op::Refresh { lot } if self.connected => {
                // Every server that has the lot lists it (the others answer an error).
                let name = lot.map(|l| lot_name(1, l).to_string());
                for s in self.pbx.server_ids() {
                    if self.pbx.is_up(s)
                        && name.as_ref().is_none_or(|n| self.pbx.lots(s).iter().any(|l| l.name == *n))
                    {
                        self.resync_scope(s, name.as_deref());
                    }
                }
            }
            Op::HeldRefresh { server, lot } => {
                let server = if self.wire == Wire::Ami { 1 } else { server };
                if self.visible(server) {
                    let name = lot.map(|l| lot_name(server, l).to_string());
                    let snapshot = self.truth(server, name.as_deref());
                    self.held.open(server, name, snapshot, self.now);
                }
            }
            Op::Deliver { half: false } => {
                if let Some((token, r)) = self.held.delivered() {
                    self.reconcile(token, r);
                }
            }
            Op::ClientRetrieve { .. }
            | Op::ClientMove { .. }
            | Op::Refresh { .. }
            | Op::Rechunk { .. }
            | Op::Deliver { half: true } => {}
            Op::ClientPark { server, lot, space, never } => {
                self.caller += 1;
                if self.visible(server) {
                    let chan = client_channel(self.caller);
                    let timeout = never.then_some(0);
                    let (lot, preferred) = (lot_name(server, lot), preferred_space(server, lot, space));
                    let _ = self.pbx.park_channel(self.now, server, &chan, lot, timeout, preferred);
                    self.absorb(self.visible(server));
                }
            }
            Op::Wait { secs } => {
                // Alerts come before the timeouts of their calls (threshold > 0); a
                // held request's deadline splits the wait: what Asterisk did before
                // it, then the request fails.
                let end = self.now + Duration::from_secs(secs);
                loop {
                    let at = self.held.next_deadline().filter(|d| *d <= end).unwrap_or(end).max(self.now);
                    self.now = at;
                    self.note_alerts();
                    self.pbx.advance(self.now);
                    self.absorb(self.connected);
                    self.held.expire(self.now);
                    if at == end {
                        break;
                    }
                }
            }
            Op::Disconnect => {
                self.connected = false;
                self.held.link_lost();
            }
            Op::Reconnect => self.connect(),
            Op::CleanRestart { server } => {
                self.pbx.shutdown(self.now, server);
                self.absorb(self.connected);
                self.after_restart(server);
            }
            Op::Crash { server } => {
                self.pbx.crash(server);
                self.absorb(false);
                self.after_restart(server);
            }
        }
    }

    /// What happens on a PBX (a phone, a caller, another client): the change, then
    /// what the client should hear of it. A new caller number is used up by a park
    /// and by an operation that found its call, except a move.
    fn pbx_step(&mut self, op: &Op) {
        if let Some(server) = pbx_op(&mut self.pbx, self.now, op, self.caller + 1) {
            if !matches!(op, Op::Move { .. }) {
                self.caller += 1;
            }
            self.absorb(self.visible(server));
        }
    }

    /// After every step: the alerts whose time has come.
    pub fn note_alerts(&mut self) {
        for (k, p) in self.parks.iter_mut() {
            let Some(at) = p.alert else { continue };
            if at <= self.now && !p.alerted {
                p.alerted = true;
                *self.alerts_due.entry(k.clone()).or_default() += 1;
            }
            if at <= self.now + Duration::from_secs(1) && !p.allowed {
                p.allowed = true;
                *self.alerts_allowed.entry(k.clone()).or_default() += 1;
            }
        }
    }

    /// A new park of the call `k` enters the view.
    pub fn park_seen(&mut self, k: &Key) {
        let deadline = self.pbx.calls(k.0).into_iter().find(|c| c.unique_id == k.3).and_then(|c| c.deadline);
        self.parks.insert(
            k.clone(),
            Park { alert: deadline.map(|d| d.saturating_sub(NEAR)), alerted: false, allowed: false },
        );
    }

    fn visible(&self, server: u32) -> bool {
        self.connected && self.pbx.is_up(server)
    }

    fn connect(&mut self) {
        if self.connected || (self.wire == Wire::Ami && !self.pbx.is_up(1)) {
            return;
        }
        self.connected = true;
        self.resync(None);
    }

    fn after_restart(&mut self, server: u32) {
        self.pbx.restart(server);
        match self.wire {
            // The link died with Asterisk; it comes back when a Reconnect step says so.
            Wire::Ami => {
                self.connected = false;
                self.held.link_lost();
            }
            // amiws logs in again by itself; the client resyncs that server.
            Wire::Amiws if self.connected => {
                self.held.server_lost(server);
                self.resync(Some(server))
            }
            Wire::Amiws => {}
        }
    }

    /// After a resync of `only` (or every reachable server): what appeared and vanished.
    fn resync(&mut self, only: Option<u32>) {
        let servers: Vec<u32> = match only {
            Some(s) => vec![s],
            None => self.pbx.server_ids().into_iter().filter(|s| self.pbx.is_up(*s)).collect(),
        };
        for s in servers {
            self.resync_scope(s, None);
        }
    }

    /// Asterisk's calls on `server` (in `lot`).
    pub fn truth(&self, server: u32, lot: Option<&str>) -> BTreeSet<Key> {
        self.pbx
            .calls(server)
            .iter()
            .filter(|c| lot.is_none_or(|l| c.lot == l))
            .map(|c| (server, c.lot.clone(), c.space, c.unique_id.clone()))
            .collect()
    }

    /// A resync of `s` (one lot of it): what appeared and vanished.
    fn resync_scope(&mut self, s: u32, lot: Option<&str>) {
        let truth = self.truth(s, lot);
        let mine: BTreeSet<Key> =
            self.view.iter().filter(|k| k.0 == s && lot.is_none_or(|l| k.1 == l)).cloned().collect();
        for k in mine.difference(&truth) {
            self.expected.push(("vanished", k.0, k.1.clone(), k.2, k.3.clone()));
            self.view.remove(k);
            self.parks.remove(k);
        }
        for k in truth.difference(&mine) {
            self.expected.push(("appeared", k.0, k.1.clone(), k.2, k.3.clone()));
            self.view.insert(k.clone());
            self.park_seen(k);
        }
    }

    /// Changes Asterisk made since the last look: live events when the client saw them.
    fn absorb(&mut self, visible: bool) {
        let changes = self.pbx.changes()[self.seen_changes..].to_vec();
        self.seen_changes = self.pbx.changes().len();
        if !visible {
            return;
        }
        for c in changes {
            self.expected.push((c.kind, c.server_id, c.lot.clone(), c.space, c.unique_id.clone()));
            // Live events keep the view equal to the PBX. A leave takes its own call
            // (by unique id): a park may have taken the space before it came.
            let key = (c.server_id, c.lot.clone(), c.space, c.unique_id.clone());
            self.held.touched(&key);
            if c.kind == "moved" {
                // One move: out of its old place, into the new one (a new park).
                let old: Vec<Key> =
                    self.view.iter().filter(|k| k.0 == key.0 && k.3 == key.3).cloned().collect();
                for k in old {
                    self.view.remove(&k);
                    self.parks.remove(&k);
                }
                self.park_seen(&key);
                self.view.insert(key);
                continue;
            }
            if c.kind != "parked" && c.kind != "swap" {
                self.view.remove(&key);
                self.parks.remove(&key);
                continue;
            }
            let here = |k: &Key| k.0 == c.server_id && k.1 == c.lot && k.2 == c.space;
            let before: Option<Key> = self.view.iter().find(|k| here(k)).cloned();
            self.view.retain(|k| !here(k));
            let park = before.and_then(|k| self.parks.remove(&k));
            match (c.kind, park) {
                // A swap keeps the park (and its alert) for the new parkee.
                ("swap", Some(p)) => {
                    // An alert allowed but not yet due may fire for the new parkee.
                    if p.allowed && !p.alerted {
                        *self.alerts_allowed.entry(key.clone()).or_default() += 1;
                    }
                    self.parks.insert(key.clone(), p);
                }
                _ => self.park_seen(&key),
            }
            self.view.insert(key);
        }
    }
}

/// The channel a client park of caller `n` names (one the model knows exists).
pub fn client_channel(n: u32) -> String {
    format!("Local/caller-{n}-1;1")
}
