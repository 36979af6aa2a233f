//! The receptionist's desk: park my caller, drag to move, the keyboard alone.

use super::*;

/// The id of the focused element.
async fn focused(b: &Browser) -> String {
    let r =
        b.driver.execute("return document.activeElement ? document.activeElement.id : '';", Vec::new()).await;
    r.unwrap().convert::<String>().unwrap_or_default()
}

/// Presses `keys` on whatever has the focus.
async fn press(b: &Browser, keys: &str) {
    b.driver.action_chain().send_keys(keys).perform().await.unwrap();
}

/// A drag of the call in `from` onto space `to` (of `to_lot`), as the browser sends it:
/// dragstart, dragover, drop, dragend (chromedriver cannot drive a native HTML drag).
async fn drag(b: &Browser, from_lot: &str, from: u32, to_lot: &str, to: u32) {
    let script = format!(
        "const src = document.querySelector(\"[data-lot='{from_lot}'] [data-space='{from}']\");
         const dst = document.querySelector(\"[data-lot='{to_lot}'] [data-space='{to}']\");
         if (!src || !dst) return 'missing';
         const dt = new DataTransfer();
         const fire = (el, type) => el.dispatchEvent(new DragEvent(type, {{ bubbles: true, cancelable: true, dataTransfer: dt }}));
         fire(src, 'dragstart'); fire(dst, 'dragenter'); const accepted = !fire(dst, 'dragover');
         fire(dst, 'drop'); fire(src, 'dragend');
         return accepted ? 'dropped' : 'refused';"
    );
    let r = b.driver.execute(script, Vec::new()).await.unwrap().convert::<String>().unwrap();
    assert_eq!(r, "dropped", "the drop target took the drag");
}

/// The receptionist's workflow on a real bridged call: the phone typed once and
/// remembered; "Park my caller" parks the caller (not the desk) and shows the space
/// big; a drag moves the call in Asterisk; the keyboard alone parks (Tab, Enter) and
/// retrieves the longest waiting call (R); axe-core finds no violation in any state,
/// at 1400x1000 nor at 390x844 (where the park button shows without scrolling).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receptionist_parks_my_caller_drags_and_works_by_keyboard() {
    let Some(scene) = Scene::start().await else { return };
    let (truth, axe, b) = (&scene.truth, &scene.axe, &scene.browser);
    open_board(b).await;
    shot_and_axe(b, axe, "desk-1-start").await;

    // The phone, typed once: the browser remembers it across a reload.
    let input = b.driver.find(By::Id("my-phone-input")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("Local/1901@desk").await.unwrap();
    poll("the phone saved in the browser", DEADLINE, || async {
        let r = b
            .driver
            .execute("return localStorage.getItem('parkboard.phone') || '';", Vec::new())
            .await
            .ok()?;
        r.convert::<String>().ok().filter(|v| v == "Local/1901@desk")
    })
    .await;
    b.driver.refresh().await.unwrap();
    poll("the remembered phone after a reload", DEADLINE, || async {
        let v = b.value_of("my-phone-input").await?;
        (v == "Local/1901@desk").then_some(())
    })
    .await;

    // A caller on the line with the desk: "Park my caller".
    let caller =
        tokio::task::spawn_blocking(|| sandbox::call_desk(PORT_A, "5559001", "Alice Caller", "1901"))
            .await
            .unwrap();
    let mut events = truth.events();
    b.driver.find(By::Id("park-my-caller")).await.unwrap().click().await.unwrap();
    let parked =
        live::next_event(&mut events, "the caller parked", |e| live::parked_event_for(e, "5559001")).await;
    let space = parked.call().parking_space;
    assert_eq!(parked.call().channel(), caller, "the caller, not the desk, is parked");
    let big = poll("the space shown big", DEADLINE, || async { b.text_of("#parked-space").await }).await;
    assert!(big.contains(&space.to_string()) && big.contains("Alice Caller"), "{big}");
    // Said to screen readers too (a polite live region).
    let said = poll("the park announced", DEADLINE, || async {
        b.text_of("#announce").await.filter(|t| t.contains("parked"))
    })
    .await;
    assert_eq!(said, format!("Alice Caller <5559001> parked in default space {space}"));
    tokio::task::spawn_blocking(|| {
        sandbox::wait_status(PORT_A, "the desk free", |l| {
            !l.iter().any(|(c, _)| c.starts_with("Local/1901@desk-"))
        })
    })
    .await
    .unwrap();
    poll("the caller in its cell", DEADLINE, || async {
        b.cell(space).await.filter(|(c, t)| c.starts_with("parking-space occupied") && t.contains("5559001"))
    })
    .await;
    shot_and_axe(b, axe, "desk-2-parked-my-caller").await;

    // A drag onto another space moves the call in Asterisk.
    let to = if space == 715 { 716 } else { 715 };
    drag(b, "default", space, "default", to).await;
    let moved =
        live::next_event(&mut events, "the call moved", |e| matches!(e, ParkingEvent::Moved { .. })).await;
    assert_eq!((moved.call().parking_space, moved.call().unique_id()), (to, parked.call().unique_id()));
    let t = parked_truth(PORT_A);
    assert_eq!(t.iter().map(|(l, s, _)| (l.as_str(), *s)).collect::<Vec<_>>(), [("default", to)], "{t:?}");
    poll("the moved call in its new cell", DEADLINE, || async {
        b.cell(to).await.filter(|(c, t)| c.starts_with("parking-space occupied") && t.contains("5559001"))
    })
    .await;
    let note =
        poll("the move's result", DEADLINE, || async { b.text_of(".move-panel .parking-result.ok").await })
            .await;
    assert!(note.contains(&format!("from {space} to default {to}")), "{note}");
    shot_and_axe(b, axe, "desk-3-dragged").await;

    // The keyboard alone: from the phone field, Tab reaches "Park my caller"; Enter parks.
    tokio::task::spawn_blocking(|| sandbox::call_desk(PORT_A, "5559002", "Bob Second", "1901"))
        .await
        .unwrap();
    b.driver.find(By::Id("my-phone-input")).await.unwrap().focus().await.unwrap();
    press(b, Key::Tab.value().to_string().as_str()).await;
    assert_eq!(focused(b).await, "park-my-caller", "Tab from the phone goes to Park my caller");
    let outline = b
        .driver
        .execute("return getComputedStyle(document.activeElement).outlineStyle;", Vec::new())
        .await
        .unwrap()
        .convert::<String>()
        .unwrap();
    assert_ne!(outline, "none", "the focus is visible");
    press(b, Key::Enter.value().to_string().as_str()).await;
    let second =
        live::next_event(&mut events, "the second caller parked", |e| live::parked_event_for(e, "5559002"))
            .await;
    let big = poll("the second space shown big", DEADLINE, || async {
        b.text_of("#parked-space").await.filter(|t| t.contains("Bob Second"))
    })
    .await;
    assert!(big.contains(&second.call().parking_space.to_string()), "{big}");
    // R (focus off any field): the longest waiting call (Alice's) rings my phone.
    b.driver.execute("document.activeElement && document.activeElement.blur();", Vec::new()).await.unwrap();
    press(b, "r").await;
    let got = live::next_event(&mut events, "the longest waiting retrieved", |e| {
        matches!(e, ParkingEvent::Retrieved { .. })
    })
    .await;
    assert_eq!(got.call().caller_id_num(), "5559001", "the longest waiting goes first");
    let ringing = poll("the retrieve's result", DEADLINE, || async {
        b.text_of(".my-outcome .parking-result.ok").await
    })
    .await;
    assert_eq!(
        ringing,
        format!("Alice Caller <5559001> from space {to} is ringing your phone (Local/1901@desk)")
    );
    // P (no field focused) parks the caller: the desk now has Alice back on the line.
    tokio::task::spawn_blocking(|| {
        sandbox::wait_status(PORT_A, "Alice back on the desk", |l| {
            l.iter().any(|(c, b)| c.starts_with("Local/1901@desk-") && !b.is_empty())
        })
    })
    .await
    .unwrap();
    shot_and_axe(b, axe, "desk-4-keyboard").await;

    // A call near its timeout (the vip lot's 5 s are under the 30 s warning): said in
    // words in its cell, and announced.
    live::park_dialplan(truth, "5559003", "vip").await;
    let near =
        live::next_event(&mut events, "the vip call parked", |e| live::parked_event_for(e, "5559003")).await;
    let (class, text) = poll("the warning in the cell", DEADLINE, || async {
        b.cell(near.call().parking_space).await.filter(|(c, _)| c.contains("warning"))
    })
    .await;
    assert!(text.contains("Timing out soon"), "not by colour alone: {class} {text}");
    poll("the near-timeout announced", DEADLINE, || async {
        b.text_of("#announce").await.filter(|t| t.ends_with("is about to time out"))
    })
    .await;
    shot_and_axe(b, axe, "desk-4b-near-timeout").await;

    // A phone's screen: one column, the park button in sight without scrolling.
    b.driver.set_window_rect(0, 0, 390, 844).await.unwrap();
    let fits = b
        .driver
        .execute(
            "const r = document.getElementById('park-my-caller').getBoundingClientRect();
             return [r.bottom <= window.innerHeight, document.documentElement.scrollWidth <= window.innerWidth + 1, window.innerWidth];",
            Vec::new(),
        )
        .await
        .unwrap()
        .convert::<(bool, bool, u32)>()
        .unwrap();
    assert!(fits.0, "the park button is below the fold at 390x844");
    assert!(fits.1, "the page scrolls sideways at 390x844 (inner width {})", fits.2);
    shot_and_axe(b, axe, "desk-5-phone-390x844").await;
    b.driver.set_window_rect(0, 0, 1400, 1000).await.unwrap();
}
