//! List answers applied to the store: `ParkedCalls` reconciles its scope (with the
//! collection windows that protect what live events changed meanwhile), `Parkinglots`
//! writes ranges.

use super::{position, ParkingStore};
use crate::parking::event::{ParkingEvent, ResyncChange};
use crate::parking::model::{LotKey, ParkedCall, ParkingLot, ServerId};
use futures_signals::signal_vec::MutableVecLockMut;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Live changes seen while a list was being collected.
#[derive(Default)]
pub(super) struct Window {
    pub(super) keys: HashSet<(ServerId, Arc<str>, u32)>,
    pub(super) uids: HashSet<(ServerId, String)>,
}

/// Identifies a collection window opened by a list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowId(u64);

impl ParkingStore {
    /// Opens a collection window: live changes from now on are remembered so that a
    /// list answer collected meanwhile does not undo them.
    pub(crate) fn open_window(&self) -> WindowId {
        let mut st = self.lock();
        st.next_window += 1;
        let id = st.next_window;
        st.windows.insert(id, Window::default());
        WindowId(id)
    }

    /// Closes a window without applying anything (request failed).
    pub(crate) fn close_window(&self, id: WindowId) {
        self.lock().windows.remove(&id.0);
    }

    /// Reconciles the scope (`server_id`, or one `lot` of it) with a `ParkedCalls` answer.
    /// `window` (when still open) names the keys live events touched meanwhile.
    /// Returns the events and the listed calls (shared with the store where it kept them).
    pub(crate) fn reconcile(
        &self,
        window: Option<WindowId>,
        server_id: ServerId,
        lot: Option<&str>,
        listed: Vec<ParkedCall>,
    ) -> (Vec<ParkingEvent>, Vec<Arc<ParkedCall>>) {
        let scope = {
            let mut st = self.lock();
            let dirty = window.and_then(|w| st.windows.get(&w.0).map(|w| (w.keys.clone(), w.uids.clone())));
            let (keys, uids) = dirty.unwrap_or_default();
            Scope { server_id, lot, keys, uids, initial: st.synced.insert(server_id) }
        };
        let mut answer: Vec<Arc<ParkedCall>> = Vec::with_capacity(listed.len());
        for c in listed {
            let Some(mut c) = self.prepare(c) else {
                continue;
            };
            c.server_id = server_id;
            if scope.covers(&c) {
                answer.push(Arc::new(c));
            }
        }
        answer.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        answer.dedup_by(|a, b| a.sort_key() == b.sort_key());
        let mut walk = Walk { scope, events: Vec::new(), lot_delta: BTreeMap::new() };
        let n = {
            let mut calls = self.inner.calls.lock_mut();
            let used = walk.update_or_remove(&mut calls, &mut answer);
            walk.insert_new(&mut calls, &answer, &used);
            calls.len()
        };
        for (lot, d) in std::mem::take(&mut walk.lot_delta) {
            if d != 0 {
                self.adjust_lot(server_id, &lot, d);
            }
        }
        self.set_total(n);
        self.dispatch(&walk.events);
        (walk.events, answer)
    }

    /// Writes a `Parkinglots` answer for `server_id`: ranges and timeouts are filled,
    /// occupied counts kept; lots no longer listed and empty are removed.
    pub(crate) fn apply_lots(&self, server_id: ServerId, listed: Vec<ParkingLot>) {
        let mut lots = self.inner.lots.lock_mut();
        let listed_names: HashSet<Arc<str>> = listed.iter().map(|l| l.name.clone()).collect();
        let stale: Vec<LotKey> = lots
            .iter()
            .filter(|(k, l)| k.server_id == server_id && !listed_names.contains(&k.name) && l.occupied == 0)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            lots.remove(&k);
        }
        for mut l in listed {
            let key = LotKey { server_id, name: l.name.clone() };
            l.server_id = server_id;
            l.occupied = lots.get(&key).map(|o| o.occupied).unwrap_or(0);
            if lots.get(&key) != Some(&l) {
                lots.insert_cloned(key, l);
            }
        }
    }
}

/// What one `ParkedCalls` answer covers, and what live events changed meanwhile.
struct Scope<'a> {
    server_id: ServerId,
    lot: Option<&'a str>,
    keys: HashSet<(ServerId, Arc<str>, u32)>,
    uids: HashSet<(ServerId, String)>,
    /// The first answer for this server: the initial snapshot fires no event.
    initial: bool,
}

impl Scope<'_> {
    fn covers(&self, c: &ParkedCall) -> bool {
        c.server_id == self.server_id && self.lot.is_none_or(|l| &*c.parking_lot == l)
    }

    /// True when a live event touched the call's space or the call while the list was
    /// collected: the list is stale for it.
    fn is_dirty(&self, c: &ParkedCall) -> bool {
        (!self.keys.is_empty() || !self.uids.is_empty())
            && (self.keys.contains(&(c.server_id, c.parking_lot.clone(), c.parking_space))
                || (!c.unique_id.is_empty() && self.uids.contains(&(c.server_id, c.unique_id.clone()))))
    }
}

/// The store's calls and the (sorted) answer walked side by side.
struct Walk<'a> {
    scope: Scope<'a>,
    events: Vec<ParkingEvent>,
    lot_delta: BTreeMap<Arc<str>, i64>,
}

impl Walk<'_> {
    fn resync(&mut self, call: Arc<ParkedCall>, change: ResyncChange) {
        if !self.scope.initial {
            self.events.push(ParkingEvent::Resync { call, change });
        }
    }

    /// Updates or removes the store's calls in scope; returns which answer entries
    /// matched one.
    fn update_or_remove(
        &mut self,
        calls: &mut MutableVecLockMut<'_, Arc<ParkedCall>>,
        answer: &mut [Arc<ParkedCall>],
    ) -> Vec<bool> {
        let mut used = vec![false; answer.len()];
        let mut i = 0;
        while i < calls.len() {
            let c = calls[i].clone();
            if !self.scope.covers(&c) || self.scope.is_dirty(&c) {
                i += 1;
                continue;
            }
            let Ok(k) = answer.binary_search_by(|a| a.sort_key().cmp(&c.sort_key())) else {
                calls.remove(i);
                *self.lot_delta.entry(c.parking_lot.clone()).or_default() -= 1;
                self.resync(c, ResyncChange::Vanished);
                continue;
            };
            used[k] = true;
            if self.scope.is_dirty(&answer[k]) {
                // A live event changed it while the list was collected: the live
                // event's version stands.
            } else if c.same_content(&answer[k]) {
                // Nothing new: keep the store's call (and its first-seen times).
                answer[k] = c.clone();
            } else if c.same_parking(&answer[k]) {
                let merged = Arc::new(ParkedCall {
                    parked_at: c.parked_at,
                    deadline: c.deadline,
                    timeout: c.timeout,
                    ..(*answer[k]).clone()
                });
                calls.set_cloned(i, merged.clone());
                answer[k] = merged;
            } else {
                calls.set_cloned(i, answer[k].clone());
                self.resync(c, ResyncChange::Vanished);
                self.resync(answer[k].clone(), ResyncChange::Appeared);
            }
            i += 1;
        }
        used
    }

    /// Inserts what the store did not match: new to it.
    fn insert_new(
        &mut self,
        calls: &mut MutableVecLockMut<'_, Arc<ParkedCall>>,
        answer: &[Arc<ParkedCall>],
        used: &[bool],
    ) {
        for (k, c) in answer.iter().enumerate() {
            if used[k] || self.scope.is_dirty(c) {
                continue;
            }
            if let Err(at) = position(calls, c.sort_key()) {
                calls.insert_cloned(at, c.clone());
                *self.lot_delta.entry(c.parking_lot.clone()).or_default() += 1;
                self.resync(c.clone(), ResyncChange::Appeared);
            }
        }
    }
}
