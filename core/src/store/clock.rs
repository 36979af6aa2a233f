//! The store's clock and the near-timeout alert, sans-IO: the connection asks when
//! to wake ([`ParkingStore::next_wakeup`]) and wakes the store then
//! ([`ParkingStore::tick`]).
//!
//! The clock advances once a second while Asterisk holds any call, and not at all
//! when it holds none. Each park with a deadline schedules one alert at
//! `deadline - near_timeout_threshold`; when it comes and the park is still there,
//! [`ParkingEvent::NearTimeout`] fires.

use super::book::Book;
use super::spaces::{alert_time, AlertKey, Slot};
use super::{ParkingStore, State};
use crate::model::event::ParkingEvent;
use crate::time::Timestamp;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// How often the clock advances while calls are parked.
pub(super) const TICK: Duration = Duration::from_secs(1);

/// One scheduled alert: due at its key's time (the park's deadline minus the store's
/// threshold), for the park the key's tag names in `space` of the lot whose id is
/// `lot`. It holds no call: it is valid while that space holds that park and its
/// alert has not fired (16 bytes an alert; the heap's order reads no call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Alert {
    key: AlertKey,
    lot: u32,
    space: u32,
}

impl Alert {
    fn at(&self) -> Timestamp {
        alert_time(self.key)
    }

    /// The slot this alert is for, when it is still due there (not an ended park's).
    fn slot<'b>(&self, book: &'b mut Book) -> Option<&'b mut Slot> {
        book.slot_by_id(self.lot, self.space).filter(|s| s.alert_key() == Some(self.key))
    }
}

/// The last tick and the scheduled alerts.
#[derive(Default)]
pub(super) struct Clock {
    last_tick: Option<Timestamp>,
    alerts: BinaryHeap<Reverse<Alert>>,
    /// What bounds `alerts`: `2 × calls + 64` at the last tick or sweep, plus the
    /// parks since.
    alert_limit: usize,
}

impl Clock {
    /// Schedules the alert of the park in `slot`, in `space` of the lot whose id is
    /// `lot`, when it has a deadline.
    pub(super) fn schedule(&mut self, slot: &Slot, lot: u32, space: u32) {
        if let Some(key) = slot.alert_key() {
            // Grown by a quarter at a time (amortized constant still): doubling left
            // up to half the heap empty, 8 bytes a parked call on average.
            if self.alerts.len() == self.alerts.capacity() {
                self.alerts.reserve_exact(self.alerts.len() / 4 + 16);
            }
            self.alerts.push(Reverse(Alert { key, lot, space }));
            self.alert_limit += 1;
        }
    }

    /// Alerts scheduled (of live parks, and of ended ones not swept yet).
    pub(super) fn alerts(&self) -> usize {
        self.alerts.len()
    }

    /// What bounds [`Clock::alerts`] (see [`super::StoreSizes::alert_limit`]).
    pub(super) fn alert_limit(&self) -> usize {
        self.alert_limit
    }
}

impl State {
    /// Puts `slot` in `space` of lot `i` with its park's alert scheduled (a new park,
    /// or one whose alert moved), then keeps the alerts bounded (after the put: the
    /// sweep finds the new alert valid only once its slot is in the book).
    pub(super) fn put_alerted(&mut self, i: usize, space: u32, slot: Slot) {
        self.clock.schedule(&slot, self.book.lot(i).id, space);
        self.book.put(i, space, Some(slot));
        self.bound_alerts();
    }

    /// How many alerts are kept before a sweep: `2 × calls + 64`.
    fn alert_bound(&self) -> usize {
        2 * self.book.raw_total + 64
    }

    /// Sweeps the alerts of parks that ended once there are more than
    /// `2 × calls + 64`: at each tick, and after each park, so a store that is never
    /// ticked (one fed with [`ParkingStore::apply_message`]) stays bounded too.
    pub(super) fn bound_alerts(&mut self) {
        let limit = self.alert_bound();
        if self.clock.alerts.len() > limit {
            let State { clock, book, .. } = self;
            clock.alerts.retain(|Reverse(a)| a.slot(book).is_some());
            clock.alert_limit = limit;
        }
    }
}

impl ParkingStore {
    /// When the store wants [`ParkingStore::tick`]: the next clock tick (while calls
    /// are parked) or the next alert, whichever is sooner.
    pub(crate) fn next_wakeup(&self) -> Option<Timestamp> {
        let st = self.lock();
        let tick = match (st.book.raw_total, st.clock.last_tick) {
            (0, _) | (_, None) => None,
            (_, Some(t)) => Some(t + TICK),
        };
        // With no call parked every scheduled alert is of a park that ended: none fires.
        let alert = st.clock.alerts.peek().filter(|_| st.book.raw_total > 0).map(|a| a.0.at());
        let held = st.held.as_ref().map(|h| h.until);
        tick.into_iter().chain(alert).chain(held).chain(st.next_held_resync()).min()
    }

    /// Time passed: the clock advances when a tick is due, and due alerts fire (once
    /// each, for parks still there and shown). Returns the events (dispatched too).
    pub(crate) fn tick(&self, now: Timestamp) -> Vec<ParkingEvent> {
        let mut st = self.lock();
        if st.book.raw_total > 0 && st.clock.last_tick.is_none_or(|t| now >= t + TICK) {
            self.set_clock(&mut st, now);
        }
        let mut events = Vec::new();
        if st.held.as_ref().is_some_and(|h| h.until <= now) {
            events.extend(st.release_held());
        }
        events.extend(st.release_held_resyncs(now));
        while st.clock.alerts.peek().is_some_and(|a| a.0.at() <= now) {
            let Some(Reverse(a)) = st.clock.alerts.pop() else { break };
            let Some(slot) = a.slot(&mut st.book) else { continue };
            slot.set_alerted();
            if let Some(call) = slot.shown.clone() {
                let remaining = call.timeout_remaining(now).unwrap_or_default();
                events.push(ParkingEvent::NearTimeout { call, remaining });
            }
        }
        // Alerts of parks that ended wait in the heap until their time; keep them few.
        st.bound_alerts();
        st.clock.alert_limit = st.alert_bound();
        drop(st);
        self.dispatch(&events);
        events
    }

    /// Starts the clock at `now` when the store went from no call to some.
    pub(super) fn wake_clock(&self, st: &mut State, was_idle: bool, now: Timestamp) {
        if was_idle && st.book.raw_total > 0 {
            self.set_clock(st, now);
        }
    }

    fn set_clock(&self, st: &mut State, now: Timestamp) {
        st.clock.last_tick = Some(now);
        self.inner.clock.set_neq(now);
    }
}
