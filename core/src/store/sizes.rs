//! How much the store holds, container by container: cheap counts for tests, soaks
//! and dashboards that must see a leak before it costs memory (a process that runs
//! for months).

use super::ParkingStore;

/// The size of every container a [`ParkingStore`] keeps for as long as it lives, from
/// [`ParkingStore::debug_sizes`]. Each count is read under the store's one lock.
///
/// What bounds each (checked by `sim::check_store` and, for what a
/// connection owns, `sim::check_connection`, with the feature `sim`):
/// - `calls`, `lots`: what Asterisk holds, capped by the options' `max_calls` and
///   `max_lots` (`lots` also counts lots a view asked for by key);
/// - `collection_windows`: one per `ParkedCalls` request in flight;
/// - `listeners`, `event_streams`, `call_list_subscribers`, `lots_map_subscribers`,
///   `lot_view_subscribers`: one per live [`Subscription`](crate::Subscription),
///   [`EventStream`](crate::EventStream),
///   [`ParkedCallsSignalVec`](crate::ParkedCallsSignalVec),
///   [`ParkingLotsSignalMap`](crate::ParkingLotsSignalMap) or lot grid and lot call
///   list; a dropped stream or signal is let go at the next change it would have
///   been sent;
/// - `alerts`: at most `alert_limit`, which is `2 × calls + 64` at the last sweep
///   plus the parks since (alerts of parks that ended are swept at each clock tick
///   and whenever a park takes them past `2 × calls + 64`, ticked or not);
/// - `displaced`, `departed`: at most [`StoreSizes::MAX_REORDERED`] each (calls a
///   reordered park or leave left waiting for their other half);
/// - `held_give_ups`: 0 or 1;
/// - `left`: at most [`StoreSizes::MAX_LEFT`] (calls seen leaving since the link came
///   up: a list naming one is stale for it);
/// - `held_resyncs`: at most [`StoreSizes::MAX_HELD_RESYNCS`] (differences a list
///   found, held for [`RESYNC_SETTLE`](crate::RESYNC_SETTLE));
/// - `synced_servers`, `lots_synced_servers`: one per server followed.
///
/// ```
/// use ami_parking::{ParkingStore, StoreSizes};
/// let store = ParkingStore::default();
/// let stream = store.events();
/// assert_eq!(store.debug_sizes().event_streams, 1);
/// drop(stream);
/// assert_eq!(store.debug_sizes().calls, 0);
/// assert_eq!(store.debug_sizes().collection_windows, 0);
/// # let _ = StoreSizes::MAX_REORDERED;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StoreSizes {
    /// Calls Asterisk holds (every lot and server, shown or not).
    pub calls: usize,
    /// Lots the store keeps (named by Asterisk, or asked for by a view).
    pub lots: usize,
    /// Collection windows open (one per `ParkedCalls` request collecting).
    pub collection_windows: usize,
    /// Listeners registered with [`ParkingStore::on_parking_event`].
    pub listeners: usize,
    /// Event streams kept (from [`ParkingStore::events`]; a dropped one is let go at
    /// the next event).
    pub event_streams: usize,
    /// Of `event_streams`, those whose [`EventStream`](crate::EventStream) was dropped
    /// since the last event.
    pub event_streams_closed: usize,
    /// Subscribers of [`ParkingStore::parked_calls`] kept (a dropped one is let go at
    /// the next change of the list).
    pub call_list_subscribers: usize,
    /// Subscribers of [`ParkingStore::parking_lots`] (and of its lot signals) kept (a
    /// dropped one is let go at the next change of the map).
    pub lots_map_subscribers: usize,
    /// Subscribers of the lots' grids and call lists ([`ParkingStore::lot_grid`],
    /// [`ParkingStore::lot_calls`]), all lots, kept (a dropped one is let go at the
    /// next change of its lot's view).
    pub lot_view_subscribers: usize,
    /// Near-timeout alerts scheduled (of live parks, and of ended ones not swept yet).
    pub alerts: usize,
    /// What bounds `alerts`: `2 × calls + 64` at the last tick or sweep, plus the
    /// parks since.
    pub alert_limit: usize,
    /// Calls a park replaced before their own leave came.
    pub displaced: usize,
    /// Calls whose leave came before the store held them.
    pub departed: usize,
    /// Give-ups held back to see whether they are half of a move (0 or 1).
    pub held_give_ups: usize,
    /// Calls seen leaving live since their server's link came up.
    pub left: usize,
    /// Differences a list found, not reported yet (see [`crate::RESYNC_SETTLE`]).
    pub held_resyncs: usize,
    /// Servers whose `ParkedCalls` answer was applied.
    pub synced_servers: usize,
    /// Servers whose `Parkinglots` answer was applied.
    pub lots_synced_servers: usize,
}

impl StoreSizes {
    /// The cap of `displaced` and of `departed`.
    pub const MAX_REORDERED: usize = super::live::DISPLACED_MAX;
    /// The cap of `left`.
    pub const MAX_LEFT: usize = super::left::LEFT_MAX;
    /// The cap of `held_resyncs`.
    pub const MAX_HELD_RESYNCS: usize = super::reconcile::HELD_RESYNCS_MAX;
}

impl ParkingStore {
    /// The size of each container the store keeps (see [`StoreSizes`]): for tests and
    /// long-running processes that watch for leaks. Cheap: a few lengths under the
    /// store's lock.
    pub fn debug_sizes(&self) -> StoreSizes {
        let st = self.lock();
        StoreSizes {
            calls: st.book.raw_total,
            lots: st.book.lots().count(),
            collection_windows: st.windows.len(),
            listeners: st.listeners.len(),
            event_streams: st.streams.len(),
            event_streams_closed: st.streams.iter().filter(|s| s.is_closed()).count(),
            call_list_subscribers: st.book.global.len(),
            lots_map_subscribers: self.inner.lots.subscribers(),
            lot_view_subscribers: st.book.lots().map(|l| l.view_subscribers()).sum(),
            alerts: st.clock.alerts(),
            alert_limit: st.clock.alert_limit(),
            displaced: st.displaced.len(),
            departed: st.departed.len(),
            held_give_ups: usize::from(st.held.is_some()),
            held_resyncs: st.held_resyncs.len(),
            left: st.left.len(),
            synced_servers: st.synced.len(),
            lots_synced_servers: st.lots_synced.len(),
        }
    }
}
