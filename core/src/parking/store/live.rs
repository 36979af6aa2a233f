//! Live parking events applied to the store: one diff and one event per change.

use super::{position, ParkingStore};
use crate::parking::event::ParkingEvent;
use crate::parking::model::{ParkedCall, Retriever, ServerId};
use crate::time::Timestamp;
use crate::wire::inbound::{Inbound, LiveEvent, LiveKind, Shape};
use crate::wire::message::Message;
use std::sync::Arc;

impl ParkingStore {
    /// Applies one live AMI message from `server_id`, received at `now`.
    ///
    /// Parking events change the store and are returned (and dispatched to listeners);
    /// other messages are ignored, and so are list items (they carry an `ActionID`):
    /// only a connection's list collector may use them. Use this when you feed AMI
    /// messages from your own client instead of [`crate::Connection`].
    pub fn apply_message(&self, now: Timestamp, server_id: ServerId, msg: &Message) -> Vec<ParkingEvent> {
        match Inbound::of_message(server_id, msg, now, Shape::Messages) {
            Inbound::Live(event) => self.apply_live(event),
            _ => Vec::new(),
        }
    }

    /// Applies a live parking event: the store changes, listeners hear of it, and the
    /// events are returned.
    pub(crate) fn apply_live(&self, event: LiveEvent) -> Vec<ParkingEvent> {
        let LiveEvent { kind, call, retriever } = event;
        let Some(call) = self.prepare(call) else { return Vec::new() };
        self.mark_dirty(call.server_id, &call.parking_lot, call.parking_space, &call.unique_id);
        let event =
            if kind.is_leave() { Some(self.leave(kind, call, retriever)) } else { self.enter(kind, call) };
        let events: Vec<ParkingEvent> = event.into_iter().collect();
        self.dispatch(&events);
        events
    }

    fn mark_dirty(&self, server_id: ServerId, lot: &Arc<str>, space: u32, uid: &str) {
        let mut st = self.lock();
        for w in st.windows.values_mut() {
            w.keys.insert((server_id, lot.clone(), space));
            if !uid.is_empty() {
                w.uids.insert((server_id, uid.to_owned()));
            }
        }
    }

    /// A call entered a space (`Parked`) or took a parkee's place (`Swapped`).
    fn enter(&self, kind: LiveKind, call: ParkedCall) -> Option<ParkingEvent> {
        let swapped = kind == LiveKind::Swapped;
        let mut calls = self.inner.calls.lock_mut();
        match position(&calls, call.sort_key()) {
            Ok(i) => {
                let old = calls[i].clone();
                if !swapped && old.same_parking(&call) {
                    // A repeat of what we know (e.g. seen in a list first): keep the
                    // first-seen times, take the rest.
                    let merged = ParkedCall {
                        parked_at: old.parked_at,
                        deadline: old.deadline,
                        timeout: old.timeout,
                        ..call
                    };
                    if *old != merged {
                        calls.set_cloned(i, Arc::new(merged));
                    }
                    return None;
                }
                let call = Arc::new(call);
                calls.set_cloned(i, call.clone());
                Some(if swapped {
                    ParkingEvent::Swapped { call, previous: Some(old) }
                } else {
                    ParkingEvent::Parked { call }
                })
            }
            Err(i) => {
                let call = Arc::new(call);
                calls.insert_cloned(i, call.clone());
                let n = calls.len();
                drop(calls);
                self.adjust_lot(call.server_id, &call.parking_lot, 1);
                self.set_total(n);
                Some(if swapped {
                    ParkingEvent::Swapped { call, previous: None }
                } else {
                    ParkingEvent::Parked { call }
                })
            }
        }
    }

    /// A call left its space (retrieved, timed out, gave up). A call the store did not
    /// know (parked before we looked) still left: the event fires with what the
    /// message says.
    fn leave(&self, kind: LiveKind, call: ParkedCall, retriever: Option<Retriever>) -> ParkingEvent {
        let mut calls = self.inner.calls.lock_mut();
        let call = match position(&calls, call.sort_key()) {
            Ok(i) => {
                let old = calls.remove(i);
                let n = calls.len();
                drop(calls);
                self.adjust_lot(old.server_id, &old.parking_lot, -1);
                self.set_total(n);
                old
            }
            Err(_) => Arc::new(call),
        };
        match kind {
            LiveKind::Retrieved => ParkingEvent::Retrieved { call, retriever: retriever.unwrap_or_default() },
            LiveKind::TimedOut => ParkingEvent::TimedOut { call },
            _ => ParkingEvent::GaveUp { call },
        }
    }
}
