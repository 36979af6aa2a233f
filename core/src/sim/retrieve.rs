//! A parked call picked up: by a phone ([`SimPbx::retrieve`]), by the channel an
//! `Originate` rang ([`SimPbx::retrieve_to`]), or with its space taken again at once
//! ([`SimPbx::retrieve_and_reuse`]).

use super::{SimCall, SimError, SimPbx};
use crate::model::ServerId;
use crate::time::Timestamp;

impl SimPbx {
    /// Someone picks up the call (`UnParkedCall` with a retriever block).
    pub fn retrieve(
        &mut self,
        now: Timestamp,
        server: ServerId,
        lot: &str,
        space: u32,
        retriever_num: &str,
    ) -> Result<SimCall, SimError> {
        let call = self.take_call(server, lot, space)?;
        self.announce_retrieved(now, server, &call, retriever_num);
        Ok(call)
    }

    /// `call` was picked up by `retriever_num`: the change and the `UnParkedCall`.
    fn announce_retrieved(&mut self, now: Timestamp, server: ServerId, call: &SimCall, retriever_num: &str) {
        let retriever = self.new_call(now, retriever_num, "Reception", &call.lot, call.space, None);
        self.announce_retrieved_by(now, server, call, &retriever);
    }

    /// `call` was picked up by `retriever`: the change and the `UnParkedCall`.
    fn announce_retrieved_by(
        &mut self,
        now: Timestamp,
        server: ServerId,
        call: &SimCall,
        retriever: &SimCall,
    ) {
        self.record("retrieved", server, call);
        self.emit_live(server, "UnParkedCall", call, now, Some(retriever));
    }

    /// The call in `space` is rung to `to` (an `Originate` of `ParkedCall` with no
    /// `CallerID`, as [`crate::ParkingClient::retrieve_call`] sends it) and answered:
    /// the retriever is the channel Asterisk made for `to` (`PJSIP/1001-0000000b`;
    /// a `Local/...` one ends `;1`), its caller id `<unknown>`, as Asterisk 22
    /// reports it (fixture `swap-then-retrieve`: an `Originate` with no `CallerID`).
    pub fn retrieve_to(
        &mut self,
        now: Timestamp,
        server: ServerId,
        lot: &str,
        space: u32,
        to: &str,
    ) -> Result<SimCall, SimError> {
        let call = self.take_call(server, lot, space)?;
        // The channel's number is the one `new_call` takes (as `retrieve`'s would be).
        let seq = self.next_chan;
        let mut retriever = self.new_call(now, "<unknown>", "<unknown>", &call.lot, call.space, None);
        let half = if to.starts_with("Local/") { ";1" } else { "" };
        retriever.channel = format!("{to}-{seq:08x}{half}");
        self.announce_retrieved_by(now, server, &call, &retriever);
        Ok(call)
    }

    /// The call in `space` is picked up and a new call from `caller_num` takes the
    /// space at once, announced the way Asterisk does under load: the new call's
    /// `ParkedCall` **before** the old call's `UnParkedCall` (fixture
    /// `reuse-park-before-unpark`). Returns (old call, new call).
    pub fn retrieve_and_reuse(
        &mut self,
        now: Timestamp,
        server: ServerId,
        lot: &str,
        space: u32,
        retriever_num: &str,
        caller_num: &str,
    ) -> Result<(SimCall, SimCall), SimError> {
        let s = self.srv_ref(server).ok_or(SimError::NoServer(server))?;
        let timeout = s.lots.iter().find(|l| l.name == lot).map(|l| l.timeout_secs);
        let timeout = timeout.ok_or_else(|| SimError::NoLot(lot.into()))?;
        let old = self.take_call(server, lot, space)?;
        let new =
            self.new_call(now, caller_num, &format!("Customer {caller_num}"), lot, space, Some(timeout));
        self.place(now, server, new.clone());
        self.announce_retrieved(now, server, &old, retriever_num);
        Ok((old, new))
    }
}
