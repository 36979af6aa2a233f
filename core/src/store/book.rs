//! The book: what Asterisk holds (every call, whatever the options say), lot by lot,
//! and the views made of it (each lot's grid and call list, the global call list).
//!
//! Everything here changes under the store's one lock, through [`Book::put`]: a space
//! gets a call or loses it, and each view takes exactly one diff. The cost of a
//! change depends on its own lot only: the global list's index is a prefix sum over
//! the lots (a Fenwick tree), not a walk of the other lots' calls.

use super::spaces::{Slot, Spaces};
use super::views::Broadcast;
use super::views::LotsMap;
use crate::model::{LotKey, ParkedCall, ParkingLot, ServerId};
use crate::store::ParkingOptions;
use futures_signals::signal_vec::{SignalVec, VecDiff};
// foldhash: seeded at random per process and per map on native targets, so a server
// cannot choose lot names that collide (FxHash is fixed: 10,000 crafted names would
// make each lookup a walk of them all). On wasm32-unknown-unknown foldhash finds no
// randomness and its seeds are the same in every browser: no better than FxHash there,
// where a hostile server could slow one viewer's tab, not a shared process.
use foldhash::{HashMap, HashSet};
use std::sync::Arc;

/// One lot: its facts, its spaces, and its two views.
pub(super) struct LotState {
    pub(super) key: LotKey,
    /// The lot's id: its place in the book's `ordinals`, for as long as the book lives
    /// (its ordinal moves when a lot sorted before it is added).
    pub(super) id: u32,
    /// Facts and Asterisk's occupancy.
    pub(super) lot: ParkingLot,
    /// True once Asterisk named the lot (an event or a list); a lot made only because
    /// a view asked for it is not in the lots map.
    pub(super) known: bool,
    /// True while the server's last `Parkinglots` answer named the lot: a lot it did
    /// not name (one seen only in events, or one Asterisk no longer has) is forgotten
    /// once it holds no call and its server's lots and calls were listed.
    listed: bool,
    pub(super) spaces: Spaces,
    /// The grid's subscribers: one cell per space from start to end (while the range
    /// is unknown, one per shown call, as `calls`), made from `spaces` when one
    /// subscribes.
    grid: Broadcast<VecDiff<Option<Arc<ParkedCall>>>>,
    /// The call list's subscribers: the shown calls in space order.
    calls: Broadcast,
    /// The spaces of `calls`, side by side: finding a call's index reads this small
    /// array, not every call it passes (each a separate allocation).
    shown_spaces: Vec<u32>,
    /// Its occupancy changed while the book was batching: the lots map has not heard.
    unpublished: bool,
}

impl LotState {
    /// What a list of lots could teach of the lot: whether Asterisk named it, and
    /// whether its range is known. Taken before a park, for [`LotState::to_relist`].
    pub(super) fn listing(&self) -> (bool, bool) {
        (self.known, self.lot.range_known)
    }

    /// The park since `before` (its [`LotState::listing`]) made the lot known though
    /// no list named it (a dynamic lot), or put a call outside its listed range (a
    /// reload changed it): the server's lots are to be listed again. The one rule of
    /// the live park and of a `ParkedCalls` answer.
    pub(super) fn to_relist(&self, before: (bool, bool)) -> bool {
        let (known, ranged) = before;
        (!known && self.known) || (ranged && !self.lot.range_known)
    }

    fn new(key: LotKey, id: u32) -> Self {
        Self {
            id,
            lot: ParkingLot::unknown_range(key.server_id, key.name.clone()),
            key,
            known: false,
            listed: false,
            spaces: Spaces::default(),
            grid: Broadcast::default(),
            calls: Broadcast::default(),
            shown_spaces: Vec::new(),
            unpublished: false,
        }
    }

    /// The grid's cell of `space`, when the range is known and holds it.
    fn cell(&self, space: u32) -> Option<usize> {
        let l = &self.lot;
        (l.range_known && space >= l.start_space && space <= l.end_space)
            .then(|| (space - l.start_space) as usize)
    }

    /// The shown calls in space order now.
    pub(super) fn shown_calls(&self) -> impl Iterator<Item = &Arc<ParkedCall>> {
        self.spaces.values().filter_map(|s| s.shown.as_ref())
    }

    /// Subscribers of the lot's grid and call list kept.
    pub(super) fn view_subscribers(&self) -> usize {
        self.grid.len() + self.calls.len()
    }

    /// The lot's call list as a signal vec: its shown calls now, then each change.
    pub(super) fn calls_signal(&mut self) -> impl SignalVec<Item = Arc<ParkedCall>> + Send + 'static {
        let now = self.shown_calls().cloned().collect();
        self.calls.subscribe_lot(now)
    }

    /// The lot's grid as a signal vec: its cells now, then each change.
    pub(super) fn grid_signal(&mut self) -> impl SignalVec<Item = Option<Arc<ParkedCall>>> + Send + 'static {
        let now = self.cells();
        self.grid.subscribe_lot(now)
    }

    /// The grid's cells now: one per space of the known range, the shown call or
    /// `None`; while the range is unknown, one per shown call, in space order (a
    /// grid never hides a call).
    pub(super) fn cells(&self) -> Vec<Option<Arc<ParkedCall>>> {
        let l = &self.lot;
        if !l.range_known {
            return self.shown_calls().cloned().map(Some).collect();
        }
        if l.end_space < l.start_space {
            return Vec::new();
        }
        let mut cells = vec![None; (l.end_space - l.start_space) as usize + 1];
        for (space, slot) in self.spaces.iter() {
            if let Some(cell) = self.cell(space) {
                cells[cell] = slot.shown.clone();
            }
        }
        cells
    }

    /// The grid was rebuilt (a range change): its subscribers take one `Replace`.
    pub(super) fn rebuild_grid(&mut self) {
        if self.grid.len() > 0 {
            let cells = self.cells();
            self.grid.send(|| VecDiff::Replace { values: cells });
        }
    }
}

/// Prefix sums of the shown calls per lot, by lot ordinal.
#[derive(Default)]
struct Fenwick(Vec<i64>);

impl Fenwick {
    fn rebuild(counts: impl Iterator<Item = usize>) -> Self {
        let mut t: Vec<i64> = counts.map(|c| c as i64).collect();
        for i in 0..t.len() {
            let parent = i | (i + 1);
            if parent < t.len() {
                t[parent] += t[i];
            }
        }
        Fenwick(t)
    }

    fn add(&mut self, mut i: usize, d: i64) {
        while i < self.0.len() {
            self.0[i] += d;
            i |= i + 1;
        }
    }

    /// Sum of the counts of ordinals `0..i`.
    fn prefix(&self, i: usize) -> usize {
        let (mut i, mut s) = (i, 0i64);
        while i > 0 {
            s += self.0[i - 1];
            i &= i - 1;
        }
        s.max(0) as usize
    }
}

/// What a [`Book::put`] changed, for events and counts.
pub(super) struct Put {
    /// The slot the space held before.
    pub(super) old: Option<Slot>,
}

/// A lot name in the book: the name every call of it shares, and the id of each
/// server's lot of that name (one, unless several servers have it).
struct Named {
    name: Arc<str>,
    lots: Vec<(ServerId, u32)>,
}

/// All lots, sorted by key, with the global list's broadcaster.
#[derive(Default)]
pub(super) struct Book {
    lots: Vec<LotState>,
    /// The lots by their names' bytes: each name once (a parsed call shares its lot's
    /// name instead of allocating one per message), with each server's lot of that
    /// name. One hash of the name finds both.
    index: HashMap<Box<[u8]>, Named>,
    counts: Fenwick,
    /// Each lot's ordinal in `lots`, by its id (lots are never removed).
    ordinals: Vec<u32>,
    /// The last park's tag.
    last_tag: u16,
    /// The lot [`Book::name`] found last: its server, its name's address, its id.
    named_last: std::cell::Cell<Option<(ServerId, usize, u32)>>,
    /// Calls Asterisk holds (all lots, all servers).
    pub(super) raw_total: usize,
    /// Calls the views show.
    pub(super) shown_total: usize,
    pub(super) global: Broadcast,
    /// The lots map (shared with the store, which reads it without its own lock).
    pub(super) lots_map: Arc<LotsMap>,
    /// Between [`Book::batch_lots`] and [`Book::publish_lots`]: lots whose occupancy
    /// changes are published once, at the end.
    batching: bool,
}

impl Book {
    /// From here to [`Book::publish_lots`], a lot's occupancy reaches the lots map once
    /// (a list of 10,000 calls in one lot: one change of the map, not 10,000).
    pub(super) fn batch_lots(&mut self) {
        self.batching = true;
    }

    /// Ends a batch: each lot whose occupancy changed in it is published once.
    pub(super) fn publish_lots(&mut self) {
        self.batching = false;
        for i in 0..self.lots.len() {
            let l = &mut self.lots[i];
            if std::mem::take(&mut l.unpublished) && l.known {
                self.publish(i);
            }
        }
    }

    /// Lot `i`'s facts as they are now reach the lots map (an `Insert` or `Update`).
    fn publish(&self, i: usize) {
        self.lots_map.publish(i, &self.lots[i].lot);
    }

    /// Lot `i` leaves the lots map (a `Remove`, when it was there).
    fn unpublish(&self, i: usize) {
        self.lots_map.unpublish(i);
    }

    /// The lot `key`, made (range unknown, not yet known) when absent.
    pub(super) fn lot_index(&mut self, key: &LotKey) -> usize {
        if let Some(i) = self.index_of(key) {
            return i;
        }
        let i = self.lots.partition_point(|l| l.key < *key);
        let id = self.ordinals.len() as u32;
        self.lots.insert(i, LotState::new(key.clone(), id));
        // The lots after it move up one: their ordinals too (a walk of the ids, not a
        // new index: `cargo run --release -p ami-parking-perf --example new_lots`).
        for o in &mut self.ordinals {
            if *o as usize >= i {
                *o += 1;
            }
        }
        self.ordinals.push(i as u32);
        self.lots_map.insert_lot(i, key.clone());
        self.counts = Fenwick::rebuild(self.lots.iter().map(|l| l.shown_spaces.len()));
        let named = self
            .index
            .entry(key.name.as_bytes().into())
            .or_insert_with(|| Named { name: key.name.clone(), lots: Vec::new() });
        named.lots.push((key.server_id, id));
        i
    }

    /// The ordinal of `key`'s lot, adding it when there are fewer than `max_lots`;
    /// `None` when it is new and the book is full.
    pub(super) fn lot_index_within(&mut self, key: &LotKey, max_lots: usize) -> Option<usize> {
        match self.index_of(key) {
            Some(i) => Some(i),
            None => (self.lots.len() < max_lots).then(|| self.lot_index(key)),
        }
    }

    /// The name of a lot the book holds (on any server), by its bytes. When `server`
    /// has that lot, it is remembered as the one named last: [`Book::named_last`]
    /// finds it again without hashing the name.
    pub(super) fn name(&self, server: ServerId, name: &[u8]) -> Option<Arc<str>> {
        let named = self.index.get(name)?;
        let id = named.lots.iter().find(|&&(s, _)| s == server).map(|&(_, id)| id);
        self.named_last.set(id.map(|id| (server, Arc::as_ptr(&named.name) as *const u8 as usize, id)));
        Some(named.name.clone())
    }

    /// The ordinal of `server`'s lot `name` when it is the lot [`Book::name`] found
    /// last (the same shared name: a name the book holds lives as long as the book, so
    /// no other name has its address).
    pub(super) fn named_last(&self, server: ServerId, name: &Arc<str>) -> Option<usize> {
        let (s, at, id) = self.named_last.get()?;
        (s == server && at == Arc::as_ptr(name) as *const u8 as usize)
            .then(|| self.ordinals[id as usize] as usize)
    }

    /// The ordinal of `server`'s lot named `name` (its bytes), when the book has it:
    /// one hash of the name, no key built.
    pub(super) fn ordinal(&self, server: ServerId, name: &[u8]) -> Option<usize> {
        let named = self.index.get(name)?;
        let &(_, id) = named.lots.iter().find(|&&(s, _)| s == server)?;
        Some(self.ordinals[id as usize] as usize)
    }

    /// The ordinal of `key`'s lot, when the book has it.
    pub(super) fn index_of(&self, key: &LotKey) -> Option<usize> {
        self.ordinal(key.server_id, key.name.as_bytes())
    }

    pub(super) fn find(&self, key: &LotKey) -> Option<&LotState> {
        self.index_of(key).map(|i| &self.lots[i])
    }

    pub(super) fn lot(&self, i: usize) -> &LotState {
        &self.lots[i]
    }

    pub(super) fn lot_mut(&mut self, i: usize) -> &mut LotState {
        &mut self.lots[i]
    }

    pub(super) fn lots(&self) -> impl Iterator<Item = &LotState> {
        self.lots.iter()
    }

    /// The ordinals of `server_id`'s lots (one lot when `lot` is named).
    pub(super) fn lot_indices(&self, server_id: ServerId, lot: Option<&str>) -> Vec<usize> {
        (0..self.lots.len())
            .filter(|&i| {
                let k = &self.lots[i].key;
                k.server_id == server_id && lot.is_none_or(|l| &*k.name == l)
            })
            .collect()
    }

    /// The call in a space now.
    pub(super) fn slot(&self, key: &LotKey, space: u32) -> Option<&Slot> {
        self.find(key).and_then(|l| l.spaces.get(space))
    }

    /// Marks the calls of `server` (of every server when `None`) as not followed.
    pub(super) fn unfollow(&mut self, server: Option<ServerId>) {
        for l in self.lots.iter_mut().filter(|l| server.is_none_or(|s| l.key.server_id == s)) {
            for slot in l.spaces.values_mut() {
                slot.set_followed(false);
            }
        }
    }

    /// Marks the call in `space` of lot `i` as followed (listed since the link came up).
    pub(super) fn follow(&mut self, i: usize, space: u32) {
        if let Some(slot) = self.lots[i].spaces.get_mut(space) {
            slot.set_followed(true);
        }
    }

    /// A new park's tag (wrapping): it tells a park's alert from the alerts of ended
    /// parks in the same space due at the same time, so the sweep drops theirs. Two
    /// parks 65,536 apart may share it: an ended park's alert then stays until the
    /// next sweep, and fires, if its time comes first, as the live park's one alert
    /// (the same time: the same park's due time).
    pub(super) fn new_park(&mut self) -> u16 {
        self.last_tag = self.last_tag.wrapping_add(1);
        self.last_tag
    }

    /// The slot in `space` of the lot whose id is `lot`.
    pub(super) fn slot_by_id(&mut self, lot: u32, space: u32) -> Option<&mut Slot> {
        let i = *self.ordinals.get(lot as usize)? as usize;
        self.lots[i].spaces.get_mut(space)
    }

    /// Every shown call in (server, lot, space) order.
    pub(super) fn shown_calls(&self) -> Vec<Arc<ParkedCall>> {
        let mut out = Vec::with_capacity(self.shown_total);
        for l in &self.lots {
            out.extend(l.shown_calls().cloned());
        }
        out
    }

    /// Sets (`Some`) or clears (`None`) `space` of lot `i`: Asterisk's count, the
    /// lot's grid cell and call list, the global list and the lots map each take one
    /// change.
    pub(super) fn put(&mut self, i: usize, space: u32, new: Option<Slot>) -> Put {
        let prefix = self.counts.prefix(i);
        let lot = &mut self.lots[i];
        let has_new = new.is_some();
        let old = match new {
            Some(s) => lot.spaces.insert(space, s),
            None => lot.spaces.remove(space),
        };
        let old_shown = old.as_ref().is_some_and(|s| s.shown.is_some());
        // What the views now show in the space, borrowed from the book: a call's count
        // of references changes only where a view takes it (an atomic change each).
        let new_shown = if has_new { lot.spaces.get(space).and_then(|s| s.shown.as_ref()) } else { None };
        let mut d_shown = 0i64;
        // While the range is unknown the grid is the call list: it takes the list's diffs
        // (made only when someone follows the grid).
        let grid_is_list = !lot.lot.range_known && lot.grid.len() > 0;
        match (lot.shown_spaces.binary_search(&space), new_shown) {
            (Ok(j), Some(c)) => {
                lot.calls.send(|| VecDiff::UpdateAt { index: j, value: c.clone() });
                self.global.send(|| VecDiff::UpdateAt { index: prefix + j, value: c.clone() });
                if grid_is_list {
                    send_grid(&mut lot.grid, VecDiff::UpdateAt { index: j, value: Some(c.clone()) });
                }
            }
            (Err(j), Some(c)) => {
                lot.shown_spaces.insert(j, space);
                lot.calls.send(|| VecDiff::InsertAt { index: j, value: c.clone() });
                self.global.send(|| VecDiff::InsertAt { index: prefix + j, value: c.clone() });
                if grid_is_list {
                    send_grid(&mut lot.grid, VecDiff::InsertAt { index: j, value: Some(c.clone()) });
                }
                d_shown = 1;
            }
            (Ok(j), None) => {
                lot.shown_spaces.remove(j);
                lot.calls.send(|| VecDiff::RemoveAt { index: j });
                self.global.send(|| VecDiff::RemoveAt { index: prefix + j });
                if grid_is_list {
                    send_grid(&mut lot.grid, VecDiff::RemoveAt { index: j });
                }
                d_shown = -1;
            }
            (Err(_), None) => {}
        }
        if let Some(cell) = lot.cell(space) {
            // A call the views do not show (filtered) leaves its cell as it was.
            if old_shown || new_shown.is_some() {
                lot.grid.send(|| VecDiff::UpdateAt { index: cell, value: new_shown.cloned() });
            }
        }
        // A call outside the range Asterisk listed (a lot shrunk by a reload while
        // calls were parked, or a hostile server): the range is no longer known (its
        // space had no cell above).
        if has_new && lot.lot.range_known && lot.cell(space).is_none() {
            // The grid becomes the lot's calls (this one among them), and the lot's
            // size is unknown too (0, as `ParkingLot::total_spaces` says).
            lot.lot.range_known = false;
            lot.lot.total_spaces = 0;
            lot.rebuild_grid();
        }
        let d_raw = has_new as i64 - old.is_some() as i64;
        // Only a change of occupancy changes the lot: a call replaced in place leaves a
        // lot that is published already (it holds a call) and inside its range (a call
        // outside a known range would have made it unknown when it came).
        if d_raw != 0 {
            lot.lot.occupied = (lot.lot.occupied as i64 + d_raw).max(0) as u32;
            lot.known = true;
            lot.unpublished = self.batching;
        }
        if d_raw != 0 && !self.batching {
            self.publish(i);
        }
        self.raw_total = (self.raw_total as i64 + d_raw).max(0) as usize;
        if d_shown != 0 {
            self.counts.add(i, d_shown);
            self.shown_total = (self.shown_total as i64 + d_shown).max(0) as usize;
        }
        Put { old }
    }

    /// Forgets the lots of `server_id` its last `Parkinglots` answer did not name and
    /// that hold no call: they leave the lots map (a view of one keeps its lot, empty).
    /// After a `Parkinglots` answer, and after a list of all the server's calls (a
    /// dynamic lot Asterisk lost in a crash still held its calls when the lots were
    /// listed: the calls' list empties it).
    pub(super) fn forget_unlisted(&mut self, server_id: ServerId) {
        for i in 0..self.lots.len() {
            let l = &mut self.lots[i];
            if l.key.server_id == server_id && l.known && !l.listed && l.spaces.is_empty() {
                l.known = false;
                l.lot = ParkingLot::unknown_range(server_id, l.key.name.clone());
                l.rebuild_grid();
                self.unpublish(i);
            }
        }
    }

    /// Writes a `Parkinglots` answer for `server_id`: ranges and timeouts, occupancy
    /// kept; lots no longer listed and empty are forgotten. Returns the lots as the
    /// store now has them, whether some were dropped at the lots' cap, and whether the
    /// answer left something to learn: a lot it did not name holds calls, or a lot
    /// holds one outside the range it gives.
    pub(super) fn apply_lots(
        &mut self,
        server_id: ServerId,
        listed: Vec<ParkingLot>,
        options: &ParkingOptions,
    ) -> (Vec<ParkingLot>, bool, bool) {
        let names: HashSet<Arc<str>> = listed.iter().map(|l| l.name.clone()).collect();
        let mut to_learn = false;
        for l in self.lots.iter_mut().filter(|l| l.key.server_id == server_id) {
            l.listed = names.contains(&l.key.name);
            to_learn |= !l.listed && !l.spaces.is_empty();
        }
        self.forget_unlisted(server_id);
        let mut out = Vec::with_capacity(listed.len());
        let mut full = false;
        for mut fresh in listed {
            fresh.server_id = server_id;
            let key = LotKey { server_id, name: fresh.name.clone() };
            let Some(i) = self.lot_index_within(&key, options.max_lots) else {
                full = true;
                continue;
            };
            let l = &mut self.lots[i];
            l.listed = true;
            fresh.occupied = l.spaces.len() as u32;
            let width = u64::from(fresh.end_space.saturating_sub(fresh.start_space)) + 1;
            let outside = l.spaces.keys().any(|s| s < fresh.start_space || s > fresh.end_space);
            to_learn |= outside;
            if outside || width > options.max_calls as u64 {
                // Calls parked outside the listed range: it is not the lot's whole
                // story. A range wider than max_calls would make a grid that big.
                fresh.range_known = false;
                fresh.total_spaces = 0;
            }
            let range_changed = (fresh.start_space, fresh.end_space, fresh.range_known)
                != (l.lot.start_space, l.lot.end_space, l.lot.range_known);
            let changed = l.lot != fresh || !l.known;
            if changed {
                l.lot = fresh;
                l.known = true;
            }
            if range_changed {
                l.rebuild_grid();
            }
            out.push(l.lot.clone());
            if changed {
                self.publish(i);
            }
        }
        (out, full, to_learn)
    }
}

/// Sends `diff` to a grid's subscribers: for the rare changes (a lot of unknown
/// range), one instance of the send for them all (the caller looks for subscribers
/// first, before it makes the diff).
fn send_grid(grid: &mut Broadcast<VecDiff<Option<Arc<ParkedCall>>>>, diff: VecDiff<Option<Arc<ParkedCall>>>) {
    grid.send(move || diff);
}

/// What the views show of `raw`: the transform applied (it may not move the call:
/// server, lot, space and unique id stay Asterisk's), `None` when the filter hides it.
pub(super) fn shown(options: &ParkingOptions, raw: &Arc<ParkedCall>) -> Option<Arc<ParkedCall>> {
    let call = match &options.transform_parked_call {
        None => raw.clone(),
        Some(t) => {
            let mut c = t((**raw).clone());
            c.server_id = raw.server_id;
            c.parking_lot = raw.parking_lot.clone();
            c.parking_space = raw.parking_space;
            if c.unique_id() != raw.unique_id() {
                c.set_unique_id(raw.unique_id());
            }
            c.set_near_timeout_threshold(raw.near_timeout_threshold());
            Arc::new(c)
        }
    };
    match &options.parked_call_filter {
        Some(f) if !f(&call) => None,
        _ => Some(call),
    }
}
