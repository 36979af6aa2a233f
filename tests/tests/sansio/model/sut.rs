//! The system under test: the real core (`Connection` and its store), fed the bytes
//! of a model PBX that plays Asterisk's part on the wire, in random chunks. Its
//! results are compared with the reference after every step.

use super::held::{Expected, REQUEST_TIMEOUT};
use super::reference::{
    client_channel, lot_name, model_pbx, pbx_op, pick, preferred_space, start, Key, Model, RefState,
};
use super::{ev, normalise, Ev, Op};
use ami_parking::sim::{SimPbx, Wire};
use ami_parking::Request;
use ami_parking::{Connection, ConnectionConfig, Output, Park, ParkingError, Reply, Target, Timestamp};
use proptest_state_machine::StateMachineTest;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub struct Harness {
    /// The PBX on the other end of the wire.
    pbx: SimPbx,
    conn: Connection,
    now: Timestamp,
    wire: Wire,
    chunk_seed: u64,
    connected: bool,
    /// What the client heard.
    got: Vec<Ev>,
    /// Held list requests: their tokens (numbered as the reference numbers them).
    held_ids: BTreeMap<ami_parking::RequestId, u64>,
    tokens: u64,
    /// What each held request ended with.
    replies: BTreeMap<u64, Expected>,
    /// The oldest held answer was written in part (a list half read).
    split_open: bool,
    /// The store's calls as a UI builds them from the signal vec's diffs.
    mirror: std::cell::RefCell<ami_parking_tests::DiffProbe>,
    /// The store's lots as a UI builds them from the signal map's diffs.
    lots_mirror: std::cell::RefCell<ami_parking_tests::LotsProbe>,
}

impl Harness {
    fn new(wire: Wire) -> Self {
        let mut cfg = match wire {
            Wire::Ami => ConnectionConfig::ami("amiuser", "amisecret"),
            Wire::Amiws => ConnectionConfig::amiws(),
        };
        cfg.request_timeout = REQUEST_TIMEOUT;
        let now = start();
        let conn = Connection::new(cfg, now);
        let pbx = model_pbx(wire);
        let mirror = std::cell::RefCell::new(ami_parking_tests::DiffProbe::new(conn.store()));
        let lots_mirror = std::cell::RefCell::new(ami_parking_tests::LotsProbe::new(conn.store()));
        let mut h = Harness {
            pbx,
            conn,
            now,
            wire,
            chunk_seed: 1,
            connected: false,
            got: Vec::new(),
            held_ids: BTreeMap::new(),
            tokens: 0,
            replies: BTreeMap::new(),
            split_open: false,
            mirror,
            lots_mirror,
        };
        h.connect();
        h
    }

    fn connect(&mut self) {
        if self.connected || (self.wire == Wire::Ami && !self.pbx.is_up(1)) {
            return;
        }
        match self.wire {
            Wire::Ami => self.pbx.connect_client(1),
            Wire::Amiws => self.pbx.server_ids().into_iter().for_each(|s| self.pbx.connect_client(s)),
        }
        self.conn.handle_connected(self.now);
        self.connected = true;
        self.pump();
    }

    fn disconnect(&mut self) {
        if !self.connected {
            return;
        }
        if !self.held_ids.is_empty() {
            super::coverage::saw("situation: the link drops with a request pending");
        }
        self.split_open = false;
        for s in self.pbx.server_ids() {
            self.pbx.disconnect_client(s);
        }
        self.conn.handle_disconnected(self.now);
        self.connected = false;
        self.pump();
    }

    fn chunks(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            self.chunk_seed ^= self.chunk_seed << 13;
            self.chunk_seed ^= self.chunk_seed >> 7;
            self.chunk_seed ^= self.chunk_seed << 17;
            let end = (pos + 1 + (self.chunk_seed % 900) as usize).min(bytes.len());
            out.push(bytes[pos..end].to_vec());
            pos = end;
        }
        out
    }

    /// Moves bytes both ways until nothing moves (the connection's timers looked at
    /// first, as a driver does after each wake-up).
    fn pump(&mut self) -> Vec<Output> {
        let mut outputs = Vec::new();
        for _ in 0..50 {
            let mut moved = false;
            match self.wire {
                Wire::Ami => {
                    let bytes = self.pbx.take_output(1);
                    moved |= !bytes.is_empty();
                    for c in self.chunks(&bytes) {
                        self.conn.handle_input(self.now, &c).expect("the core accepts the model's bytes");
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
            if self.connected && self.conn.poll_timeout().is_some_and(|t| t <= self.now) {
                self.conn.handle_timeout(self.now).expect("no keep-alive failure while the model answers");
            }
            while let Some(o) = self.conn.poll_output() {
                if let Output::Reply { id, result } = &o {
                    if let Some(t) = self.held_ids.remove(id) {
                        self.replies.insert(t, expected_of(result));
                    }
                }
                if let (Output::Parking(_), false) = (&o, self.held_ids.is_empty()) {
                    super::coverage::saw("situation: a live event while a list request is open");
                    if self.split_open {
                        super::coverage::saw("situation: a live event inside a list answer");
                    }
                }
                if let Output::Parking(e) = &o {
                    self.got.push(ev(e));
                    super::coverage::saw(match e.kind() {
                        "parked" => "event: parked",
                        "retrieved" => "event: retrieved",
                        "timeout" => "event: timeout",
                        "giveup" => "event: giveup",
                        "swap" => "event: swap",
                        "moved" => "event: moved",
                        "near_timeout" => "event: near_timeout",
                        _ => "event: resync finding",
                    });
                }
                outputs.push(o);
            }
            if !moved {
                // A give-up waits a quarter of a second for a park that makes it a move:
                // let that time pass for it (a driver wakes at poll_timeout).
                match self.conn.poll_timeout() {
                    Some(t)
                        if self.connected && t > self.now && t <= self.now + Duration::from_millis(250) =>
                    {
                        self.conn.handle_timeout(t).expect("no keep-alive failure while the model answers");
                        continue;
                    }
                    _ => break,
                }
            }
        }
        outputs
    }

    /// Where a client operation on `server` goes.
    fn target(&self, server: u32) -> Target {
        if self.wire == Wire::Amiws {
            Target::Server(server)
        } else {
            Target::All
        }
    }

    fn step(&mut self, op: Op, reference: &RefState) {
        super::coverage::saw(super::coverage::row(&op));
        if let Op::ClientPark { server: 2, .. }
        | Op::ClientMove { server: 2, .. }
        | Op::ClientRetrieve { server: 2, .. } = op
        {
            super::coverage::saw("situation: a client operation on server 2");
        }
        if self.wire == Wire::Amiws {
            super::coverage::saw("wire: amiws (two servers)");
        } else {
            super::coverage::saw("wire: raw AMI");
        }
        match op {
            Op::Park { .. }
            | Op::DynamicPark { .. }
            | Op::Retrieve { .. }
            | Op::GiveUp { .. }
            | Op::Swap { .. }
            | Op::Reuse { .. }
            | Op::Move { .. } => {
                if pbx_op(&mut self.pbx, self.now, &op, reference.caller).is_some() {
                    self.pump();
                }
            }
            Op::ClientMove { server, pick: p, lot, space } => self.client_move(server, p, lot, space),
            Op::Wait { secs } => self.wait(secs),
            Op::Refresh { lot } => self.refresh(lot, reference),
            Op::HeldRefresh { server, lot } => self.held_refresh(server, lot),
            Op::Deliver { half } => self.deliver(half),
            Op::ClientPark { server, lot, space, never } => {
                self.client_park(server, reference.caller, lot, space, never)
            }
            Op::ClientRetrieve { server, pick: p } => self.client_retrieve(server, p),
            Op::Disconnect => self.disconnect(),
            Op::Reconnect => self.connect(),
            Op::CleanRestart { server } => {
                self.pbx.shutdown(self.now, server);
                self.pump();
                self.after_restart(server);
            }
            Op::Crash { server } => {
                self.pbx.crash(server);
                self.after_restart(server);
            }
            Op::Rechunk { seed } => self.chunk_seed = seed | 1,
        }
    }

    /// Steps through every deadline in order, so each timeout is seen at its time.
    fn wait(&mut self, secs: u64) {
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
            self.conn.handle_timeout(self.now).expect("no keep-alive failure while the model answers");
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
        self.pump();
    }

    /// The client refreshes (all lots or one): while connected it must get Asterisk's
    /// calls, from every server that has the lot.
    fn refresh(&mut self, lot: Option<usize>, reference: &RefState) {
        let name = lot.map(|l| lot_name(1, l));
        match self.conn.request(self.now, Request::ParkedCalls { lot: name.map(Into::into) }, Target::All) {
            Ok(id) => {
                let outs = self.pump();
                let reply = reply_to(&outs, id);
                let want: BTreeSet<Key> = self
                    .pbx
                    .server_ids()
                    .into_iter()
                    .filter(|s| name.is_none_or(|n| self.pbx.lots(*s).iter().any(|l| l.name == n)))
                    .flat_map(|s| reference.truth(s, name))
                    .collect();
                match reply.expect("refresh answered") {
                    Ok(Reply::Calls(calls)) => {
                        assert_eq!(keys(&calls), want, "a refresh answers Asterisk's calls")
                    }
                    r => panic!("a refresh while connected answers the calls: {r:?}"),
                }
            }
            Err(e) => assert!(!self.connected, "refresh refused while connected: {e}"),
        }
    }

    /// The client lists one server's calls; the PBX holds the answer.
    fn held_refresh(&mut self, server: u32, lot: Option<usize>) {
        let server = if self.wire == Wire::Ami { 1 } else { server };
        let name = lot.map(|l| lot_name(server, l));
        let id = match self.conn.request(
            self.now,
            Request::ParkedCalls { lot: name.map(Into::into) },
            self.target(server),
        ) {
            Ok(id) => id,
            Err(e) => return assert!(!self.connected, "list refused while connected: {e}"),
        };
        self.tokens += 1;
        self.held_ids.insert(id, self.tokens);
        let before = self.pbx.held_answers();
        self.pbx.hold_answers(true);
        while let Some(b) = self.conn.poll_transmit() {
            match self.wire {
                Wire::Ami => self.pbx.handle_client_bytes(self.now, 1, &b),
                Wire::Amiws => self.pbx.handle_client_frame(self.now, &b),
            }
        }
        self.pbx.hold_answers(false);
        assert_eq!(self.pbx.held_answers(), before + 1, "one answer held");
        self.pump();
    }

    /// The PBX writes its oldest held answer, whole or half.
    fn deliver(&mut self, half: bool) {
        if self.pbx.held_answers() == 0 {
            return;
        }
        let late = self.held_ids.is_empty();
        self.pbx.release_answer(half);
        self.split_open = half;
        if half {
            super::coverage::saw("situation: a list answer written in part");
        } else if late {
            super::coverage::saw("situation: an answer after its request ended");
        }
        let outs = self.pump();
        if outs.iter().any(|o| matches!(o, Output::Parking(ami_parking::ParkingEvent::Resync { .. }))) {
            super::coverage::saw("situation: a held list found a change");
        }
    }

    fn client_park(&mut self, server: u32, caller: u32, lot: usize, space: Option<u32>, never: bool) {
        let chan = client_channel(caller);
        let name = lot_name(server, lot);
        let full = self.pbx.lots(server).iter().find(|l| l.name == name).is_some_and(|l| {
            self.pbx.calls(server).iter().filter(|c| c.lot == name).count() as u32 == l.end - l.start + 1
        });
        let mut park = Park::default().lot(name);
        park.space = preferred_space(server, lot, space);
        if never {
            park = park.no_timeout();
        }
        let preferred = park.space;
        let id = match self.conn.request(
            self.now,
            Request::Park { channel: chan.clone(), park },
            self.target(server),
        ) {
            Ok(id) => id,
            Err(ParkingError::LotFull { .. }) => {
                super::coverage::saw("situation: park_call into a full lot");
                return assert!(full, "refused as full, yet the lot has room");
            }
            Err(e) => return assert!(!self.connected, "park refused while connected: {e}"),
        };
        let outs = self.pump();
        let reply = reply_to(&outs, id);
        match reply.expect("park answered") {
            Ok(Reply::Parked { space: got, .. }) => {
                let parked =
                    self.pbx.calls(server).into_iter().find(|c| c.channel == chan).expect("in the model");
                assert_eq!(got, parked.space, "park_call answers the space Asterisk chose");
                if preferred.is_some_and(|p| p != got) {
                    super::coverage::saw("situation: preferred space taken");
                }
                if never {
                    super::coverage::saw("situation: parked without timeout");
                }
                let stored = self.conn.store().parked_call_on_now(server, name, got).expect("stored");
                assert_eq!(stored.deadline().is_none(), never, "no timeout exactly when asked");
            }
            Ok(r) => panic!("{r:?}"),
            Err(ParkingError::LotFull { .. }) => {
                super::coverage::saw("situation: park_call into a full lot");
                assert!(full, "told full, yet the lot had room")
            }
            Err(e) => panic!("the park failed: {e}"),
        }
    }

    fn client_move(&mut self, server: u32, p: usize, lot: usize, space: Option<u32>) {
        let Some(c) = pick(&self.pbx, server, p) else { return };
        let name = lot_name(server, lot);
        let room =
            self.pbx.plan_move_space(server, &c.lot, c.space, name, preferred_space(server, lot, space));
        let mut to = Park::default().lot(name);
        to.space = preferred_space(server, lot, space);
        let id = match self.conn.request(
            self.now,
            Request::Move { space: c.space, lot: Some(c.lot.clone()), to },
            self.target(server),
        ) {
            Ok(id) => id,
            Err(ParkingError::LotFull { .. }) => {
                return assert!(room.is_none(), "refused as full, yet there is room")
            }
            Err(e) => return assert!(!self.connected, "move refused while connected: {e}"),
        };
        let outs = self.pump();
        let reply = reply_to(&outs, id);
        match reply.expect("move answered") {
            Ok(Reply::Moved { space: got, lot: l, .. }) => {
                assert_eq!(
                    (l.as_str(), Some(got)),
                    (name, room),
                    "move_call answers the place Asterisk chose"
                )
            }
            Ok(r) => panic!("{r:?}"),
            Err(ParkingError::LotFull { .. }) => assert!(room.is_none(), "told full, yet there was room"),
            Err(e) => panic!("the move failed: {e}"),
        }
    }

    fn client_retrieve(&mut self, server: u32, p: usize) {
        let Some(c) = pick(&self.pbx, server, p) else { return };
        match self.conn.request(
            self.now,
            Request::Retrieve { space: c.space, to_channel: "Local/s@hold".into(), lot: Some(c.lot.clone()) },
            self.target(server),
        ) {
            Ok(id) => {
                let outs = self.pump();
                let got = outs.iter().any(
                    |o| matches!(o, Output::Reply { id: i, result: Ok(Reply::Retrieved { .. }) } if *i == id),
                );
                assert!(got, "retrieve answered on the UnParkedCall: {outs:?}");
            }
            Err(e) => assert!(!self.connected || !self.pbx.is_up(server), "refused while connected: {e}"),
        }
    }

    fn after_restart(&mut self, server: u32) {
        if self.wire == Wire::Ami && self.connected {
            // The link died with Asterisk; it comes back when a Reconnect step says so.
            self.conn.handle_disconnected(self.now);
            self.connected = false;
            self.pump();
        }
        self.pbx.restart(server);
        if self.wire == Wire::Amiws && self.connected {
            // amiws logs in again by itself; the client resyncs that server.
            self.pump();
        }
    }

    fn check(&self, reference: &RefState) {
        assert_eq!(
            self.pbx.held_answers(),
            reference.held.queue.len(),
            "the PBX holds what the reference says"
        );
        assert_eq!(self.replies, reference.held.replies, "each held request ends as the reference says");
        let store: BTreeSet<Key> = self
            .conn
            .store()
            .parked_calls_now()
            .iter()
            .map(|c| (c.server_id, c.parking_lot.to_string(), c.parking_space, c.unique_id().to_string()))
            .collect();
        for s in self.pbx.server_ids() {
            assert_eq!(self.pbx.calls(s), reference.pbx.calls(s), "the wire's PBX and the reference agree");
        }
        assert_eq!(store, reference.view, "the store equals what the client should believe");
        let mut mirror = self.mirror.borrow_mut();
        mirror.take();
        let calls = self.conn.store().parked_calls_now();
        assert_eq!(mirror.mirror, calls, "the calls' diffs build the store's calls, in order");
        assert!(calls.windows(2).all(|w| w[0].sort_key() < w[1].sort_key()), "in (server, lot, space) order");
        assert_eq!(
            *self.lots_mirror.borrow_mut().take(),
            self.conn.store().parking_lots_map_now(),
            "the lots map's diffs build the store's lots"
        );
        if let Err(e) = ami_parking::sim::check_connection(&self.conn) {
            panic!("the store's invariants: {e}");
        }
        super::lot_checks::ranges(self.conn.store(), &self.pbx, self.connected);
        let (alerts, log): (Vec<Ev>, Vec<Ev>) = self.got.iter().cloned().partition(|e| e.0 == "near_timeout");
        assert_eq!(
            normalise(&log),
            normalise(&reference.expected),
            "the event log equals the model's change log"
        );
        // Alerts per call: at least the due ones, at most the allowed ones (a call
        // moved back into the same space is a new park, with an alert of its own).
        let mut fired: BTreeMap<Key, usize> = BTreeMap::new();
        for e in &alerts {
            *fired.entry((e.1, e.2.clone(), e.3, e.4.clone())).or_default() += 1;
        }
        for (k, due) in &reference.alerts_due {
            assert!(
                fired.get(k).copied().unwrap_or(0) >= *due,
                "every due alert fired: {k:?} due {due}, fired {fired:?}"
            );
        }
        for (k, n) in &fired {
            let allowed = reference.alerts_allowed.get(k).copied().unwrap_or(0);
            assert!(*n <= allowed, "no alert before its time or twice: {k:?} fired {n}, allowed {allowed}");
        }
        super::lot_checks::lot_views(self.conn.store(), reference);
        if self.connected {
            for s in self.pbx.server_ids().into_iter().filter(|s| self.pbx.is_up(*s)) {
                for c in self.pbx.calls(s) {
                    let stored = self.conn.store().parked_call_on_now(s, &c.lot, c.space).expect("stored");
                    assert_eq!(
                        stored.deadline().is_some(),
                        c.deadline.is_some(),
                        "a deadline exactly when Asterisk has one"
                    );
                    if let (Some(d), Some(m)) = (stored.deadline(), c.deadline) {
                        let skew = (d.as_unix_millis() as i64 - m.as_unix_millis() as i64).abs();
                        assert!(skew <= 1000, "deadline within 1 s of Asterisk's");
                    }
                }
            }
        }
    }
}

/// The calls of a reply, as keys.
fn keys(calls: &[std::sync::Arc<ami_parking::ParkedCall>]) -> BTreeSet<Key> {
    calls
        .iter()
        .map(|c| (c.server_id, c.parking_lot.to_string(), c.parking_space, c.unique_id().to_string()))
        .collect()
}

/// What a held request ended with, in the reference's terms.
fn expected_of(result: &Result<Reply, ParkingError>) -> Expected {
    match result {
        Ok(Reply::Calls(calls)) => Expected::Calls(keys(calls)),
        Err(ParkingError::Disconnected { .. }) => Expected::Failed("Disconnected"),
        Err(ParkingError::Timeout { .. }) => {
            super::coverage::saw("situation: a request past its deadline");
            Expected::Failed("Timeout")
        }
        r => panic!("a held list ends with its calls, a timeout or a dropped link: {r:?}"),
    }
}

/// The answer to request `id` among `outs`.
fn reply_to(outs: &[Output], id: ami_parking::RequestId) -> Option<Result<Reply, ParkingError>> {
    outs.iter().find_map(|o| match o {
        Output::Reply { id: i, result } if *i == id => Some(result.clone()),
        _ => None,
    })
}

pub struct Sut;

impl StateMachineTest for Sut {
    type SystemUnderTest = Harness;
    type Reference = Model;

    fn init_test(state: &RefState) -> Harness {
        Harness::new(state.wire)
    }

    fn apply(mut h: Harness, state: &RefState, op: Op) -> Harness {
        h.step(op.for_wire(state.wire), state);
        h
    }

    fn check_invariants(h: &Harness, state: &RefState) {
        assert_eq!(h.connected, state.connected, "the link is where the reference says");
        h.check(state);
    }
}
