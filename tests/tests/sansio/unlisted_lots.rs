//! Lots the server's `Parkinglots` answer did not name (a dynamic lot Asterisk made
//! at a `Park`, a lot seen before its list, a call outside a listed range): a grid of
//! their calls while the range is unknown, the lots listed again to learn it, and a
//! lot Asterisk no longer has forgotten once empty.

use crate::ui_store::uid_of;
use ami_parking::Request;
use ami_parking::{LotKey, ParkedCall, ParkingOptions, Target};
use ami_parking_tests::*;
use std::sync::Arc;

/// The `Parkinglots` actions the connection sent since the last look.
fn lots_lists(w: &mut Wire) -> Vec<ami_parking::Message> {
    w.sent().into_iter().filter(|m| m.is("Action", "Parkinglots")).collect()
}

/// A lot known only from its events (a dynamic lot Asterisk made on the fly, or one
/// seen before its `Parkinglots` answer) has no range: its grid is then its calls, one
/// cell each in space order, so a display made of grids never hides a parked call.
#[test]
fn a_lot_whose_range_is_unknown_has_a_grid_of_its_calls_and_a_working_list() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    let key = LotKey::new(1, "overflow");
    let mut grid = DiffProbe::of(w.conn.store().lot_grid(&key));
    let mut list = DiffProbe::of(w.conn.store().lot_calls(&key));
    assert!(w.conn.store().lot_now(&key).is_none(), "asking for a view does not make a lot");
    grid.take();
    w.feed(&live_event("ParkedCall", "overflow", 903, "1.3", "5551003"));
    w.feed(&live_event("ParkedCall", "overflow", 901, "1.1", "5551001"));
    w.feed(&live_event("ParkedCall", "overflow", 907, "1.7", "5551007"));
    assert_eq!(
        grid.take_at(),
        [("insert", 0), ("insert", 0), ("insert", 2)],
        "each park inserts its cell, in space order"
    );
    let uids = |cells: &[Option<Arc<ParkedCall>>]| cells.iter().map(uid_of).collect::<Vec<_>>();
    let want = [Some("1.1".into()), Some("1.3".into()), Some("1.7".into())];
    assert_eq!(uids(&grid.mirror), want);
    assert_eq!(grid.mirror, w.conn.store().lot_grid_now(&key), "the diffs build the grid");
    list.take();
    assert_eq!(list.mirror.len(), 3, "the lot's list works before its range is known");
    let lot = w.conn.store().lot_now(&key).unwrap();
    assert_eq!((lot.range_known, lot.occupied), (false, 3));
    // A leave removes its cell; a new subscriber starts from the same cells.
    w.feed(&live_event("UnParkedCall", "overflow", 903, "1.3", "5551003"));
    assert_eq!(grid.take_at(), [("remove", 1)]);
    assert_eq!(uids(&grid.mirror), [Some("1.1".into()), Some("1.7".into())]);
    let mut fresh = DiffProbe::of(w.conn.store().lot_grid(&key));
    assert_eq!(fresh.take(), ["replace"]);
    assert_eq!(fresh.mirror, grid.mirror);
    // The range arrives: the grid becomes one cell per space, the calls in their cells.
    w.conn.request(w.now, Request::ParkingLots, Target::All).unwrap();
    let sent = w.sent();
    w.feed(&parking_lots_answer(&aid(&sent[0]), &[("overflow", 901, 907, 45)]));
    assert_eq!(grid.take(), ["replace"]);
    assert_eq!(uids(&grid.mirror), [Some("1.1".into()), None, None, None, None, None, Some("1.7".into())]);
}

/// A park in a lot the server's list did not name (Asterisk made a dynamic lot at the
/// `Park`): the connection lists the server's lots again, once, and the lot's grid
/// becomes one cell per space. Meanwhile a park into that lot is sent, not refused
/// as an unknown lot: Asterisk named it.
#[test]
fn a_lot_first_seen_in_a_park_is_listed_again_to_learn_its_range() {
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    let key = LotKey::new(1, "overflow");
    w.feed(&live_event("ParkedCall", "overflow", 901, "1.1", "5551001"));
    let asked = lots_lists(&mut w);
    assert_eq!(asked.len(), 1, "the server's lots are listed again");
    w.feed(&live_event("ParkedCall", "overflow", 902, "1.2", "5551002"));
    assert!(lots_lists(&mut w).is_empty(), "once, not at each park");
    // Another new lot while that list is on its way: it may have been taken before
    // Asterisk made this one, so this one gets its own.
    w.feed(&live_event("ParkedCall", "annex", 951, "1.5", "5551005"));
    let annex = lots_lists(&mut w);
    assert_eq!(annex.len(), 1, "a list for the second new lot too");
    w.feed(&parking_lots_answer(&aid(&annex[0]), &[("default", 701, 720, 45), ("annex", 951, 952, 45)]));
    assert!(w.conn.store().lot_now(&LotKey::new(1, "annex")).is_some_and(|l| l.range_known));
    let park = ami_parking::Park::default().lot("overflow");
    w.conn.request(w.now, Request::Park { channel: "PJSIP/300-1".into(), park }, Target::All).unwrap();
    assert!(w.sent().iter().any(|m| m.is("Action", "Park")), "a park into the lot is sent");
    // The first answer, taken before Asterisk made `annex`: `annex` keeps its range.
    let lots = [("default", 701, 720, 45), ("overflow", 901, 905, 45)];
    w.feed(&parking_lots_answer(&aid(&asked[0]), &lots));
    assert!(w.conn.store().lot_now(&LotKey::new(1, "annex")).is_some_and(|l| l.range_known));
    let lot = w.conn.store().lot_now(&key).unwrap();
    assert_eq!((lot.range_known, lot.total_spaces, lot.occupied), (true, 5, 2));
    let spaces: Vec<Option<u32>> =
        w.conn.store().lot_grid_now(&key).iter().map(|c| c.as_ref().map(|c| c.parking_space)).collect();
    assert_eq!(spaces, [Some(901), Some(902), None, None, None]);
    // A lot the list named makes no list.
    w.feed(&live_event("ParkedCall", "default", 701, "1.3", "5551003"));
    assert!(lots_lists(&mut w).is_empty());
    // Unless a park lands outside its range (a reload grew it): listed again, once.
    w.feed(&live_event("ParkedCall", "default", 725, "1.4", "5551004"));
    let grown = lots_lists(&mut w);
    assert_eq!(grown.len(), 1, "a park outside the range: the lots listed again");
    w.feed(&live_event("ParkedCall", "default", 726, "1.6", "5551006"));
    assert!(lots_lists(&mut w).is_empty(), "once");
    w.feed(&parking_lots_answer(&aid(&grown[0]), &[("default", 701, 730, 45), ("overflow", 901, 905, 45)]));
    let default = w.conn.store().lot_now(&LotKey::new(1, "default")).unwrap();
    assert_eq!((default.range_known, default.total_spaces, default.occupied), (true, 30, 3));
    // Without auto_refresh the library sends nothing of its own.
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    w.conn.request(w.now, Request::ParkingLots, Target::All).unwrap();
    let asked = lots_lists(&mut w);
    w.feed(&parking_lots_answer(&aid(&asked[0]), &[("default", 701, 720, 45)]));
    w.feed(&live_event("ParkedCall", "overflow", 901, "1.1", "5551001"));
    assert!(w.conn.store().lot_now(&key).is_some_and(|l| !l.range_known));
    assert!(lots_lists(&mut w).is_empty(), "auto_refresh off: no list");
}

/// A lot first named by a `ParkedCalls` answer (Asterisk made it between the
/// refresh's `Parkinglots` and its `ParkedCalls`), or a call it lists outside a lot's
/// listed range: the connection lists the server's lots again, as after a live park,
/// and the lot's range becomes known. Once: a later list of calls naming the lot again
/// asks for nothing.
#[test]
fn a_list_of_calls_naming_a_new_lot_or_a_space_outside_its_range_lists_the_lots_again() {
    let calls = [("default", 701, "1.1", "5551001"), ("overflow", 901, "1.2", "5551002")];
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &calls);
    let key = LotKey::new(1, "overflow");
    let lot = w.conn.store().lot_now(&key).expect("the lot is known from its call");
    assert_eq!((lot.range_known, lot.occupied), (false, 1));
    let asked = lots_lists(&mut w);
    assert_eq!(asked.len(), 1, "the server's lots are listed again");
    w.feed(&parking_lots_answer(&aid(&asked[0]), &[("default", 701, 720, 45), ("overflow", 901, 905, 45)]));
    let lot = w.conn.store().lot_now(&key).unwrap();
    assert_eq!((lot.range_known, lot.total_spaces, lot.occupied), (true, 5, 1));
    // The next list of calls names it again: nothing more to learn.
    w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let sent = w.sent();
    let list = sent.iter().find(|m| m.is("Action", "ParkedCalls")).expect("ParkedCalls sent");
    w.feed(&parked_calls_answer(&aid(list), &calls));
    assert!(lots_lists(&mut w).is_empty(), "once");
    // A call listed outside a lot's listed range (a reload grew it): listed again, once.
    let grown = [
        ("default", 701, "1.1", "5551001"),
        ("overflow", 901, "1.2", "5551002"),
        ("default", 725, "1.3", "5551003"),
    ];
    for expected in [1, 0] {
        w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
        let sent = w.sent();
        let list = sent.iter().find(|m| m.is("Action", "ParkedCalls")).expect("ParkedCalls sent");
        w.feed(&parked_calls_answer(&aid(list), &grown));
        assert_eq!(lots_lists(&mut w).len(), expected, "a call outside the range: one list, then none");
    }
    // A lot named by the calls' answer while no list of lots has come in yet: that
    // list is still to come, and it will name the lot.
    let mut w = Wire::ami(ParkingOptions::default());
    let sent = w.sent();
    let lots_aid = aid(sent.iter().find(|m| m.is("Action", "Parkinglots")).unwrap());
    let calls_aid = aid(sent.iter().find(|m| m.is("Action", "ParkedCalls")).unwrap());
    w.feed(&parked_calls_answer(&calls_aid, &calls));
    assert!(lots_lists(&mut w).is_empty(), "no second list while the first is to come");
    w.feed(&parking_lots_answer(&lots_aid, &[("default", 701, 720, 45), ("overflow", 901, 905, 45)]));
    assert!(w.conn.store().lot_now(&key).is_some_and(|l| l.range_known));
}

/// A call a `ParkedCalls` answer brings but the store drops (the calls cap; a call
/// Asterisk announced as gone that its lists still name) makes no lot known, so there
/// is nothing to learn: no list, answer after answer (a hostile server that lists
/// such a call forever gets none).
#[test]
fn a_call_the_store_drops_from_a_list_of_calls_teaches_nothing() {
    let key = LotKey::new(1, "overflow");
    let calls = [("default", 701, "1.1", "5551001"), ("overflow", 901, "1.2", "5551002")];
    // The calls cap: here one call.
    let options = ParkingOptions::default().caps(1, 100);
    let mut w = Wire::synced(options, &[("default", 701, 720, 45)], &[("default", 701, "1.1", "5551001")]);
    for _ in 0..3 {
        w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
        let sent = w.sent();
        let list = sent.iter().find(|m| m.is("Action", "ParkedCalls")).expect("ParkedCalls sent");
        w.feed(&parked_calls_answer(&aid(list), &calls));
        assert!(lots_lists(&mut w).is_empty(), "a dropped call teaches nothing");
    }
    assert!(w.conn.store().lot_now(&key).is_none());
    // A call Asterisk announced as gone that its lists still name (stale).
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    w.feed(&live_event("ParkedCall", "overflow", 901, "1.2", "5551002"));
    assert_eq!(lots_lists(&mut w).len(), 1, "the live park: a list");
    w.feed(&live_event("ParkedCallGiveUp", "overflow", 901, "1.2", "5551002"));
    for _ in 0..3 {
        w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
        let sent = w.sent();
        let list = sent.iter().find(|m| m.is("Action", "ParkedCalls")).expect("ParkedCalls sent");
        w.feed(&parked_calls_answer(&aid(list), &[("overflow", 901, "1.2", "5551002")]));
        assert!(lots_lists(&mut w).is_empty(), "a stale call teaches nothing");
        assert!(w.conn.store().lot_now(&key).is_none_or(|l| l.occupied == 0), "the stale call is not taken");
    }
}

/// A dynamic lot Asterisk lost in a crash (no leave came: the link just dropped) still
/// held its calls when the lots were listed after the login: the list of calls that
/// empties it forgets it too, rather than keep a lot Asterisk no longer has.
#[test]
fn a_dynamic_lot_lost_in_a_crash_is_forgotten_after_the_resync() {
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    let key = LotKey::new(1, "overflow");
    w.feed(&live_event("ParkedCall", "overflow", 901, "1.1", "5551001"));
    let asked = lots_lists(&mut w);
    w.feed(&parking_lots_answer(&aid(&asked[0]), &[("default", 701, 720, 45), ("overflow", 901, 905, 45)]));
    assert!(w.conn.store().lot_now(&key).is_some_and(|l| l.range_known));
    w.conn.handle_disconnected(w.now);
    w.connect_and_log_in();
    w.answer_initial(&[("default", 701, 720, 45)], &[]);
    assert_eq!(w.conn.store().lot_now(&key), None, "Asterisk no longer has the lot");
    assert!(w.conn.store().parking_lots_now().iter().all(|l| &*l.name == "default"));
    ami_parking::sim::check_store(w.conn.store()).unwrap();
    // A lot the list of lots named stays, empty.
    assert!(w.conn.store().lot_now(&LotKey::new(1, "default")).is_some());
}

/// A lot made while the login's first `Parkinglots` is on its way (a park into a
/// dynamic lot while that answer is held up, or a `ParkedCalls` answer read before
/// the lots' answer): that list may have been taken before Asterisk made the lot.
/// When it does not name a lot holding calls (or gives a range a call lies outside),
/// the lots are listed again, once; when it names every lot, nothing more.
#[test]
fn a_lot_made_while_the_first_list_of_lots_was_on_its_way_is_listed_again_when_it_missed_it() {
    let initial = |w: &mut Wire| {
        let sent = w.sent();
        let find = |action: &str| aid(sent.iter().find(|m| m.is("Action", action)).expect("sent at login"));
        (find("Parkinglots"), find("ParkedCalls"))
    };
    let key = LotKey::new(1, "overflow");
    let default = [("default", 701, 720, 45)];
    let both = [("default", 701, 720, 45), ("overflow", 901, 905, 45)];
    // A live park first.
    let mut w = Wire::ami(ParkingOptions::default());
    let (lots_aid, calls_aid) = initial(&mut w);
    w.feed(&live_event("ParkedCall", "overflow", 901, "1.1", "5551001"));
    assert!(lots_lists(&mut w).is_empty(), "the first list is on its way: no second yet");
    w.feed(&parking_lots_answer(&lots_aid, &default));
    let again = lots_lists(&mut w);
    assert_eq!(again.len(), 1, "the first list missed the lot: the lots are listed again");
    w.feed(&parked_calls_answer(&calls_aid, &[("overflow", 901, "1.1", "5551001")]));
    assert!(lots_lists(&mut w).is_empty(), "once");
    w.feed(&parking_lots_answer(&aid(&again[0]), &both));
    let lot = w.conn.store().lot_now(&key).unwrap();
    assert_eq!((lot.range_known, lot.total_spaces, lot.occupied), (true, 5, 1));
    // The calls' answer read first (it names the lot), the lots' answer missing it.
    let mut w = Wire::ami(ParkingOptions::default());
    let (lots_aid, calls_aid) = initial(&mut w);
    w.feed(&parked_calls_answer(&calls_aid, &[("overflow", 901, "1.1", "5551001")]));
    assert!(lots_lists(&mut w).is_empty());
    w.feed(&parking_lots_answer(&lots_aid, &default));
    let again = lots_lists(&mut w);
    assert_eq!(again.len(), 1, "the lots' answer missed a lot the calls' answer named");
    // A server whose lists never name the lot: one more list, not one an answer.
    w.feed(&parking_lots_answer(&aid(&again[0]), &default));
    assert!(lots_lists(&mut w).is_empty(), "a list that misses it again asks for nothing more");
    assert!(w.conn.store().lot_now(&key).is_some_and(|l| !l.range_known && l.occupied == 1));
    // Parks into lots the first list names: nothing to learn.
    let mut w = Wire::ami(ParkingOptions::default());
    let (lots_aid, _) = initial(&mut w);
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    w.feed(&live_event("ParkedCall", "overflow", 901, "1.2", "5551002"));
    w.feed(&parking_lots_answer(&lots_aid, &both));
    assert!(lots_lists(&mut w).is_empty(), "the list named both lots");
    assert!(w.conn.store().lot_now(&key).is_some_and(|l| l.range_known));
    // A call outside the range the first answer gives (a reload while it was on its
    // way): listed again, once, as after a live park outside it.
    let mut w = Wire::ami(ParkingOptions::default());
    let (lots_aid, _) = initial(&mut w);
    w.feed(&live_event("ParkedCall", "default", 725, "1.1", "5551001"));
    w.feed(&parking_lots_answer(&lots_aid, &default));
    let again = lots_lists(&mut w);
    assert_eq!(again.len(), 1, "a call outside the first answer's range: listed again");
    w.feed(&parking_lots_answer(&aid(&again[0]), &[("default", 701, 730, 45)]));
    assert!(lots_lists(&mut w).is_empty(), "once");
    let lot = w.conn.store().lot_now(&LotKey::new(1, "default")).unwrap();
    assert_eq!((lot.range_known, lot.total_spaces, lot.occupied), (true, 30, 1));
    // A lot made and emptied before the answer: nothing held there, nothing to learn.
    let mut w = Wire::ami(ParkingOptions::default());
    let (lots_aid, _) = initial(&mut w);
    w.feed(&live_event("ParkedCall", "overflow", 901, "1.1", "5551001"));
    w.feed(&live_event("ParkedCallGiveUp", "overflow", 901, "1.1", "5551001"));
    w.feed(&parking_lots_answer(&lots_aid, &default));
    assert!(lots_lists(&mut w).is_empty(), "an empty lot is forgotten, not listed");
}
