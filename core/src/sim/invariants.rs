//! What must hold of a store and a connection whatever they were fed: the checks the
//! fuzz target, the hostile-input suite and the property suite run after every step.

use crate::connection::Connection;
use crate::model::LotKey;
use crate::store::{ParkingStore, StoreSizes};
use std::collections::BTreeSet;

/// Checks the store's views against each other and its caps:
/// - never two calls in one space;
/// - every call's lot is in the lots map, and each lot's `occupied` equals its calls;
/// - a call's space lies inside its lot's range when the range is known, and the
///   grid has one cell per space holding exactly the lot's calls;
/// - the total equals the calls; at most `max_calls` calls and `max_lots` lots;
/// - what the store keeps is bounded ([`check_sizes`]).
///
/// It assumes no `parked_call_filter` (a hidden call counts in its lot, not in the
/// views). The error names the first broken rule.
///
/// ```
/// use ami_parking::{sim::check_store, ParkingStore};
/// assert_eq!(check_store(&ParkingStore::default()), Ok(()));
/// ```
pub fn check_store(store: &ParkingStore) -> Result<(), String> {
    let calls = store.parked_calls_now();
    let lots = store.parking_lots_now();
    let opts = store.options();
    let mut places = BTreeSet::new();
    for c in &calls {
        if !places.insert((c.server_id, c.parking_lot.clone(), c.parking_space)) {
            return Err(format!("two calls in space {} of lot {}", c.parking_space, c.parking_lot));
        }
    }
    if store.total_parked_calls_now() != calls.len() {
        return Err(format!("total {} for {} calls", store.total_parked_calls_now(), calls.len()));
    }
    if calls.len() > opts.max_calls || lots.len() > opts.max_lots {
        return Err(format!("{} calls in {} lots, past the caps", calls.len(), lots.len()));
    }
    let lot_keys: BTreeSet<(u32, &str)> = lots.iter().map(|l| (l.server_id, &*l.name)).collect();
    if let Some(c) = calls.iter().find(|c| !lot_keys.contains(&(c.server_id, &*c.parking_lot))) {
        return Err(format!(
            "call in space {} has no lot {} in the lots map",
            c.parking_space, c.parking_lot
        ));
    }
    check_sizes(store)?;
    for lot in &lots {
        let key = LotKey::new(lot.server_id, lot.name.clone());
        let mine = store.lot_calls_now(&key);
        if lot.occupied as usize != mine.len() {
            return Err(format!("lot {} says {} occupied, holds {}", lot.name, lot.occupied, mine.len()));
        }
        let grid = store.lot_grid_now(&key);
        if !lot.range_known {
            // No range: the grid is the lot's calls, one cell each.
            if !grid.iter().map(Option::as_ref).eq(mine.iter().map(Some)) {
                return Err(format!("lot {}'s grid is not its calls while its range is unknown", lot.name));
            }
            continue;
        }
        if let Some(c) =
            mine.iter().find(|c| c.parking_space < lot.start_space || c.parking_space > lot.end_space)
        {
            return Err(format!(
                "call in space {} outside lot {}'s range {}-{}",
                c.parking_space, lot.name, lot.start_space, lot.end_space
            ));
        }
        let cells =
            if lot.end_space >= lot.start_space { u64::from(lot.end_space - lot.start_space) + 1 } else { 0 };
        if grid.len() as u64 != cells {
            return Err(format!("lot {}'s grid has {} cells for {cells} spaces", lot.name, grid.len()));
        }
        let in_grid = grid.iter().flatten().count();
        if in_grid != mine.len() {
            return Err(format!("lot {}'s grid shows {in_grid} calls of {}", lot.name, mine.len()));
        }
    }
    Ok(())
}

/// Bounds what the store keeps by what is live (see [`StoreSizes`]): the alerts by
/// their limit (the calls at the last tick, plus the parks since), the calls a
/// reordered park or leave left waiting by their cap, at most one held give-up, the
/// calls by what the lots count. Part of [`check_store`].
///
/// ```
/// use ami_parking::{sim::check_sizes, ParkingStore};
/// let store = ParkingStore::default();
/// let _stream = store.events();
/// assert_eq!(check_sizes(&store), Ok(()));
/// ```
pub fn check_sizes(store: &ParkingStore) -> Result<(), String> {
    let s = store.debug_sizes();
    if s.alerts > s.alert_limit {
        return Err(format!(
            "{} near-timeout alerts kept for {} calls (limit {}): ended parks' alerts are not swept",
            s.alerts, s.calls, s.alert_limit
        ));
    }
    if s.displaced > StoreSizes::MAX_REORDERED || s.departed > StoreSizes::MAX_REORDERED {
        return Err(format!(
            "{} displaced and {} departed calls kept, past the cap",
            s.displaced, s.departed
        ));
    }
    if s.left > StoreSizes::MAX_LEFT {
        return Err(format!("{} calls remembered as gone, past the cap", s.left));
    }
    if s.held_resyncs > StoreSizes::MAX_HELD_RESYNCS {
        return Err(format!("{} resync findings held, past the cap", s.held_resyncs));
    }
    if s.held_give_ups > 1 {
        return Err(format!("{} give-ups held", s.held_give_ups));
    }
    let in_lots: usize = store.parking_lots_now().iter().map(|l| l.occupied as usize).sum();
    if s.calls > store.options().max_calls || s.calls < in_lots {
        return Err(format!("{} calls held, {in_lots} counted in the lots", s.calls));
    }
    Ok(())
}

/// [`check_store`] on the connection's store, and the connection's own bounds (see
/// [`ConnectionSizes`](crate::ConnectionSizes)): at most `max_servers` servers followed; at most one bound
/// ActionID and one deadline per request in flight; no more collection windows open in
/// the store than this connection's `ParkedCalls` requests in flight, and no more
/// servers synced than followed. These last two assume the connection is the store's
/// only writer (as in the fuzz target and the property suite).
///
/// ```
/// use ami_parking::{sim::check_connection, Connection, ConnectionConfig, Timestamp};
/// let conn = Connection::new(ConnectionConfig::ami("u", "s"), Timestamp::ZERO);
/// assert_eq!(check_connection(&conn), Ok(()));
/// ```
pub fn check_connection(conn: &Connection) -> Result<(), String> {
    check_store(conn.store())?;
    let s = conn.debug_sizes();
    if s.known_servers > conn.config().max_servers.max(1) {
        return Err(format!("{} servers followed, past max_servers", s.known_servers));
    }
    if s.bound_action_ids > s.pending_requests {
        return Err(format!(
            "{} ActionIDs bound for {} requests in flight: answered requests' ids are kept",
            s.bound_action_ids, s.pending_requests
        ));
    }
    if s.request_deadlines > s.pending_requests {
        return Err(format!(
            "{} request deadlines for {} requests in flight",
            s.request_deadlines, s.pending_requests
        ));
    }
    if s.store.collection_windows > s.collection_windows {
        return Err(format!(
            "{} collection windows open for {} ParkedCalls requests in flight: ended lists' windows are kept",
            s.store.collection_windows, s.collection_windows
        ));
    }
    if s.store.synced_servers > s.known_servers || s.store.lots_synced_servers > s.known_servers {
        return Err(format!(
            "{} servers synced ({} lots synced) of {} followed",
            s.store.synced_servers, s.store.lots_synced_servers, s.known_servers
        ));
    }
    Ok(())
}
