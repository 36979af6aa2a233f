//! The checks of each lot after every step: its call list and grid built from the
//! reference's view, and, once nothing is on its way, Asterisk's range.

use super::coverage;
use super::reference::{Key, RefState};
use ami_parking::sim::SimPbx;
use ami_parking::{LotKey, ParkingStore};

/// Once nothing is on its way (the link up, no answer held), every lot holding
/// calls has Asterisk's range: a lot Asterisk made at a park (a dynamic lot) is
/// listed, not left with a range unknown.
pub fn ranges(store: &ParkingStore, pbx: &SimPbx, connected: bool) {
    if !connected || pbx.held_answers() > 0 {
        return;
    }
    for lot in store.parking_lots_now() {
        if lot.occupied == 0 {
            continue;
        }
        let lots = pbx.lots(lot.server_id);
        let Some(l) = lots.iter().find(|l| *l.name == *lot.name) else {
            panic!("lot {} of server {} holds calls, and Asterisk has no such lot", lot.name, lot.server_id);
        };
        if l.dynamic {
            coverage::saw("situation: a call in a dynamic lot");
        }
        assert!(
            lot.range_known && (lot.start_space, lot.end_space) == (l.start, l.end),
            "lot {} of server {}: Asterisk's range {}-{}, the store's {lot:?}",
            lot.name,
            lot.server_id,
            l.start,
            l.end
        );
    }
}

/// Each lot's call list and grid equal the view, after every step.
pub fn lot_views(store: &ParkingStore, reference: &RefState) {
    for lot in store.parking_lots_now() {
        let key = LotKey::new(lot.server_id, lot.name.clone());
        let mine: Vec<Key> =
            reference.view.iter().filter(|k| k.0 == lot.server_id && *k.1 == *lot.name).cloned().collect();
        let listed: Vec<Key> = store
            .lot_calls_now(&key)
            .iter()
            .map(|c| (c.server_id, c.parking_lot.to_string(), c.parking_space, c.unique_id().to_string()))
            .collect();
        assert_eq!(listed, mine, "lot {}'s call list equals the view", lot.name);
        assert_eq!(lot.occupied as usize, mine.len(), "lot {}'s count equals the view", lot.name);
        let grid = store.lot_grid_now(&key);
        if !lot.range_known {
            let cells: Vec<Option<String>> =
                grid.iter().map(|c| c.as_ref().map(|c| c.unique_id().to_string())).collect();
            let want: Vec<Option<String>> = mine.iter().map(|k| Some(k.3.clone())).collect();
            assert_eq!(cells, want, "lot {}: no range, a grid of its calls", lot.name);
            continue;
        }
        assert_eq!(grid.len() as u32, lot.end_space - lot.start_space + 1, "one cell per space");
        for (i, cell) in grid.iter().enumerate() {
            let space = lot.start_space + i as u32;
            let want = mine.iter().find(|k| k.2 == space).map(|k| k.3.clone());
            assert_eq!(
                cell.as_ref().map(|c| c.unique_id().to_string()),
                want,
                "lot {} space {space}",
                lot.name
            );
        }
    }
}
