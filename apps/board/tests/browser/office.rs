//! An office: logins, roles (operator, viewer), lot scopes and the audit trail.

use super::*;

/// The audit file's records.
fn audit_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

/// An office: an operator retrieves to their own phone (and the audit log says so), a
/// viewer sees the same calls with no control (and forged clicks on its socket change
/// nothing in Asterisk), a user scoped to `default` never sees the `vip` call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_board_with_logins_roles_and_scopes() {
    use parkboard::guard::Access;
    use parkboard::users::{hash_password, Role, User, Users};
    let Some(scene) = Scene::start().await else { return };
    let (truth, axe, b) = (&scene.truth, &scene.axe, &scene.browser);
    let dir = std::env::temp_dir().join(format!("parkboard-office-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let audit_path = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&audit_path);
    let user = |name: &str, pw: &str, role, phone: Option<&str>, lots: Option<Vec<String>>| {
        User::new(name.into(), &hash_password(pw).unwrap(), role, phone.map(Into::into), lots).unwrap()
    };
    let users = Users::new(vec![
        user("reception", "front-desk-pw", Role::Operator, Some("Local/s@hold"), None),
        user("wall", "wallboard-pw", Role::Viewer, None, None),
        user("team", "team-pw", Role::Viewer, None, Some(vec!["default".into()])),
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}/");
    let client = live::client(PORT_A).await;
    let mut board = Board::new(client, users, Access::new(addr, false, &[], &[]), Duration::from_secs(3600));
    board.audit = parkboard::audit::Audit::to_file(&audit_path).unwrap();
    serve(listener, board);

    let mut events = truth.events();
    live::park_dialplan(truth, "5557101", "default").await;
    live::next_event(&mut events, "the default call parked", |e| live::parked_event_for(e, "5557101")).await;
    live::park_dialplan(truth, "5557102", "vip").await;
    live::next_event(&mut events, "the vip call parked", |e| live::parked_event_for(e, "5557102")).await;

    // Without a session: the login page.
    b.driver.goto(&base).await.unwrap();
    poll("the login page", DEADLINE, || async { b.driver.find(By::Id("password")).await.ok() }).await;
    shot_and_axe(b, axe, "office-1-login").await;

    // The viewer: both calls, no control.
    log_in_as(b, &base, "wall", "wallboard-pw").await;
    let space = cell_of(b, "5557101").await;
    cell_of(b, "5557102").await;
    for control in [
        "park-button",
        "park-channel",
        "retrieve-to",
        "park-my-caller",
        "retrieve-longest",
        "move-button",
        "my-phone-input",
    ] {
        assert!(b.driver.find(By::Id(control)).await.is_err(), "a viewer's page has no #{control}");
    }
    assert!(b.text_of(".view-panel").await.unwrap().contains("View only"));
    shot_and_axe(b, axe, "office-2-viewer").await;
    // Forged clicks on every element of a viewer's page: Asterisk still holds both.
    let wall = common::login(addr, "wall", "wallboard-pw").await;
    common::forge_clicks(addr, &wall, 0..20_000).await;
    // (The vip lot's calls time out after 5 s: the default call is the witness.)
    let held: Vec<(String, u32)> =
        parked_truth(PORT_A).into_iter().map(|(lot, space, _)| (lot, space)).collect();
    assert!(held.contains(&("default".to_string(), space)), "a viewer's forged click retrieved: {held:?}");

    // Scoped to default: the vip call is nowhere on the page.
    log_in_as(b, &base, "team", "team-pw").await;
    cell_of(b, "5557101").await;
    let source = b.driver.source().await.unwrap();
    assert!(
        !source.contains("5557102") && !source.contains("data-lot=\"vip\""),
        "the vip call leaked to a default-only user"
    );
    assert_eq!(b.text_of(".total").await.unwrap(), "1 parked");
    shot_and_axe(b, axe, "office-3-scoped").await;

    // The operator: retrieves ring their own phone; the audit log says who did it.
    log_in_as(b, &base, "reception", "front-desk-pw").await;
    assert_eq!(b.text_of("#my-phone").await.unwrap(), "Local/s@hold");
    assert!(b.driver.find(By::Id("retrieve-to")).await.is_err(), "no free-text destination");
    assert!(b.driver.find(By::Id("my-phone-input")).await.is_err(), "the phone is the profile's, not typed");
    assert!(b.driver.find(By::Id("park-my-caller")).await.is_ok(), "an operator parks their caller");
    shot_and_axe(b, axe, "office-4-operator").await;
    b.driver.find(By::Css(format!("[data-space='{space}']"))).await.unwrap().click().await.unwrap();
    let retrieved = live::next_event(
        &mut events,
        "retrieved",
        |e| matches!(e, ParkingEvent::Retrieved { call, .. } if call.caller_id_num() == "5557101"),
    )
    .await;
    assert_eq!(retrieved.call().parking_space, space);
    let result = poll("the result line", DEADLINE, || async { b.text_of(".parking-result.ok").await }).await;
    assert!(result.starts_with(&format!("Space {space} retrieved to Local/s@hold-")), "{result}");
    shot_and_axe(b, axe, "office-5-operator-retrieved").await;
    let records = poll("the audit record", DEADLINE, || async {
        let r = audit_lines(&audit_path);
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(records.len(), 1, "{records:#?}");
    let r = &records[0];
    assert_eq!(
        (r["user"].as_str(), r["role"].as_str(), r["action"].as_str()),
        (Some("reception"), Some("operator"), Some("retrieve"))
    );
    assert_eq!(
        (r["lot"].as_str(), r["space"].as_u64(), r["result"].as_str()),
        (Some("default"), Some(space as u64), Some("ok"))
    );
    assert!(r["destination"].as_str().unwrap().starts_with("Local/s@hold"), "{r}");
    assert!(r["channel"].as_str().unwrap().starts_with("Local/"), "{r}");

    // The control: the same forged clicks on an operator's socket do retrieve (so the
    // viewer's were clicks a page with controls would have acted on).
    live::park_dialplan(truth, "5557103", "default").await;
    live::next_event(&mut events, "another default call parked", |e| live::parked_event_for(e, "5557103"))
        .await;
    let reception = common::login(addr, "reception", "front-desk-pw").await;
    common::forge_clicks(addr, &reception, 0..20_000).await;
    live::next_event(
        &mut events,
        "the call retrieved by a forged operator click",
        |e| matches!(e, ParkingEvent::Retrieved { call, .. } if call.caller_id_num() == "5557103"),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}
