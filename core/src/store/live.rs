//! Live parking events applied to the store: one change of a space, one event.

use super::spaces::Slot;
use super::{ParkingStore, State};
use crate::model::event::{Events, ParkingEvent, ResyncChange};
use crate::model::{CompactString, ParkedCall, Retriever, ServerId};
use crate::time::Timestamp;
use crate::wire::fields;
use crate::wire::inbound::{Head, Inbound, LiveEvent, LiveKind, Shape};
use crate::wire::message::Message;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

/// How many replaced calls wait for their late leave (older ones are forgotten: their
/// leave, if it ever comes, is then reported from the message alone).
pub(super) const DISPLACED_MAX: usize = 1024;

impl ParkingStore {
    /// Applies one live AMI message from `server_id`, received at `now`.
    ///
    /// Parking events change the store and are returned (and dispatched to listeners);
    /// other messages are ignored, and so are list items (they carry an `ActionID`):
    /// only a connection's list collector may use them. Use this when you feed AMI
    /// messages from your own client instead of [`crate::Connection`].
    pub fn apply_message(&self, now: Timestamp, server_id: ServerId, msg: &Message) -> Events {
        let mut f = fields::NONE;
        fields::scan_message(msg, &mut f);
        let head = Head::of_scan(&f);
        if let Some(kind) = head.live_leave() {
            if let Some(events) = self.apply_held_leave(now, server_id, kind, &f) {
                return events;
            }
        }
        // Read and applied under one lock: the lot's name is the store's.
        let st = self.lock();
        let names = |name: &[u8]| st.book.name(server_id, name);
        match Inbound::classify_scanned(head, &f, msg.iter(), server_id, now, Shape::Messages, &names) {
            Inbound::Live(event) => self.apply_live_locked(st, now, event).0,
            _ => Events::new(),
        }
    }

    /// Applies a live parking event: the store changes, listeners hear of it, and the
    /// events are returned, with `true` when a park made known a lot its server's
    /// `Parkinglots` answer did not list (a dynamic lot, made by Asterisk at the
    /// `Park`), or went outside its listed range (a reload changed the lot): its range
    /// is unknown until the server's lots are listed again.
    pub(crate) fn apply_live(&self, now: Timestamp, event: LiveEvent) -> (Events, bool) {
        self.apply_live_locked(self.lock(), now, event)
    }

    /// [`ParkingStore::apply_live`] with the store's lock taken already (`st`, let go
    /// before listeners hear of the events).
    fn apply_live_locked(
        &self,
        mut st: MutexGuard<'_, State>,
        now: Timestamp,
        event: LiveEvent,
    ) -> (Events, bool) {
        let LiveEvent { kind, call, retriever } = event;
        let mut call = self.prepare(call);
        let server = call.server_id;
        let (max_calls, max_lots) = (self.inner.options.max_calls, self.inner.options.max_lots);
        let mut full = None;
        let mut unlisted = false;
        let events: Events = 'apply: {
            // A give-up held back: this park of the same call makes it a move; anything
            // else reports it first.
            let mut out = Events::new();
            let moved_from = match st.held.take() {
                Some(h) if kind == LiveKind::Parked && h.is(call.server_id, call.unique_id()) => Some(h),
                Some(h) => {
                    if let Some(e) = h.into_event() {
                        out.push(e);
                    }
                    None
                }
                None => None,
            };
            let i = match st.lot_for(kind, &call, max_calls, max_lots) {
                Ok(i) => i,
                Err(cap) => {
                    full = Some(cap);
                    break 'apply out;
                }
            };
            if let Some(i) = i {
                // The lot's name is shared by all its calls (one allocation per lot);
                // a call read under the lock holds it already.
                let name = &st.book.lot(i).key.name;
                if !Arc::ptr_eq(&call.parking_lot, name) {
                    call.parking_lot = name.clone();
                }
            }
            // A leave's call is made shared only when the store does not hold it.
            let raw = call;
            st.mark_dirty(&raw);
            let cancelled = st.cancel_held_resyncs(raw.server_id, raw.unique_id());
            if kind.is_leave() {
                st.left.note(raw.server_id, raw.unique_id());
            } else {
                st.left.parked(raw.server_id, raw.unique_id());
            }
            let parked_again = (kind == LiveKind::Parked && cancelled == Some(ResyncChange::Appeared))
                .then(|| (raw.lot_key(), raw.parking_space));
            let was_idle = st.book.raw_total == 0;
            let event = match i {
                Some(i) if !kind.is_leave() => {
                    let before = st.book.lot(i).listing();
                    let event = self.enter(&mut st, i, kind, Arc::new(raw));
                    // A lot its list did not name, or a park outside the listed range.
                    unlisted = st.book.lot(i).to_relist(before) && st.lots_synced.contains(&server);
                    event
                }
                i => self.leave(&mut st, i, kind, raw, retriever, now),
            };
            // A list brought the call in before its `ParkedCall` came: this is its park,
            // reported as one (the finding was cancelled).
            let event = match (event, parked_again) {
                (None, Some((key, space))) => st
                    .book
                    .slot(&key, space)
                    .and_then(|s| s.shown.clone())
                    .map(|call| ParkingEvent::Parked { call }),
                (event, _) => event,
            };
            let event = match (event, moved_from) {
                (Some(ParkingEvent::Parked { call }), Some(Held { from: Some(from), .. })) => {
                    Some(ParkingEvent::Moved { call, from })
                }
                // Moved out of what the views show: it left them.
                (None, Some(Held { from: Some(call), .. })) => Some(ParkingEvent::GaveUp { call }),
                (event, _) => event,
            };
            self.wake_clock(&mut st, was_idle, now);
            self.publish_total(&st);
            if let Some(e) = event {
                out.push(e);
            }
            out
        };
        drop(st);
        if let Some((what, limit)) = full {
            self.over_cap(what, server, limit);
        }
        self.dispatch(&events);
        (events, unlisted)
    }

    /// A call entered a space (`Parked`) or took a parkee's place (`Swapped`).
    fn enter(&self, st: &mut State, i: usize, kind: LiveKind, raw: Arc<ParkedCall>) -> Option<ParkingEvent> {
        let swapped = kind == LiveKind::Swapped;
        let space = raw.parking_space;
        let old = st.book.lot(i).spaces.get(space).cloned();
        if swapped && st.forget_departed(&raw) {
            // The new parkee's leave came first (reported then): the space is empty.
            if old.is_some() {
                st.book.put(i, space, None);
            }
            return None;
        }
        match old {
            Some(old) if !swapped && old.raw.same_parking(&raw) => {
                // A repeat of what we know (e.g. seen in a list first): keep the
                // first-seen times, take the rest.
                let merged = (*raw).clone().with_times_of(&old.raw);
                if *old.raw != merged {
                    let slot = self.same_park(&old, Arc::new(merged));
                    st.book.put(i, space, Some(slot));
                }
                None
            }
            Some(old) if swapped => {
                // Same park, new parkee. Asterisk keeps the park's clock (measured: a
                // swap 2 s into a 5 s park times out 5 s after the park), although the
                // swap event says `ParkingDuration: 0`: the times stay the park's.
                let raw = Arc::new((*raw).clone().with_times_of(&old.raw));
                let slot = self.same_park(&old, raw);
                let call = slot.shown.clone();
                st.book.put(i, space, Some(slot));
                call.map(|call| ParkingEvent::Swapped { call, previous: old.shown })
            }
            old => {
                let tag = st.book.new_park();
                let slot = self.slot(raw, tag);
                let call = slot.shown.clone();
                st.put_alerted(i, space, slot);
                if let Some(old) = old {
                    // Another call still held the space: its leave is on its way.
                    if st.displaced.len() == DISPLACED_MAX {
                        st.displaced.pop_front();
                    }
                    st.displaced.push_back(old);
                }
                call.map(|call| match kind {
                    LiveKind::Swapped => ParkingEvent::Swapped { call, previous: None },
                    _ => ParkingEvent::Parked { call },
                })
            }
        }
    }

    /// A call left its space (retrieved, timed out, gave up), matched by unique id.
    /// A call the store does not hold (parked before we looked) still left: the
    /// event fires with what the message says.
    fn leave(
        &self,
        st: &mut State,
        i: Option<usize>,
        kind: LiveKind,
        raw: ParkedCall,
        retriever: Option<Retriever>,
        now: Timestamp,
    ) -> Option<ParkingEvent> {
        let space = raw.parking_space;
        let occupied_by =
            i.filter(|&i| st.book.lot(i).spaces.get(space).is_some_and(|s| s.raw.same_call(&raw)));
        let gone: Option<Slot> = if let Some(i) = occupied_by {
            st.book.put(i, space, None).old
        } else {
            let at = st.displaced.iter().position(|s| {
                !raw.unique_id().is_empty()
                    && s.raw.server_id == raw.server_id
                    && s.raw.unique_id() == raw.unique_id()
            });
            at.and_then(|at| st.displaced.remove(at))
        };
        let (server, uid) = (raw.server_id, CompactString::from(raw.unique_id()));
        let shown = match gone {
            Some(slot) => slot.shown,
            None => {
                // Left before the store saw it arrive (or before we looked): a swap
                // that brings it in late must not keep it.
                if !raw.unique_id().is_empty() {
                    if st.departed.len() == DISPLACED_MAX {
                        st.departed.pop_front();
                    }
                    st.departed.push_back((raw.server_id, raw.unique_id().into()));
                }
                self.slot(Arc::new(raw), 0).shown
            }
        };
        left_event(st, kind, server, uid, shown, retriever, now)
    }

    /// A live leave (`UnParkedCall`, `ParkedCallTimeOut`, `ParkedCallGiveUp`) of a call
    /// the store holds, applied from the event's scanned fields: the store's own call
    /// is reported, so the event's call is never built (its text, its shared copy).
    /// `None`, with nothing done, when the general path must take the event: the
    /// store does not hold that call in that space, a give-up is held back, the
    /// event's unique id is not UTF-8 or it names no space.
    pub(crate) fn apply_held_leave(
        &self,
        now: Timestamp,
        server: ServerId,
        kind: LiveKind,
        f: &fields::Fields<'_>,
    ) -> Option<Events> {
        let space = fields::space_of(f)?;
        let bytes = fields::unique_id_of(f);
        let name = fields::lot_of(f);
        let retriever = (kind == LiveKind::Retrieved).then(|| fields::retriever_of(f));
        let events = {
            let mut st = self.lock();
            if st.held.is_some() {
                return None;
            }
            let i = st.book.ordinal(server, name)?;
            let held = st.book.lot(i).spaces.get(space)?.raw.unique_id();
            // The same call as the general path's `same_call` sees it. The store's id
            // is text already: equal bytes need no UTF-8 check of the event's.
            let uid = if bytes.is_empty() {
                CompactString::default()
            } else if bytes == held.as_bytes() {
                CompactString::from(held)
            } else if held.is_empty() {
                CompactString::from(std::str::from_utf8(bytes).ok()?)
            } else {
                return None;
            };
            if !st.windows.is_empty() {
                let lot = st.book.lot(i).key.name.clone();
                st.mark_dirty_at(server, &lot, space, &uid);
            }
            st.cancel_held_resyncs(server, &uid);
            st.left.note(server, &uid);
            let shown = st.book.put(i, space, None).old.and_then(|slot| slot.shown);
            let event = left_event(&mut st, kind, server, uid, shown, retriever, now);
            self.publish_total(&st);
            Events::from(event)
        };
        self.dispatch(&events);
        Some(events)
    }
}

/// The event of a call that left (`shown`: as the views showed it); a give-up is
/// held back a moment instead (a `ParkedCall` of the same call right after it makes
/// it a move).
fn left_event(
    st: &mut State,
    kind: LiveKind,
    server: ServerId,
    uid: CompactString,
    shown: Option<Arc<ParkedCall>>,
    retriever: Option<Retriever>,
    now: Timestamp,
) -> Option<ParkingEvent> {
    if kind == LiveKind::GaveUp && !uid.is_empty() {
        st.held = Some(Held { server, uid, from: shown, until: now + MOVE_WINDOW });
        return None;
    }
    let call = shown?;
    Some(match kind {
        LiveKind::Retrieved => ParkingEvent::Retrieved { call, retriever: retriever.unwrap_or_default() },
        LiveKind::TimedOut => ParkingEvent::TimedOut { call },
        _ => ParkingEvent::GaveUp { call },
    })
}

/// How long a give-up waits for a `ParkedCall` of the same call (a move) before it
/// is reported as a give-up. Asterisk sends the two back to back.
pub(super) const MOVE_WINDOW: Duration = Duration::from_millis(250);

/// A give-up held back for [`MOVE_WINDOW`].
pub(super) struct Held {
    server: ServerId,
    uid: CompactString,
    /// The call as the views showed it.
    from: Option<Arc<ParkedCall>>,
    /// When it is reported as a give-up.
    pub(super) until: Timestamp,
}

impl Held {
    fn is(&self, server: ServerId, uid: &str) -> bool {
        self.server == server && self.uid == uid
    }

    /// The give-up event (none when the views did not show the call).
    pub(super) fn into_event(self) -> Option<ParkingEvent> {
        self.from.map(|call| ParkingEvent::GaveUp { call })
    }
}

impl State {
    /// The ordinal of the lot `call` goes to or leaves (`None`: a leave of a lot the
    /// book does not have), or the cap it would pass: `("lots", max_lots)` for a new
    /// lot past the lots' cap, `("calls", max_calls)` for a new call past the calls'.
    fn lot_for(
        &mut self,
        kind: LiveKind,
        call: &ParkedCall,
        max_calls: usize,
        max_lots: usize,
    ) -> Result<Option<usize>, (&'static str, usize)> {
        // A leave makes no lot: a call that leaves a lot never seen was in no view,
        // and a flood of such leaves must not fill the book with lots nobody sees.
        if kind.is_leave() {
            return Ok(self.book.ordinal(call.server_id, call.parking_lot.as_bytes()));
        }
        let known = self
            .book
            .named_last(call.server_id, &call.parking_lot)
            .or_else(|| self.book.ordinal(call.server_id, call.parking_lot.as_bytes()));
        let Some(i) = known.or_else(|| self.book.lot_index_within(&call.lot_key(), max_lots)) else {
            return Err(("lots", max_lots));
        };
        if self.book.raw_total >= max_calls && !self.book.lot(i).spaces.contains(call.parking_space) {
            return Err(("calls", max_calls));
        }
        Ok(Some(i))
    }

    /// The held give-up, reported now (before a list answer or when its time is up).
    pub(super) fn release_held(&mut self) -> Option<ParkingEvent> {
        self.held.take().and_then(Held::into_event)
    }

    /// True (once) when `call` left before its swap came in.
    fn forget_departed(&mut self, call: &ParkedCall) -> bool {
        let at = self.departed.iter().position(|(s, u)| *s == call.server_id && *u == call.unique_id());
        at.and_then(|at| self.departed.remove(at)).is_some()
    }

    /// Remembers, in every open collection window, that a live event touched this
    /// call and its space.
    fn mark_dirty(&mut self, call: &ParkedCall) {
        self.mark_dirty_at(call.server_id, &call.parking_lot, call.parking_space, call.unique_id());
    }

    /// [`State::mark_dirty`] by the call's place and unique id.
    fn mark_dirty_at(&mut self, server: ServerId, lot: &Arc<str>, space: u32, uid: &str) {
        // Most of the time no list is being collected (a walk of an empty map still
        // costs a park some 60 instructions).
        if self.windows.is_empty() {
            return;
        }
        for w in self.windows.values_mut() {
            w.keys.insert((server, lot.clone(), space));
            if !uid.is_empty() {
                w.uids.insert((server, uid.into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One step: a live event (kind, lot, space, unique id, channel), a tick after
    /// some milliseconds, or a collection window opened.
    #[derive(Debug, Clone)]
    enum Step {
        Event(u8, u8, u32, u8, u8),
        Tick(u64),
        Window,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0u8..5, 0u8..3, 701u32..704, 0u8..5, 0u8..2).prop_map(|(k, l, s, u, c)| Step::Event(k, l, s, u, c)),
            1 => (0u64..400).prop_map(Step::Tick),
            1 => Just(Step::Window),
        ]
    }

    fn message(kind: u8, lot: u8, space: u32, uid: u8, chan: u8) -> Message {
        let event = ["ParkedCall", "UnParkedCall", "ParkedCallTimeOut", "ParkedCallGiveUp", "ParkedCallSwap"]
            [kind as usize];
        // Unique id 0 is empty (Asterisk 11 leaves may name none); lot 0 is unnamed.
        let uid = if uid == 0 { String::new() } else { format!("1700000000.{uid}") };
        let mut pairs = vec![
            ("Event", event.to_string()),
            ("ParkeeChannel", format!("PJSIP/{chan}-0001")),
            ("ParkeeUniqueid", uid),
            ("ParkingSpace", space.to_string()),
            ("ParkingTimeout", "45".into()),
            ("ParkingDuration", "0".into()),
            ("RetrieverChannel", "PJSIP/200-0002".into()),
            ("RetrieverCallerIDName", r#"Desk \"2\""#.into()),
        ];
        if lot > 0 {
            pairs.push(("Parkinglot", ["", "default", "vip"][lot as usize].into()));
        }
        Message::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
    }

    /// A store whose options' callbacks can reach it: `options` gets a cell that holds
    /// the store once it is made.
    fn store_its_options_see(
        options: impl FnOnce(std::sync::Arc<std::sync::OnceLock<ParkingStore>>) -> crate::store::ParkingOptions,
    ) -> ParkingStore {
        let cell = std::sync::Arc::<std::sync::OnceLock<ParkingStore>>::default();
        let store = ParkingStore::new(options(cell.clone()));
        assert!(cell.set(store.clone()).is_ok());
        store
    }

    /// What `work` returns, run on a thread of its own within 10 s: a deadlock fails
    /// the test (saying `waiting`) instead of hanging it. What `work` holds goes
    /// with the thread, so nothing left waiting for a lock is dropped here.
    fn within_a_deadline<T: Send + 'static>(waiting: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(work()).ok());
        rx.recv_timeout(Duration::from_secs(10)).expect(waiting)
    }

    /// A `parked_call_filter` runs under the store's lock: reading the lots from it
    /// (they have a lock of their own) must not wait for that lock.
    #[test]
    fn a_filter_may_read_the_lots() {
        use crate::model::LotKey;
        use crate::store::ParkingOptions;
        let store = store_its_options_see(|seen| {
            ParkingOptions::default().parked_call_filter(move |c| {
                let store = seen.get().expect("set before any event");
                let key = LotKey::new(c.server_id, c.parking_lot.clone());
                let _ = (store.lot_now(&key), store.parking_lots_now(), store.parking_lots_map_now());
                let _ = (format!("{store:?}"), store.parking_lots());
                true
            })
        });
        let got = within_a_deadline("the filter read the lots without waiting", move || {
            let now = Timestamp::from_unix_millis(1_700_000_000_000);
            let events = store.apply_message(now, 1, &message(0, 2, 701, 1, 0));
            (events.len(), store.parking_lots_now().len())
        });
        assert_eq!(got, (1, 1), "one park, one lot");
    }

    /// A park is read and applied under the store's one lock: the listeners hear of
    /// it after the lock is let go, so a listener and an option callback may read the
    /// store.
    #[test]
    fn listeners_of_a_park_may_read_the_store() {
        use crate::store::ParkingOptions;
        let store = store_its_options_see(|seen| {
            ParkingOptions::default().on_call_parked(move |_| {
                let store = seen.get().expect("set before any event");
                assert_eq!(store.parked_calls_now().len(), 1, "the option callback sees the park");
            })
        });
        let reader = store.clone();
        let listening = store.on_parking_event(move |_| {
            assert_eq!(reader.parked_calls_now().len(), 1, "the listener sees the park");
        });
        let got = within_a_deadline("the listeners read the store without waiting", move || {
            // The subscription goes with the thread: dropped here after a deadlock, it
            // would wait for the lock too, and hang the test instead of failing it.
            let _listening = listening;
            let now = Timestamp::from_unix_millis(1_700_000_000_000);
            store.apply_message(now, 1, &message(0, 2, 701, 1, 0)).len()
        });
        assert_eq!(got, 1, "one park");
    }

    proptest! {
        /// A leave of a call the store holds takes a short path (the event's call is
        /// never built): what it reports and what the store holds after are the
        /// general path's, step by step, with give-ups held back, swaps, calls
        /// replaced in their space, leaves of calls never seen and windows open.
        #[test]
        fn a_held_leave_applied_from_its_scan_is_the_general_path(steps in proptest::collection::vec(step(), 1..40)) {
            let (short, general) = (ParkingStore::default(), ParkingStore::default());
            let mut now = Timestamp::from_unix_millis(1_700_000_000_000);
            for s in steps {
                let (a, b) = match s {
                    Step::Event(k, l, sp, u, c) => {
                        let m = message(k, l, sp, u, c);
                        let b = match Inbound::of_message(1, &m, now, Shape::Messages) {
                            Inbound::Live(e) => general.apply_live(now, e).0.into_vec(),
                            _ => Vec::new(),
                        };
                        (short.apply_message(now, 1, &m).into_vec(), b)
                    }
                    Step::Tick(ms) => {
                        now = now + Duration::from_millis(ms);
                        (short.tick(now), general.tick(now))
                    }
                    Step::Window => {
                        short.open_window();
                        general.open_window();
                        (Vec::new(), Vec::new())
                    }
                };
                prop_assert_eq!(a, b);
                prop_assert_eq!(short.parked_calls_now(), general.parked_calls_now());
                prop_assert_eq!(short.parking_lots_map_now(), general.parking_lots_map_now());
                prop_assert_eq!(format!("{:?}", short.debug_sizes()), format!("{:?}", general.debug_sizes()));
            }
        }
    }
}
