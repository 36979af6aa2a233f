//! The board live on the real sandbox: a park in Asterisk appears in its cell and its
//! countdown moves, a click retrieves, a park from the page parks a bridged call,
//! stopping Asterisk shows the disconnected state and restarting it the truth again.

use super::*;

/// A park from the page parks a bridged call.
async fn a_park_from_the_page(b: &Browser, truth: &Client) {
    let agent = bridged_agent(truth, "5557002").await;
    let channel = b.driver.find(By::Id("park-channel")).await.unwrap();
    // What is typed stays typed: the server's render of the form, which lags the
    // typing by a round trip, never writes an older text over a newer one.
    let long: String = (0..12).map(|i| format!("PJSIP/{i:04}-0000000{i};")).collect();
    channel.send_keys(&long).await.unwrap();
    assert_eq!(b.value_of("park-channel").await.as_deref(), Some(long.as_str()), "typed text kept");
    channel.clear().await.unwrap();
    channel.send_keys(&agent).await.unwrap();
    // A timeout the form cannot read is refused on the page; nothing reaches Asterisk.
    let timeout = b.driver.find(By::Id("park-timeout")).await.unwrap();
    timeout.send_keys("ten").await.unwrap();
    b.driver.find(By::Id("park-button")).await.unwrap().click().await.unwrap();
    let refused = poll("the form's refusal", DEADLINE, || async {
        b.text_of(".park-panel .parking-result.error").await
    })
    .await;
    assert_eq!(refused, r#"timeout "ten": seconds (up to a day), or never"#);
    assert!(parked_truth(PORT_A).is_empty(), "a refused form parks nothing");
    // The second lot of the select (`vip`, whose own timeout is 5 s), for 60 s.
    timeout.clear().await.unwrap();
    timeout.send_keys("60").await.unwrap();
    b.driver.find(By::Css("#park-lot option[value='1/vip']")).await.unwrap().click().await.unwrap();
    b.driver.find(By::Id("park-button")).await.unwrap().click().await.unwrap();
    // An error other than the form's refusal above (the board's, the client's or
    // Asterisk's) fails at once, with its words. A park that never lands fails with
    // what Asterisk and the page show: the panel, and the inputs' values now (the park
    // sent what they held at the click).
    let inputs = || async {
        let (channel, lot, timeout) = (
            b.value_of("park-channel").await,
            b.value_of("park-lot").await,
            b.value_of("park-timeout").await,
        );
        format!("inputs: channel {channel:?}, lot {lot:?}, timeout {timeout:?}; the agent is {agent}")
    };
    let check = || async {
        let t = parked_truth(PORT_A);
        if t.len() == 1 {
            return Some(t);
        }
        let error = b.text_of(".park-panel .parking-result.error").await;
        if let Some(e) = error.filter(|e| *e != refused) {
            panic!("the page's park failed: {e} ({})", inputs().await);
        }
        None
    };
    let explain = || async {
        let shown = match b.text_of(".park-panel .parking-result.error").await {
            Some(_) => "the form's earlier refusal still shown",
            None => "no error shown",
        };
        let panel = b.text_of(".park-panel").await;
        format!(
            "{shown}; Asterisk has {:?}, the panel shows {panel:?} ({})",
            parked_truth(PORT_A),
            inputs().await
        )
    };
    let parked = poll_or_explain("the page's park in Asterisk", DEADLINE, check, explain).await;
    assert_eq!(parked[0].0, "vip", "parked in the lot chosen: {parked:?}");
    let ok =
        poll("the park result", DEADLINE, || async { b.text_of(".park-panel .parking-result.ok").await })
            .await;
    assert_eq!(ok, format!("Parked in vip space {}", parked[0].1));
    let held = poll("the park in the direct store", DEADLINE, || async {
        ami_parking::ParkingClient::store(truth)
            .parked_calls_now()
            .into_iter()
            .find(|c| c.parking_space == parked[0].1)
    })
    .await;
    assert_eq!(held.timeout(), Some(Duration::from_secs(60)), "the form's timeout, not the lot's 5 s");
    poll("the page's park in its cell", DEADLINE, || async {
        b.cell(parked[0].1).await.filter(|(c, _)| c.starts_with("parking-space occupied"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_asterisk_live_and_drives_it() {
    let Some(scene) = Scene::start().await else { return };
    let (truth, axe, b) = (&scene.truth, &scene.axe, &scene.browser);
    open_board(b).await;
    shot_and_axe(b, axe, "1-empty").await;
    let mut events = truth.events();
    let space = a_park_in_asterisk_appears(b, truth, &mut events).await;
    shot_and_axe(b, axe, "2-parked").await;
    a_click_retrieves(b, &mut events, space).await;
    shot_and_axe(b, axe, "3-retrieved").await;
    a_park_from_the_page(b, truth).await;
    shot_and_axe(b, axe, "4-parked-from-page").await;

    // Asterisk stops: the board says so. It restarts: the board shows its truth (the
    // restart ended every call).
    sandbox::run("a", &["stop"]).expect("stop");
    // Its lots are marked as last known, not as the truth (a stopping Asterisk hung
    // up its calls first, so none is left to show).
    shows_the_server_down(b).await;
    assert!(b.text_of(".total").await.unwrap().ends_with("parked (incomplete)"));
    shot_and_axe(b, axe, "5-asterisk-down").await;
    sandbox::run("a", &["start"]).expect("start");
    poll("the connected badge again", Duration::from_secs(20), || async { b.text_of(".server.up").await })
        .await;
    assert!(parked_truth(PORT_A).is_empty());
    poll("no call left on the page", DEADLINE, || async {
        let occupied = b.driver.find_all(By::Css(".parking-space.occupied")).await.ok()?;
        occupied.is_empty().then_some(())
    })
    .await;
    assert!(b.driver.find_all(By::Css(".stale-note")).await.unwrap().is_empty(), "fresh again");
    shot_and_axe(b, axe, "6-asterisk-back").await;
}
