//! A real `ParkedCallSwap` on the sandbox (recipe and facts in the wire doc): a parked
//! Local channel optimizes away and the far channel takes its place in the parking
//! bridge. The store shows one swap, the call updated in place, no phantom; then the
//! new parkee is retrieved, and (a second swap) gives up.

use ami_parking::EventStream;
use ami_parking::ParkingClient;
use ami_parking::{Action, ParkingEvent, Request, Target};
use ami_parking_tests::live::*;
use ami_parking_tests::sandbox::{self, parked_truth, wait_truth, PORT_A};
use ami_parking_transport::Client;

/// Makes a swap and returns (the parked call's event, the swap event).
async fn swap(events: &mut EventStream) -> (ParkingEvent, ParkingEvent) {
    sandbox::originate(PORT_A, "Local/s@swap-park", "swap-dial", &[]);
    let parked = next_event(
        events,
        "parked",
        |e| matches!(e, ParkingEvent::Parked { call } if call.channel().starts_with("Local/s@swap-park-")),
    )
    .await;
    let swapped = next_event(events, "swap", |e| e.kind() == "swap").await;
    (parked, swapped)
}

fn check_in_place(c: &Client, parked: &ParkingEvent, swapped: &ParkingEvent) -> u32 {
    let (p, s) = (parked.call(), swapped.call());
    assert_eq!((&s.parking_lot, s.parking_space), (&p.parking_lot, p.parking_space), "same lot and space");
    assert_eq!(s.deadline(), p.deadline(), "the swap keeps the park's deadline");
    assert!(s.channel().starts_with("Local/s@swap-tone-"), "the new parkee: {}", s.channel());
    match swapped {
        ParkingEvent::Swapped { previous: Some(prev), .. } => assert_eq!(prev.channel(), p.channel()),
        other => panic!("{other:?}"),
    }
    let calls = c.store().parked_calls_now();
    assert_eq!(calls.len(), 1, "no phantom of the channel swapped out: {calls:?}");
    assert_eq!(calls[0].channel(), s.channel());
    assert_eq!(truth_of(c.store(), 1), wait_truth(PORT_A, |t| t.len() == 1), "the store = Asterisk");
    s.parking_space
}

#[tokio::test]
async fn a_real_swap_then_a_retrieve_and_a_give_up_of_the_new_parkee() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();

    let (parked, swapped) = swap(&mut events).await;
    let space = check_in_place(&c, &parked, &swapped);
    let who = c.retrieve_call(None, space, "Local/s@hold").await.expect("retrieve the new parkee");
    assert!(who.retriever.channel.starts_with("Local/s@hold-"), "{who:?}");
    let left = next_event(&mut events, "retrieved", |e| e.kind() == "retrieved").await;
    assert_eq!(left.call().channel(), swapped.call().channel());
    wait_truth(PORT_A, |t| t.is_empty());
    assert!(c.store().parked_calls_now().is_empty());

    let (parked, swapped) = swap(&mut events).await;
    check_in_place(&c, &parked, &swapped);
    let hang = Action::new("Hangup").header("Channel", swapped.call().channel());
    c.request(Request::Action(hang), Target::All).await.expect("hang up the new parkee");
    let left = next_event(&mut events, "giveup", |e| e.kind() == "giveup").await;
    assert_eq!(left.call().channel(), swapped.call().channel());
    assert!(parked_truth(PORT_A).is_empty());
    assert!(c.store().parked_calls_now().is_empty(), "no phantom after the give-up");
    c.shutdown().await;
}

/// Measured: a swap 2 s after the park in a 5 s lot. Asterisk times the call out 5 s
/// after the park (its clock is the park's, whatever the swap event's
/// `ParkingDuration: 0` says), and the store's deadline says the same.
#[tokio::test]
async fn a_swap_keeps_the_parks_clock() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();
    sandbox::originate(PORT_A, "Local/s@swap-park-vip", "swap-dial-slow", &[]);
    let parked = next_event(&mut events, "parked", |e| e.kind() == "parked").await;
    let parked_seen = ami_parking_transport::now();
    let swapped = next_event(&mut events, "swap", |e| e.kind() == "swap").await;
    let swap_seen = ami_parking_transport::now();
    assert!(
        swap_seen.saturating_duration_since(parked_seen) >= std::time::Duration::from_millis(1500),
        "the swap came late enough to tell"
    );
    assert_eq!(swapped.call().deadline(), parked.call().deadline(), "the store keeps the park's deadline");
    let _timeout = next_event(&mut events, "timeout", |e| e.kind() == "timeout").await;
    let timed_out = ami_parking_transport::now();
    let after_park = timed_out.saturating_duration_since(parked_seen);
    // 5 s after the park, not 5 s after the swap (which would be 7 s).
    assert!(after_park < std::time::Duration::from_millis(6200), "timed out {after_park:?} after the park");
    let deadline = parked.call().deadline().unwrap();
    let off =
        timed_out.saturating_duration_since(deadline).max(deadline.saturating_duration_since(timed_out));
    assert!(
        off < std::time::Duration::from_millis(1200),
        "the store's deadline is Asterisk's: off by {off:?}"
    );
    c.shutdown().await;
}
