//! Property tests: random sequences of PBX operations, client operations, time jumps
//! and re-chunked bytes, replayed against the reference model of res_parking
//! (`ami_parking::sim`) and the real core fed the model's bytes. After every step
//! the store equals what the client should believe (the PBX's state while connected,
//! the last state seen while not) and the event log equals the model's change log:
//! every change seen live exactly once, and what happened while away reported once
//! by the resync.
//!
//! `PROPTEST_CASES` (default 256) sets how many sequences run; each has up to 50 steps.

use ami_parking::sim::{SimCall, SimPbx, Wire};
use ami_parking::{
    Connection, ConnectionConfig, Output, ParkingEvent, Reply, ResyncChange, Target, Timestamp,
};
use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use std::collections::BTreeSet;
use std::time::Duration;

/// One step.
#[derive(Debug, Clone)]
enum Op {
    /// A call parks through the dialplan.
    Park { server: u32, lot: usize, preferred: Option<u32> },
    /// A parked call is picked up from a phone.
    Retrieve { server: u32, pick: usize },
    /// A parked caller hangs up.
    GiveUp { server: u32, pick: usize },
    /// Another channel takes a parkee's place.
    Swap { server: u32, pick: usize },
    /// Simulated time passes (timeouts fire, keep-alives go out).
    Wait { secs: u64 },
    /// The client refreshes (all lots or one).
    Refresh { lot: Option<usize> },
    /// The client parks a call with `park_call`.
    ClientPark { lot: usize },
    /// The client retrieves with `retrieve_call`.
    ClientRetrieve { pick: usize },
    /// The link drops.
    Disconnect,
    /// The link comes back (login, resync).
    Reconnect,
    /// Asterisk shuts down cleanly (GiveUp for every call, Shutdown), then starts again.
    CleanRestart { server: u32 },
    /// kill -9 and start again: nothing is sent.
    Crash { server: u32 },
    /// Deliver the PBX's bytes to the client in these random chunks.
    Rechunk { seed: u64 },
}

/// What the generator needs to know.
#[derive(Debug, Clone)]
struct RefState {
    wire: Wire,
    connected: bool,
}

struct Model;

const LOTS_A: [&str; 2] = ["default", "vip"];
const LOTS_B: [&str; 2] = ["default", "sales"];

fn servers(wire: Wire) -> u32 {
    if wire == Wire::Amiws {
        2
    } else {
        1
    }
}

fn ops(wire: Wire) -> BoxedStrategy<Op> {
    let n = servers(wire);
    prop_oneof![
        6 => (1..=n, 0..2usize, prop::option::weighted(0.3, 701u32..=725)).prop_map(|(server, lot, preferred)| Op::Park { server, lot, preferred }),
        2 => (1..=n, any::<usize>()).prop_map(|(server, pick)| Op::Retrieve { server, pick }),
        2 => (1..=n, any::<usize>()).prop_map(|(server, pick)| Op::GiveUp { server, pick }),
        1 => (1..=n, any::<usize>()).prop_map(|(server, pick)| Op::Swap { server, pick }),
        3 => (0u64..40).prop_map(|secs| Op::Wait { secs }),
        2 => prop::option::of(0..2usize).prop_map(|lot| Op::Refresh { lot }),
        2 => (0..2usize).prop_map(|lot| Op::ClientPark { lot }),
        2 => any::<usize>().prop_map(|pick| Op::ClientRetrieve { pick }),
        1 => Just(Op::Disconnect),
        2 => Just(Op::Reconnect),
        1 => (1..=n).prop_map(|server| Op::CleanRestart { server }),
        1 => (1..=n).prop_map(|server| Op::Crash { server }),
        2 => any::<u64>().prop_map(|seed| Op::Rechunk { seed }),
    ]
    .boxed()
}

impl ReferenceStateMachine for Model {
    type State = RefState;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<RefState> {
        prop_oneof![Just(Wire::Ami), Just(Wire::Amiws)]
            .prop_map(|wire| RefState { wire, connected: true })
            .boxed()
    }

    fn transitions(state: &RefState) -> BoxedStrategy<Op> {
        ops(state.wire)
    }

    fn apply(mut state: RefState, op: &Op) -> RefState {
        match op {
            Op::Disconnect => state.connected = false,
            Op::Reconnect => state.connected = true,
            Op::Crash { .. } | Op::CleanRestart { .. } if state.wire == Wire::Ami => state.connected = false,
            _ => {}
        }
        state
    }
}

/// An expected event, normalised: kind, server, lot, space, unique id.
type Ev = (&'static str, u32, String, u32, String);

/// The system under test (the core) and the reference (the model) side by side.
struct Harness {
    pbx: SimPbx,
    conn: Connection,
    now: Timestamp,
    wire: Wire,
    chunk_seed: u64,
    connected: bool,
    /// What the client should believe: (server, lot, space, unique id).
    view: BTreeSet<(u32, String, u32, String)>,
    expected: Vec<Ev>,
    got: Vec<Ev>,
    seen_changes: usize,
    caller: u32,
}

fn ev(e: &ParkingEvent) -> Ev {
    let c = e.call();
    let kind = match e {
        ParkingEvent::Resync { change: ResyncChange::Appeared, .. } => "appeared",
        ParkingEvent::Resync { change: ResyncChange::Vanished, .. } => "vanished",
        e => e.kind(),
    };
    (kind, c.server_id, c.parking_lot.to_string(), c.parking_space, c.unique_id.clone())
}

fn key(server: u32, c: &SimCall) -> (u32, String, u32, String) {
    (server, c.lot.clone(), c.space, c.unique_id.clone())
}

/// Resync findings come in the store's order; compare them as sets within a run.
fn normalise(evs: &[Ev]) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    let mut run: Vec<Ev> = Vec::new();
    for e in evs {
        if e.0 == "appeared" || e.0 == "vanished" {
            run.push(e.clone());
        } else {
            run.sort();
            out.append(&mut run);
            out.push(e.clone());
        }
    }
    run.sort();
    out.append(&mut run);
    out
}

impl Harness {
    fn new(wire: Wire) -> Self {
        let now = Timestamp::from_unix_millis(1_800_000_000_000);
        let pbx = SimPbx::sandbox(wire);
        let mut cfg = match wire {
            Wire::Ami => ConnectionConfig::ami("amiuser", "amisecret"),
            Wire::Amiws => ConnectionConfig::amiws(),
        };
        cfg.request_timeout = Duration::from_secs(5);
        let conn = Connection::new(cfg, now);
        let mut h = Harness {
            pbx,
            conn,
            now,
            wire,
            chunk_seed: 1,
            connected: false,
            view: BTreeSet::new(),
            expected: Vec::new(),
            got: Vec::new(),
            seen_changes: 0,
            caller: 5550000,
        };
        h.connect();
        h
    }

    fn up_servers(&self) -> Vec<u32> {
        self.pbx.server_ids().into_iter().filter(|s| self.pbx.is_up(*s)).collect()
    }

    fn connect(&mut self) {
        if self.connected {
            return;
        }
        match self.wire {
            Wire::Ami => {
                if !self.pbx.is_up(1) {
                    return;
                }
                self.pbx.connect_client(1);
            }
            Wire::Amiws => {
                for s in self.pbx.server_ids() {
                    self.pbx.connect_client(s);
                }
            }
        }
        self.conn.handle_connected(self.now);
        self.connected = true;
        self.pump();
        self.resync_expectation(None);
    }

    fn disconnect(&mut self) {
        if !self.connected {
            return;
        }
        for s in self.pbx.server_ids() {
            self.pbx.disconnect_client(s);
        }
        self.conn.handle_disconnected(self.now);
        self.connected = false;
        self.pump();
    }

    /// After a resync of `only` (or every reachable server): what appeared and vanished.
    fn resync_expectation(&mut self, only: Option<u32>) {
        let servers: Vec<u32> = match only {
            Some(s) => vec![s],
            None => self.up_servers(),
        };
        for s in servers {
            let truth: BTreeSet<_> = self.pbx.calls(s).iter().map(|c| key(s, c)).collect();
            let mine: BTreeSet<_> = self.view.iter().filter(|k| k.0 == s).cloned().collect();
            for k in mine.difference(&truth) {
                self.expected.push(("vanished", k.0, k.1.clone(), k.2, k.3.clone()));
                self.view.remove(k);
            }
            for k in truth.difference(&mine) {
                self.expected.push(("appeared", k.0, k.1.clone(), k.2, k.3.clone()));
                self.view.insert(k.clone());
            }
        }
    }

    /// Changes the PBX made since the last look: live events when the client saw them.
    fn absorb_changes(&mut self, visible: bool) {
        let changes = self.pbx.changes()[self.seen_changes..].to_vec();
        self.seen_changes = self.pbx.changes().len();
        if !visible {
            return;
        }
        for c in changes {
            self.expected.push((c.kind, c.server_id, c.lot.clone(), c.space, c.unique_id.clone()));
            // Live events keep the view equal to the PBX.
            self.view.retain(|k| !(k.0 == c.server_id && k.1 == c.lot && k.2 == c.space));
            if c.kind == "parked" || c.kind == "swap" {
                self.view.insert((c.server_id, c.lot.clone(), c.space, c.unique_id.clone()));
            }
        }
    }

    fn chunks(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            self.chunk_seed ^= self.chunk_seed << 13;
            self.chunk_seed ^= self.chunk_seed >> 7;
            self.chunk_seed ^= self.chunk_seed << 17;
            let n = 1 + (self.chunk_seed % 900) as usize;
            let end = (pos + n).min(bytes.len());
            out.push(bytes[pos..end].to_vec());
            pos = end;
        }
        out
    }

    /// Moves bytes both ways until nothing moves.
    fn pump(&mut self) -> Vec<Output> {
        let mut outputs = Vec::new();
        for _ in 0..50 {
            let mut moved = false;
            match self.wire {
                Wire::Ami => {
                    let bytes = self.pbx.take_output(1);
                    if !bytes.is_empty() {
                        moved = true;
                        for c in self.chunks(&bytes) {
                            self.conn.handle_input(self.now, &c).expect("the core accepts the model's bytes");
                        }
                    }
                }
                Wire::Amiws => {
                    for f in self.pbx.take_frames() {
                        moved = true;
                        self.conn.handle_frame(self.now, &f).expect("the core accepts the model's frames");
                    }
                }
            }
            while let Some(b) = self.conn.poll_transmit() {
                moved = true;
                match self.wire {
                    Wire::Ami => self.pbx.handle_client_bytes(self.now, 1, &b),
                    Wire::Amiws => self.pbx.handle_client_frame(self.now, &b),
                }
            }
            while let Some(o) = self.conn.poll_output() {
                if let Output::Parking(e) = &o {
                    self.got.push(ev(e));
                }
                outputs.push(o);
            }
            if !moved {
                break;
            }
        }
        outputs
    }

    fn pick(&self, server: u32, pick: usize) -> Option<SimCall> {
        let calls = self.pbx.calls(server);
        (!calls.is_empty()).then(|| calls[pick % calls.len()].clone())
    }

    fn lot_name(&self, server: u32, lot: usize) -> &'static str {
        if server == 2 {
            LOTS_B[lot % 2]
        } else {
            LOTS_A[lot % 2]
        }
    }

    fn visible(&self, server: u32) -> bool {
        self.connected && self.pbx.is_up(server)
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Park { server, lot, preferred } => {
                self.caller += 1;
                let lot = self.lot_name(server, lot);
                let num = self.caller.to_string();
                let _ = self.pbx.park(self.now, server, &num, &format!("Customer {num}"), lot, preferred);
                let v = self.visible(server);
                self.absorb_changes(v);
                self.pump();
            }
            Op::Retrieve { server, pick } | Op::GiveUp { server, pick } | Op::Swap { server, pick } => {
                if let Some(c) = self.pick(server, pick) {
                    self.caller += 1;
                    let _ = match op {
                        Op::Retrieve { .. } => self.pbx.retrieve(self.now, server, &c.lot, c.space, "1002"),
                        Op::GiveUp { .. } => self.pbx.give_up(self.now, server, &c.lot, c.space),
                        _ => self.pbx.swap(self.now, server, &c.lot, c.space, &self.caller.to_string()),
                    };
                    let v = self.visible(server);
                    self.absorb_changes(v);
                    self.pump();
                }
            }
            Op::Wait { secs } => {
                // Step through every deadline in order, so each timeout is seen at its time.
                let end = self.now + Duration::from_secs(secs);
                loop {
                    let next = [self.pbx.next_deadline(), self.conn.poll_timeout()]
                        .into_iter()
                        .flatten()
                        .filter(|t| *t <= end)
                        .min();
                    let Some(t) = next else { break };
                    self.now = t.max(self.now);
                    self.pbx.advance(self.now);
                    let v = self.connected;
                    self.absorb_changes(v);
                    self.conn
                        .handle_timeout(self.now)
                        .expect("no keep-alive failure while the model answers");
                    self.pump();
                    if self.pbx.next_deadline().is_some_and(|d| d <= self.now) {
                        continue;
                    }
                    if self.conn.poll_timeout().is_some_and(|d| d <= self.now) {
                        self.now = self.now + Duration::from_millis(1);
                    }
                }
                self.now = end;
                self.pbx.advance(self.now);
                let v = self.connected;
                self.absorb_changes(v);
                self.pump();
            }
            Op::Refresh { lot } => {
                let lot = lot.map(|l| self.lot_name(1, l));
                if let Ok(id) = self.conn.get_parked_calls(self.now, lot, Target::All) {
                    let outs = self.pump();
                    assert!(
                        outs.iter().any(|o| matches!(o, Output::Reply { id: i, .. } if *i == id)),
                        "refresh answered"
                    );
                }
            }
            Op::ClientPark { lot } => {
                let server = 1;
                self.caller += 1;
                let lot = self.lot_name(server, lot);
                let chan = format!("Local/caller-{}-1;1", self.caller);
                let target = if self.wire == Wire::Amiws { Target::Server(server) } else { Target::All };
                if let Ok(id) = self.conn.park_call(self.now, &chan, Some(lot), None, target) {
                    let outs = self.pump();
                    let v = self.visible(server);
                    self.absorb_changes(v);
                    let reply = outs.iter().find_map(|o| match o {
                        Output::Reply { id: i, result } if *i == id => Some(result.clone()),
                        _ => None,
                    });
                    match reply.expect("park answered") {
                        Ok(Reply::Parked { space, .. }) => {
                            let parked = self
                                .pbx
                                .calls(server)
                                .into_iter()
                                .find(|c| c.channel == chan)
                                .expect("in the model");
                            assert_eq!(space, parked.space, "park_call answers the space Asterisk chose");
                        }
                        Ok(r) => panic!("{r:?}"),
                        Err(e) => assert!(e.to_string().contains("Park action failed"), "{e}"),
                    }
                }
            }
            Op::ClientRetrieve { pick } => {
                let server = 1;
                if let Some(c) = self.pick(server, pick) {
                    let target = if self.wire == Wire::Amiws { Target::Server(server) } else { Target::All };
                    match self.conn.retrieve_call(self.now, c.space, "Local/s@hold", Some(&c.lot), target) {
                        Ok(id) => {
                            let outs = self.pump();
                            let v = self.visible(server);
                            self.absorb_changes(v);
                            let got = outs.iter().any(|o| matches!(o, Output::Reply { id: i, result: Ok(Reply::Retrieved { .. }) } if *i == id));
                            assert!(got, "retrieve answered on the UnParkedCall: {outs:?}");
                        }
                        Err(e) => assert!(
                            !self.connected || !self.pbx.is_up(server),
                            "refused while connected: {e}"
                        ),
                    }
                }
            }
            Op::Disconnect => self.disconnect(),
            Op::Reconnect => self.connect(),
            Op::CleanRestart { server } => {
                if !self.pbx.is_up(server) {
                    return;
                }
                self.pbx.shutdown(self.now, server);
                let v = self.connected;
                self.absorb_changes(v);
                self.pump();
                self.after_restart(server);
            }
            Op::Crash { server } => {
                if !self.pbx.is_up(server) {
                    return;
                }
                self.pbx.crash(server);
                self.absorb_changes(false);
                self.after_restart(server);
            }
            Op::Rechunk { seed } => self.chunk_seed = seed | 1,
        }
    }

    fn after_restart(&mut self, server: u32) {
        match self.wire {
            Wire::Ami => {
                // The link died with Asterisk; it comes back when a Reconnect step says so.
                if self.connected {
                    self.conn.handle_disconnected(self.now);
                    self.connected = false;
                    self.pump();
                }
                self.pbx.restart(server);
            }
            Wire::Amiws => {
                // amiws logs in again by itself; the client resyncs that server.
                self.pbx.restart(server);
                if self.connected {
                    self.pump();
                    self.resync_expectation(Some(server));
                }
            }
        }
    }

    fn check(&self) {
        let store: BTreeSet<(u32, String, u32, String)> = self
            .conn
            .store()
            .calls_snapshot()
            .iter()
            .map(|c| (c.server_id, c.parking_lot.to_string(), c.parking_space, c.unique_id.clone()))
            .collect();
        assert_eq!(store, self.view, "the store equals what the client should believe");
        assert_eq!(
            normalise(&self.got),
            normalise(&self.expected),
            "the event log equals the model's change log"
        );
        if self.connected {
            for s in self.up_servers() {
                for c in self.pbx.calls(s) {
                    let stored = self.conn.store().get_parked_call(s, &c.lot, c.space).expect("stored");
                    let d = stored.deadline.map(|d| d.as_unix_millis() as i64);
                    let m = c.deadline.map(|d| d.as_unix_millis() as i64);
                    if let (Some(d), Some(m)) = (d, m) {
                        assert!((d - m).abs() <= 1000, "deadline within 1 s of Asterisk's");
                    }
                }
            }
        }
    }
}

struct Sut;

impl StateMachineTest for Sut {
    type SystemUnderTest = Harness;
    type Reference = Model;

    fn init_test(state: &RefState) -> Harness {
        Harness::new(state.wire)
    }

    fn apply(mut h: Harness, _state: &RefState, op: Op) -> Harness {
        h.step(op);
        h
    }

    fn check_invariants(h: &Harness, _state: &RefState) {
        h.check();
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

prop_state_machine! {
    #![proptest_config(Config { cases: cases(), failure_persistence: None, .. Config::default() })]

    #[test]
    fn the_store_follows_the_model(sequential 1..50 => Sut);
}
