//! The simulated PBX: servers with lots and calls, what happens on them (parks,
//! retrieves, give-ups, swaps, timeouts, shutdowns, crashes, restarts), and what is
//! written to the client.

use super::wire;
use super::{sandbox_lots, sandbox_lots_b, Findslot, SimCall, SimChange, SimError, SimLot, Wire};
use crate::model::ServerId;
use crate::time::Timestamp;
use crate::wire::ami_codec::write_server_message;
use crate::wire::amiws::{write_frame, FrameType};
use crate::wire::Message;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone)]
pub(super) struct Server {
    pub(super) id: ServerId,
    pub(super) name: String,
    pub(super) lots: Vec<SimLot>,
    pub(super) calls: BTreeMap<(String, u32), SimCall>,
    pub(super) up: bool,
    pub(super) client: bool,
    pub(super) logged_in: bool,
    pub(super) out: Vec<u8>,
    /// Phones on the line with a caller: (phone, caller number), each one bridge.
    pub(super) desk_calls: Vec<(String, String)>,
}

/// The simulated PBX: one or more servers.
#[derive(Debug, Clone)]
pub struct SimPbx {
    pub(super) wire: Wire,
    pub(super) servers: Vec<Server>,
    pub(super) next_uid: u64,
    pub(super) next_chan: u64,
    pub(super) changes: Vec<SimChange>,
    /// amiws: the WebSocket client is connected to the proxy.
    pub(super) ws_client: bool,
    /// amiws: frames for the client, in the order written (every server).
    pub(super) ws_out: Vec<Vec<u8>>,
    /// Live parking events carry `Timestamp` (Asterisk's `timestampevents = yes`).
    pub(super) timestamp_events: bool,
    /// Answers are held back (see `held.rs`).
    pub(super) holding: bool,
    /// The held answers, one per action and server, oldest first.
    pub(super) held: std::collections::VecDeque<super::held::HeldAnswer>,
    /// The next answer written while holding starts a new held answer.
    pub(super) new_answer: bool,
}

impl SimPbx {
    /// An empty PBX whose clients speak `wire`.
    pub fn new(wire: Wire) -> Self {
        Self {
            wire,
            servers: Vec::new(),
            next_uid: 1,
            next_chan: 0,
            changes: Vec::new(),
            ws_client: false,
            ws_out: Vec::new(),
            timestamp_events: false,
            holding: false,
            held: Default::default(),
            new_answer: true,
        }
    }

    /// Live parking events carry a `Timestamp` header (`seconds.micros` of the event's
    /// time), as Asterisk writes with `timestampevents = yes` in `manager.conf`: what
    /// a load test measures delivery delay with.
    pub fn set_timestamp_events(&mut self, on: bool) {
        self.timestamp_events = on;
    }

    /// Emits a live parking event, stamped when `timestamp_events` is on.
    pub(super) fn emit_live(
        &mut self,
        server: ServerId,
        event: &str,
        c: &SimCall,
        now: Timestamp,
        retriever: Option<&SimCall>,
    ) {
        let m = wire::live_event(event, c, now, retriever);
        let m = if self.timestamp_events { wire::stamped(&m, now) } else { m };
        self.emit(server, m)
    }

    /// The sandbox's PBX: one server (`pbx-a`), or two behind amiws.
    pub fn sandbox(wire: Wire) -> Self {
        let mut p = Self::new(wire);
        p.add_server("pbx-a", sandbox_lots());
        if wire == Wire::Amiws {
            p.add_server("pbx-b", sandbox_lots_b());
        }
        p
    }

    /// Adds a server (ids from 1, in order); it is up.
    pub fn add_server(&mut self, name: &str, lots: Vec<SimLot>) -> ServerId {
        let id = self.servers.len() as ServerId + 1;
        self.servers.push(Server {
            id,
            name: name.into(),
            lots,
            calls: BTreeMap::new(),
            up: true,
            client: false,
            logged_in: false,
            out: Vec::new(),
            desk_calls: Vec::new(),
        });
        id
    }

    /// Server ids.
    pub fn server_ids(&self) -> Vec<ServerId> {
        self.servers.iter().map(|s| s.id).collect()
    }

    pub(super) fn srv(&mut self, id: ServerId) -> Result<&mut Server, SimError> {
        self.servers.iter_mut().find(|s| s.id == id).ok_or(SimError::NoServer(id))
    }

    pub(super) fn srv_ref(&self, id: ServerId) -> Option<&Server> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// The calls parked on `server` now, in (lot, space) order.
    pub fn calls(&self, server: ServerId) -> Vec<SimCall> {
        self.srv_ref(server).map(|s| s.calls.values().cloned().collect()).unwrap_or_default()
    }

    /// The lots of `server`.
    pub fn lots(&self, server: ServerId) -> Vec<SimLot> {
        self.srv_ref(server).map(|s| s.lots.clone()).unwrap_or_default()
    }

    /// True while `server` runs.
    pub fn is_up(&self, server: ServerId) -> bool {
        self.srv_ref(server).is_some_and(|s| s.up)
    }

    /// The change log so far (every change Asterisk made, seen or not).
    pub fn changes(&self) -> &[SimChange] {
        &self.changes
    }

    /// The earliest pending timeout.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.servers.iter().filter(|s| s.up).flat_map(|s| s.calls.values().filter_map(|c| c.deadline)).min()
    }

    /// Everything written to the raw AMI client of `server` since the last call.
    pub fn take_output(&mut self, server: ServerId) -> Vec<u8> {
        match self.srv(server) {
            Ok(s) => std::mem::take(&mut s.out),
            Err(_) => Vec::new(),
        }
    }

    /// amiws: every server's frames in the order written, as separate frames.
    pub fn take_frames(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.ws_out)
    }

    /// A client connects to `server` (raw AMI: the banner is sent; amiws: the proxy's
    /// link is up and logged in).
    pub fn connect_client(&mut self, server: ServerId) {
        let wire = self.wire;
        if wire == Wire::Amiws {
            self.ws_client = true;
        }
        if let Ok(s) = self.srv(server) {
            if !s.up {
                return;
            }
            s.client = true;
            s.logged_in = wire == Wire::Amiws;
            if wire == Wire::Ami {
                s.out.extend_from_slice(b"Asterisk Call Manager/11.0.0\r\n");
            }
        }
    }

    /// The client's link to `server` dropped.
    pub fn disconnect_client(&mut self, server: ServerId) {
        if self.wire == Wire::Amiws {
            self.ws_client = false;
            self.ws_out.clear();
            self.held.clear();
        }
        self.held.retain(|h| h.server != server);
        if let Ok(s) = self.srv(server) {
            s.client = false;
            s.logged_in = false;
            s.out.clear();
        }
    }

    /// Writes an event to the client of `server`, once it has logged in.
    pub(super) fn emit(&mut self, server: ServerId, m: Message) {
        self.write(server, m, true);
    }

    /// Writes the answer to one of the client's actions (sent even before login).
    pub(super) fn answer(&mut self, server: ServerId, m: Message) {
        if self.holding {
            return self.hold(server, m);
        }
        self.write(server, m, false);
    }

    pub(super) fn write(&mut self, server: ServerId, m: Message, needs_login: bool) {
        let wire = self.wire;
        let mut frame = Vec::new();
        if let Ok(s) = self.srv(server) {
            if !s.client || (needs_login && !s.logged_in) {
                return;
            }
            match wire {
                Wire::Ami => write_server_message(&m, &mut s.out),
                Wire::Amiws => {
                    write_frame(FrameType::of(&m), s.id, &s.name.clone(), &m, &mut frame);
                }
            }
        }
        if !frame.is_empty() {
            self.ws_out.push(frame);
        }
    }

    pub(super) fn new_call(
        &mut self,
        now: Timestamp,
        caller_num: &str,
        caller_name: &str,
        lot: &str,
        space: u32,
        timeout: Option<u64>,
    ) -> SimCall {
        let uid = format!("{}.{}", now.as_unix_millis() / 1000, self.next_uid);
        self.next_uid += 1;
        let chan = format!("Local/s@hold-{:08x};1", self.next_chan);
        self.next_chan += 1;
        SimCall {
            channel: chan,
            unique_id: uid,
            caller_num: caller_num.into(),
            caller_name: caller_name.into(),
            lot: lot.into(),
            space,
            parked_at: now,
            deadline: timeout.filter(|&t| t > 0).map(|t| now + Duration::from_secs(t)),
        }
    }

    /// Picks a space like res_parking: a preferred space if free, else the next free
    /// higher one, wrapping; `findslot` otherwise. `None` when the lot is full.
    pub(super) fn pick(
        lot: &SimLot,
        calls: &BTreeMap<(String, u32), SimCall>,
        preferred: Option<u32>,
    ) -> Option<u32> {
        let free = |s: u32| !calls.contains_key(&(lot.name.clone(), s));
        let n = lot.end - lot.start + 1;
        let from = match preferred {
            Some(p) if (lot.start..=lot.end).contains(&p) => p,
            _ => match (lot.findslot, lot.last) {
                (Findslot::Next, Some(l)) if l < lot.end => l + 1,
                _ => lot.start,
            },
        };
        (0..n).map(|i| lot.start + (from - lot.start + i) % n).find(|&s| free(s))
    }

    /// A call from `caller_num` is parked in `lot` (through the dialplan: the live
    /// `ParkedCall` is the only message). Returns (lot, space).
    pub fn park(
        &mut self,
        now: Timestamp,
        server: ServerId,
        caller_num: &str,
        caller_name: &str,
        lot: &str,
        preferred: Option<u32>,
    ) -> Result<(String, u32), SimError> {
        let (space, timeout) = {
            let s = self.srv(server)?;
            if !s.up {
                return Err(SimError::Down(server));
            }
            let l = s.lots.iter().find(|l| l.name == lot).ok_or_else(|| SimError::NoLot(lot.into()))?;
            let space = Self::pick(l, &s.calls, preferred).ok_or_else(|| SimError::Full(lot.into()))?;
            (space, l.timeout_secs)
        };
        let call = self.new_call(now, caller_num, caller_name, lot, space, Some(timeout));
        self.place(now, server, call.clone());
        Ok((call.lot, space))
    }

    /// A call from `caller_num` is parked in the dynamic lot `lot` (a dialplan with
    /// `PARKINGDYNAMIC` and `parkeddynamic` on): Asterisk makes the lot at the park when
    /// it has none by that name ([`SimLot::new_dynamic`]: 901-905), lists it from then
    /// on, takes `Park` actions into it, and keeps it, empty or not, until it restarts.
    /// Returns (lot, space), like [`SimPbx::park`].
    ///
    /// ```
    /// use ami_parking::sim::{SimPbx, Wire};
    /// use ami_parking::Timestamp;
    /// let t = Timestamp::from_unix_millis(0);
    /// let mut pbx = SimPbx::sandbox(Wire::Ami);
    /// assert_eq!(pbx.park_dynamic(t, 1, "5551001", "Customer", "overflow").unwrap(), ("overflow".into(), 901));
    /// assert!(pbx.lots(1).iter().any(|l| l.name == "overflow" && l.dynamic));
    /// pbx.crash(1);
    /// pbx.restart(1);
    /// assert!(pbx.lots(1).iter().all(|l| !l.dynamic), "gone with the restart");
    /// ```
    pub fn park_dynamic(
        &mut self,
        now: Timestamp,
        server: ServerId,
        caller_num: &str,
        caller_name: &str,
        lot: &str,
    ) -> Result<(String, u32), SimError> {
        let s = self.srv(server)?;
        if s.up && !s.lots.iter().any(|l| l.name == lot) {
            s.lots.push(SimLot::new_dynamic(lot));
        }
        self.park(now, server, caller_num, caller_name, lot, None)
    }

    /// Adds a change to the log (the swap's is the new parkee's).
    /// Takes the change log so far (a long-running PBX, the demo, drains it so that it
    /// does not grow for ever).
    pub fn take_changes(&mut self) -> Vec<SimChange> {
        std::mem::take(&mut self.changes)
    }

    pub(super) fn record(&mut self, kind: &'static str, server_id: ServerId, c: &SimCall) {
        let (lot, space, unique_id) = (c.lot.clone(), c.space, c.unique_id.clone());
        self.changes.push(SimChange { kind, server_id, lot, space, unique_id });
    }

    pub(super) fn place(&mut self, now: Timestamp, server: ServerId, call: SimCall) {
        if let Ok(s) = self.srv(server) {
            if let Some(l) = s.lots.iter_mut().find(|l| l.name == call.lot) {
                l.last = Some(call.space);
            }
            s.calls.insert((call.lot.clone(), call.space), call.clone());
        }
        self.record("parked", server, &call);
        self.emit_live(server, "ParkedCall", &call, now, None);
    }

    pub(super) fn take_call(&mut self, server: ServerId, lot: &str, space: u32) -> Result<SimCall, SimError> {
        let s = self.srv(server)?;
        if !s.up {
            return Err(SimError::Down(server));
        }
        s.calls.remove(&(lot.to_string(), space)).ok_or_else(|| SimError::Empty(lot.into(), space))
    }

    /// The client parks `channel` (a `Park` action Asterisk accepted): `preferred` when
    /// free, else the lot's space choice after it; `timeout_secs` (0: none) or the
    /// lot's own; and the live `ParkedCall`.
    /// Channels named `Local/caller-<num>...` exist (the demo's callers); any other
    /// name does not (`Ok(None)`).
    pub fn park_channel(
        &mut self,
        now: Timestamp,
        server: ServerId,
        channel: &str,
        lot: &str,
        timeout_secs: Option<u64>,
        preferred: Option<u32>,
    ) -> Result<Option<u32>, SimError> {
        let Some((num, space, secs)) = self.plan_park(server, channel, lot, timeout_secs, preferred)? else {
            return Ok(None);
        };
        let mut call = self.new_call(now, &num, &format!("Customer {num}"), lot, space, Some(secs));
        call.channel = channel.into();
        self.place(now, server, call);
        Ok(Some(space))
    }

    /// What [`SimPbx::park_channel`] would do: (caller number, space, timeout).
    pub(super) fn plan_park(
        &self,
        server: ServerId,
        channel: &str,
        lot: &str,
        timeout_secs: Option<u64>,
        preferred: Option<u32>,
    ) -> Result<Option<(String, u32, u64)>, SimError> {
        let Some(num) =
            channel.strip_prefix("Local/caller-").map(|r| r.split(['@', ';', '-']).next().unwrap_or(""))
        else {
            return Ok(None);
        };
        let s = self.srv_ref(server).ok_or(SimError::NoServer(server))?;
        let l = s.lots.iter().find(|l| l.name == lot).ok_or_else(|| SimError::NoLot(lot.into()))?;
        let space = Self::pick(l, &s.calls, preferred).ok_or_else(|| SimError::Full(lot.into()))?;
        Ok(Some((num.to_string(), space, timeout_secs.unwrap_or(l.timeout_secs))))
    }

    /// A caller `caller_num` on the line with `phone` (`PJSIP/1001`) on `server`: its
    /// `Status` lists the phone's channel and the caller's `Local/caller-<num>-...;1` in
    /// one bridge, so [`crate::ParkingClient::park_caller_of`] finds it. Parking the
    /// caller ends the phone's call, as on Asterisk.
    pub fn connect_caller(
        &mut self,
        server: ServerId,
        phone: &str,
        caller_num: &str,
    ) -> Result<(), SimError> {
        let s = self.srv(server)?;
        s.desk_calls.push((phone.to_string(), caller_num.to_string()));
        Ok(())
    }

    /// The phones on the line with a caller on `server`: (phone, caller number).
    pub fn desk_calls(&self, server: ServerId) -> Vec<(String, String)> {
        self.srv_ref(server).map(|s| s.desk_calls.clone()).unwrap_or_default()
    }

    /// The call in `space` of `lot` is parked again elsewhere (a `Park` of the parked
    /// channel): `to_lot`, `preferred` when free, else the lot's choice after it. Asterisk
    /// reports it as `ParkedCallGiveUp` (old place) then `ParkedCall` (new place) for
    /// the same channel and unique id. Returns the call in its new place.
    pub fn move_call(
        &mut self,
        now: Timestamp,
        server: ServerId,
        lot: &str,
        space: u32,
        to_lot: &str,
        preferred: Option<u32>,
    ) -> Result<SimCall, SimError> {
        let (to_space, timeout) = self.plan_move(server, lot, space, to_lot, preferred)?;
        let old = self.take_call(server, lot, space)?;
        self.emit_live(server, "ParkedCallGiveUp", &old, now, None);
        let mut new = old.clone();
        new.lot = to_lot.into();
        new.space = to_space;
        new.parked_at = now;
        new.deadline = (timeout > 0).then(|| now + Duration::from_secs(timeout));
        if let Ok(s) = self.srv(server) {
            if let Some(l) = s.lots.iter_mut().find(|l| l.name == to_lot) {
                l.last = Some(to_space);
            }
            s.calls.insert((new.lot.clone(), new.space), new.clone());
        }
        self.record("moved", server, &new);
        self.emit_live(server, "ParkedCall", &new, now, None);
        Ok(new)
    }

    /// Where [`SimPbx::move_call`] would put the call: (space, the lot's timeout).
    pub(super) fn plan_move(
        &self,
        server: ServerId,
        lot: &str,
        space: u32,
        to_lot: &str,
        preferred: Option<u32>,
    ) -> Result<(u32, u64), SimError> {
        let s = self.srv_ref(server).ok_or(SimError::NoServer(server))?;
        let l = s.lots.iter().find(|l| l.name == to_lot).ok_or_else(|| SimError::NoLot(to_lot.into()))?;
        let mut others = s.calls.clone();
        others.remove(&(lot.to_string(), space));
        Ok((Self::pick(l, &others, preferred).ok_or_else(|| SimError::Full(to_lot.into()))?, l.timeout_secs))
    }

    /// The space a move would take (`None`: the lot is full or unknown).
    pub fn plan_move_space(
        &self,
        server: ServerId,
        lot: &str,
        space: u32,
        to_lot: &str,
        preferred: Option<u32>,
    ) -> Option<u32> {
        self.plan_move(server, lot, space, to_lot, preferred).ok().map(|(s, _)| s)
    }

    /// The channel of a parked call on `server`, if `channel` is one: (lot, space).
    pub fn parked_place(&self, server: ServerId, channel: &str) -> Option<(String, u32)> {
        self.srv_ref(server)?.calls.values().find(|c| c.channel == channel).map(|c| (c.lot.clone(), c.space))
    }

    /// The caller hangs up (`ParkedCallGiveUp`).
    pub fn give_up(
        &mut self,
        now: Timestamp,
        server: ServerId,
        lot: &str,
        space: u32,
    ) -> Result<SimCall, SimError> {
        let call = self.take_call(server, lot, space)?;
        self.record("giveup", server, &call);
        self.emit_live(server, "ParkedCallGiveUp", &call, now, None);
        Ok(call)
    }

    /// Another channel, from caller number `new_caller`, takes the parkee's place
    /// (`ParkedCallSwap`, new parkee block).
    pub fn swap(
        &mut self,
        now: Timestamp,
        server: ServerId,
        lot: &str,
        space: u32,
        new_caller: u32,
    ) -> Result<SimCall, SimError> {
        let old = self.take_call(server, lot, space)?;
        let num = new_caller.to_string();
        let mut new = self.new_call(now, &num, &format!("Customer {num}"), lot, space, None);
        new.parked_at = old.parked_at;
        new.deadline = old.deadline;
        if let Ok(s) = self.srv(server) {
            s.calls.insert((lot.to_string(), space), new.clone());
        }
        self.record("swap", server, &new);
        let m = wire::swap_event(&new, &old, now);
        let m = if self.timestamp_events { wire::stamped(&m, now) } else { m };
        self.emit(server, m);
        Ok(new)
    }

    /// Time passes: every call past its deadline times out (`ParkedCallTimeOut`, in
    /// deadline order).
    pub fn advance(&mut self, now: Timestamp) {
        loop {
            let due = self
                .servers
                .iter()
                .filter(|s| s.up)
                .flat_map(|s| {
                    s.calls
                        .values()
                        .filter(|c| c.deadline.is_some_and(|d| d <= now))
                        .map(move |c| (c.deadline, s.id, c.lot.clone(), c.space))
                })
                .min();
            let Some((_, server, lot, space)) = due else { return };
            if let Ok(call) = self.take_call(server, &lot, space) {
                self.record("timeout", server, &call);
                // Asterisk reports 0 left.
                let c = SimCall { deadline: Some(now), ..call };
                self.emit_live(server, "ParkedCallTimeOut", &c, now, None);
            }
        }
    }
}
