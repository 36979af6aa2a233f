//! The desk, the one way a page acts, refuses on the server what a user may not do,
//! whatever the page sent, and nothing of a refused action reaches the PBX (a
//! recording AMI server sees every byte); every action, refused or not, is audited.

use ami_parking::{Park, ParkedCall, ParkingClient, ParkingStore};
use ami_parking_tests::recorder::RecordingAmi;
use ami_parking_transport::{Client, ClientOptions};
use parkboard::audit::Audit;
use parkboard::desk::{Desk, DeskError};
use parkboard::metrics::Metrics;
use parkboard::users::{Principal, Role};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(15);

fn who(name: &str, role: Role, phone: Option<&str>, lots: Option<&[&str]>) -> Principal {
    Principal {
        name: name.into(),
        role,
        phone: phone.map(Into::into),
        lots: lots.map(|l| l.iter().map(|s| s.to_string()).collect()),
    }
}

fn call(lot: &str, space: u32) -> ParkedCall {
    let mut c = ParkedCall::default();
    c.parking_lot = lot.into();
    c.parking_space = space;
    c.server_id = 1;
    c.set_channel("PJSIP/1001-00000001");
    c
}

fn actions_sent(ami: &RecordingAmi) -> Vec<String> {
    String::from_utf8_lossy(&ami.sent())
        .lines()
        .filter_map(|l| l.strip_prefix("Action: ").map(str::to_string))
        .filter(|a| {
            !matches!(a.as_str(), "Login" | "Challenge" | "Parkinglots" | "ParkedCalls" | "Ping" | "Logoff")
        })
        .collect()
}

/// A call the demo PBX has parked (it parks a few at its start).
async fn poll_parked(client: &Client) -> std::sync::Arc<ParkedCall> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut events = client.store().events();
    loop {
        if let Some(c) = client.store().parked_calls_now().into_iter().next() {
            return c;
        }
        assert!(tokio::time::Instant::now() < deadline, "the demo PBX parked nothing");
        let _ = tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut events)).await;
    }
}

#[tokio::test]
async fn refused_actions_never_reach_the_pbx_and_are_audited() {
    let (ami, client, log, audit) = audited("desk").await;
    let desk = |p: Principal| Desk::new(client.clone(), p, None, audit.clone(), Metrics::new());

    let viewer = desk(who("wall", Role::Viewer, None, None));
    let e = viewer.retrieve(&call("default", 701), "Local/00900123456@from-internal").await.unwrap_err();
    assert!(matches!(&e, DeskError::Refused(why) if why.contains("viewer")), "{e}");
    assert!(matches!(
        viewer.park(1, "PJSIP/1001-00000001", Park::default().lot("default")).await,
        Err(DeskError::Refused(_))
    ));
    assert!(matches!(
        viewer.move_call(&call("default", 701), Park::default().lot("default")).await,
        Err(DeskError::Refused(_))
    ));

    let team = desk(who("team", Role::Operator, Some("PJSIP/1003"), Some(&["default"])));
    assert!(matches!(team.retrieve(&call("vip", 801), "").await, Err(DeskError::Refused(_))), "another lot");
    assert!(matches!(
        team.park(1, "PJSIP/1001-00000001", Park::default().lot("vip")).await,
        Err(DeskError::Refused(_))
    ));
    assert!(
        matches!(
            team.move_call(&call("default", 701), Park::default().lot("vip")).await,
            Err(DeskError::Refused(_))
        ),
        "a move out of the user's lots"
    );
    // A channel parked in another lot cannot be parked again into one's own: Asterisk
    // would move it out of the lot the user may not see.
    let parked = poll_parked(&client).await;
    // A user scoped to lots parks only the caller of their own phone: no channel by
    // name (it could be any live call of the PBX).
    let e = team.park(1, "PJSIP/2001-00000007", Park::default().lot("default")).await.unwrap_err();
    assert!(matches!(&e, DeskError::Refused(why) if why.contains("supervisors")), "{e}");
    let reception = desk(who("reception", Role::Operator, Some("PJSIP/1002"), None));
    let e = reception.park(1, parked.channel(), Park::default().lot("default")).await.unwrap_err();
    assert!(matches!(&e, DeskError::Refused(why) if why.contains("parked already")), "{e}");
    // Asterisk finds a Park's channel by unique id too: a unique id, a NUL or a space
    // is not a channel name.
    for bad in [parked.unique_id(), "PJSIP/1001-00000001\0", "PJSIP/a b", "/x", "PJSIP/"] {
        let e = reception.park(1, bad, Park::default().lot("default")).await.unwrap_err();
        assert!(matches!(&e, DeskError::Refused(why) if why.contains("not a channel name")), "{bad:?}: {e}");
    }
    assert!(actions_sent(&ami).is_empty(), "a refused action reached the PBX: {:?}", actions_sent(&ami));

    // An operator's retrieve rings their phone, whatever the page typed.
    assert_eq!(reception.destination("Local/00900123456@from-internal"), "PJSIP/1002");
    let _ = reception.retrieve(&call("default", 701), "Local/00900123456@from-internal").await;
    let sent = String::from_utf8_lossy(&ami.sent()).to_string();
    assert!(sent.contains("Channel: PJSIP/1002\r\n") && !sent.contains("00900123456"), "{sent}");

    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 14, "{records:#?}");
    for r in &records[..13] {
        assert!(r["result"].as_str().unwrap().starts_with("refused: "), "{r}");
    }
    assert_eq!(records[0]["user"], "wall");
    assert_eq!(records[0]["action"], "retrieve");
    assert_eq!(records[3]["lot"], "vip");
    assert_eq!(records[13]["user"], "reception");
    assert_eq!(
        records[13]["destination"].as_str().map(|d| d.starts_with("PJSIP/1002")),
        Some(true),
        "{}",
        records[13]
    );
    let _ = std::fs::remove_dir_all(log.parent().unwrap());
}

/// The actions each recording server received, in order.
/// A recording AMI server, a logged-in client of it, and an audit log in a fresh file
/// (`name` tells the tests' files apart).
async fn audited(name: &str) -> (RecordingAmi, Client, std::path::PathBuf, Audit) {
    let ami = RecordingAmi::start().await;
    let client =
        Client::connect_all(vec![ClientOptions::new(ami.url().parse().unwrap())], ParkingStore::default())
            .unwrap();
    client.wait_logged_in(DEADLINE).await.unwrap();
    let dir = std::env::temp_dir().join(format!("parkboard-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&log);
    let audit = Audit::to_file(&log).unwrap();
    (ami, client, log, audit)
}

fn actions_of(amis: &[&RecordingAmi]) -> Vec<Vec<String>> {
    amis.iter().map(|a| actions_sent(a)).collect()
}

/// A user starts at most `ACTION_BURST` actions at once (then `ACTIONS_PER_SECOND`),
/// all their pages together (the board's `ActionRates`): past it an action is
/// refused, reaches nothing and writes no audit line (forged clicks found by an
/// attacker's review sent 194 actions to Asterisk in 15 s and filled the log).
#[tokio::test]
async fn a_user_acts_at_a_bounded_rate_across_their_pages() {
    let (_ami, client, log, audit) = audited("rate").await;
    let rates = parkboard::limits::ActionRates::default();
    let page = |p: Principal| {
        Desk::new(client.clone(), p, None, audit.clone(), Metrics::new()).with_rates(rates.clone())
    };
    let reception = || who("reception", Role::Operator, Some("PJSIP/1002"), None);
    let (one, two) = (page(reception()), page(reception()));
    let burst = parkboard::limits::ACTION_BURST as usize;
    let mut too_many = 0;
    for i in 0..burst + 10 {
        let desk = if i % 2 == 0 { &one } else { &two };
        // Retrieves of calls the store does not hold: each that passes the rate is
        // audited (failed or ok), each past it is refused as too many.
        if let Err(DeskError::TooMany) = desk.retrieve(&call("default", 701 + i as u32 % 20), "").await {
            too_many += 1;
        }
    }
    assert!(too_many >= 9, "the burst is shared by the user's pages: {too_many} refused");
    let lines = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(lines, burst + 10 - too_many, "no audit line for an action refused as too many");
    let e = page(who("wall2", Role::Operator, Some("PJSIP/1004"), None))
        .retrieve(&call("default", 701), "")
        .await;
    assert!(!matches!(e, Err(DeskError::TooMany)), "another user has a bucket of their own");
    assert!(DeskError::TooMany.to_string().contains("at most 5 a second"), "{}", DeskError::TooMany);
    let _ = std::fs::remove_dir_all(log.parent().unwrap());
}

/// Two servers behind one board: every action goes to the server of its call (or the
/// one named) and nothing reaches the other; a channel parked on one server does not
/// stop the park of a channel of the same name on the other (each server names its
/// own channels), while on its own server it does.
#[tokio::test]
async fn with_two_servers_each_action_goes_to_its_own_server() {
    let (a, b) = (RecordingAmi::start().await, RecordingAmi::start().await);
    let options = |ami: &RecordingAmi| ClientOptions::new(ami.url().parse().unwrap());
    let client = Client::connect_all(vec![options(&a), options(&b)], ParkingStore::default()).unwrap();
    client.wait_logged_in(DEADLINE).await.unwrap();
    let supervisor = Desk::new(
        client.clone(),
        who("reception", Role::Operator, Some("PJSIP/1002"), None),
        None,
        Audit::to_log(),
        Metrics::new(),
    );
    let caller = "Local/caller-5557001@from-trunk-00000001;1";

    let on_b = supervisor.park(2, caller, Park::default().lot("default")).await.unwrap();
    assert_eq!((on_b.server_id, on_b.lot.as_str()), (2, "default"));
    assert_eq!(actions_of(&[&a, &b]), [vec![], vec!["Park".to_string()]], "the Park went to b only");
    // The same name on server 1 is another channel: parked there, not refused.
    let on_a = supervisor.park(1, caller, Park::default().lot("default")).await.unwrap();
    assert_eq!(on_a.server_id, 1);
    assert_eq!(actions_of(&[&a, &b]), [vec!["Park".to_string()], vec!["Park".to_string()]]);
    // On server 2 it is parked already: refused before anything is sent.
    let e = supervisor.park(2, caller, Park::default().lot("vip")).await.unwrap_err();
    assert!(matches!(&e, DeskError::Refused(why) if why.contains("parked already")), "{e}");
    assert_eq!(actions_of(&[&a, &b]), [vec!["Park".to_string()], vec!["Park".to_string()]]);

    // The retrieve of b's call rings the user's phone through b.
    let store = client.store();
    let b_call = store.parked_call_on_now(2, "default", on_b.space).expect("b's call is in the store");
    assert!(b_call.channel().starts_with("Local/caller-5557001"), "{b_call:?}");
    let got = supervisor.retrieve(&b_call, "").await.unwrap();
    assert_eq!(got.server_id, 2);
    let sent = actions_of(&[&a, &b]);
    assert_eq!(sent[0], ["Park"], "nothing of b's retrieve reached a: {sent:?}");
    assert_eq!(sent[1], ["Park", "Originate"], "{sent:?}");

    // A's call moved to vip through a.
    let a_call = store.parked_call_on_now(1, "default", on_a.space).expect("a's call is in the store");
    let moved = supervisor.move_call(&a_call, Park::default().lot("vip")).await.unwrap();
    assert_eq!((moved.server_id, moved.lot.as_str()), (1, "vip"));
    assert_eq!(actions_of(&[&a, &b]), [vec!["Park", "Park"], vec!["Park", "Originate"]]);
    client.shutdown().await;
}
