//! The browser transport in a real headless Chromium (wasm-bindgen-test), against the
//! amiws stand-in that `tests/tests/browser.rs` starts and whose URL it
//! bakes in at build time: it answers with the real amiws 2.2 capture's frames and
//! goes away once, as amiws does on a restart.
#![cfg(target_arch = "wasm32")]

use ami_parking::futures_signals::signal::{Signal, SignalExt};
use ami_parking::{ConnectionState, Park, ParkingClient, ParkingError, ParkingStore, Request, Target};
use ami_parking_web::{WebClient, WebOptions};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use gloo_timers::future::TimeoutFuture;
use std::time::Duration;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const URL: Option<&str> = option_env!("AMI_PARKING_WEB_TEST_URL");

/// Waits until `signal` shows a value `ok` accepts, or fails after `secs`.
async fn wait_for<T: Clone + std::fmt::Debug>(
    what: &str,
    signal: impl Signal<Item = T>,
    ok: impl Fn(&T) -> bool,
    secs: u32,
) -> T {
    let mut values = Box::pin(signal.to_stream());
    let mut last = None;
    let found = async {
        while let Some(v) = values.next().await {
            if ok(&v) {
                return Some(v);
            }
            last = Some(v);
        }
        None
    };
    match select(Box::pin(found), TimeoutFuture::new(secs * 1000)).await {
        Either::Left((Some(v), _)) => v,
        _ => panic!("{what}: not within {secs} s"),
    }
}

#[wasm_bindgen_test]
async fn lists_a_refused_park_and_a_resync_after_amiws_goes_away() {
    let url = URL.expect("AMI_PARKING_WEB_TEST_URL is baked in by tests/tests/browser.rs");
    let mut options = WebOptions::new(url);
    options.request_timeout = Duration::from_secs(3);
    let client = WebClient::connect_with(options, ParkingStore::default());
    let store = client.store().clone();

    wait_for("login", client.connection_state(), |s| *s == ConnectionState::LoggedIn, 5).await;
    wait_for("the two servers' calls", store.total_parked_calls(), |n| *n == 4, 5).await;
    let listed = store.parked_calls_now();
    let mut seen: Vec<(u32, String, u32, String)> = listed
        .iter()
        .map(|c| (c.server_id, c.parking_lot.to_string(), c.parking_space, c.caller_id_num().to_string()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (1, "default".into(), 702, "5551001".into()),
            (1, "vip".into(), 801, "5552001".into()),
            (2, "default".into(), 701, "6661002".into()),
            (2, "sales".into(), 901, "6661001".into()),
        ]
    );
    assert_eq!(store.parking_lots_now().len(), 4, "pbx-a: default, vip; pbx-b: default, sales");

    // A refused request comes back with Asterisk's own words.
    let park = Request::Park { channel: "Local/nonexistent-1;1".into(), park: Park::default() };
    match client.request(park, Target::Server(1)).await {
        Err(ParkingError::Asterisk { message, server_id: 1, .. }) => {
            assert_eq!(message, "Channel does not exist: Local/nonexistent-1;1")
        }
        other => panic!("expected Asterisk's refusal, got {other:?}"),
    }

    // amiws goes away after that answer: the client shows it, reconnects and resyncs.
    let mut events = store.events();
    wait_for("the drop", client.connection_state(), |s| matches!(s, ConnectionState::Reconnecting { .. }), 5)
        .await;
    wait_for("the second login", client.connection_state(), |s| *s == ConnectionState::LoggedIn, 10).await;
    wait_for("the resync", store.is_loading(), |l| !l, 5).await;
    assert_eq!(store.parked_calls_now(), listed, "the resync found the same calls");
    let mut changes = Vec::new();
    while let Either::Left((Some(e), _)) = select(events.next(), TimeoutFuture::new(0)).await {
        if e.kind() != "near_timeout" {
            changes.push(e.kind());
        }
    }
    assert!(changes.is_empty(), "nothing changed, so nothing is reported: {changes:?}");
    client.shutdown();
    wait_for("the stop", client.connection_state(), |s| *s == ConnectionState::Stopped, 5).await;
}
