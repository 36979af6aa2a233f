//! Parking the caller of a phone (`park_caller_of`) against a real Asterisk 22: the
//! least-privilege user's channel list, a bridged call parked from the phone's side,
//! and each typed error on a real call state. Calls come from the sandbox's
//! `callerline` / `desk` / `deskring` contexts (its `extensions.conf` says how).

use ami_parking::{Action, Park, ParkingClient, ParkingError, Request, Target};
use ami_parking_tests::live::*;
use ami_parking_tests::sandbox::{self, parked_truth, PORT_A};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// One channel of the admin's `Status` list.
#[derive(Debug)]
struct Seen {
    channel: String,
    bridge: String,
    /// `ChannelStateDesc`: `Up`, `Ring`, `Down`...
    state: String,
}

/// The admin's `Status` list now.
fn status_now() -> Vec<Seen> {
    let text = sandbox::send_action(PORT_A, "Action: Status\n");
    text.split("\r\n\r\n")
        .filter(|block| block.contains("Event: Status\r\n"))
        .map(|block| {
            let field = |k: &str| {
                block.lines().find_map(|l| l.strip_prefix(k)).map(str::trim).unwrap_or("").to_owned()
            };
            Seen {
                channel: field("Channel: "),
                bridge: field("BridgeID: "),
                state: field("ChannelStateDesc: "),
            }
        })
        .collect()
}

/// Waits (with a deadline) until the admin's `Status` satisfies `pred`.
async fn wait_status(what: &str, pred: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
    let start = Instant::now();
    loop {
        let now = tokio::task::spawn_blocking(status_now).await.unwrap();
        if pred(&now) {
            return now;
        }
        assert!(start.elapsed() < DEADLINE, "{what}: not reached within {DEADLINE:?}: {now:?}");
        // Each look logs in to Asterisk: pause between them.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn of<'a>(listed: &'a [Seen], prefix: &'a str) -> impl Iterator<Item = &'a Seen> + 'a {
    listed.iter().filter(move |s| s.channel.starts_with(prefix))
}

/// A caller `number` (`name`) on the line with desk phone `Local/<desk>@desk`, bridged.
/// Returns the caller's channel.
async fn call_desk(c: &impl ParkingClient, number: &str, name: &str, desk: &str) -> String {
    let before: Vec<String> =
        tokio::task::spawn_blocking(status_now).await.unwrap().into_iter().map(|s| s.channel).collect();
    let a = Action::new("Originate")
        .header("Channel", format!("Local/{number}@callerline"))
        .header("CallerID", format!("\"{name}\" <{number}>"))
        .header("Application", "Dial")
        .header("Data", format!("Local/{desk}@desk"))
        .header("Async", "true");
    c.request(Request::Action(a), Target::All).await.expect("originate");
    let caller_prefix = format!("Local/{number}@callerline-");
    let listed = wait_status("the caller bridged with the desk", |l| {
        of(l, &caller_prefix)
            .any(|s| !s.bridge.is_empty() && s.channel.ends_with(";1") && !before.contains(&s.channel))
    })
    .await;
    let found = of(&listed, &caller_prefix)
        .find(|s| !s.bridge.is_empty() && s.channel.ends_with(";1") && !before.contains(&s.channel))
        .map(|s| s.channel.clone());
    found.expect("the caller's channel")
}

#[tokio::test]
async fn the_least_privilege_user_may_list_status_but_not_core_show_channels() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let caller = call_desk(&c, "5551701", "Alice", "1701").await;
    // `c` is the README's user (read=call,system; write=call,originate).
    let core = c
        .request(
            Request::List {
                action: Action::new("CoreShowChannels"),
                complete_event: Some("CoreShowChannelsComplete".into()),
            },
            Target::All,
        )
        .await;
    assert!(matches!(core, Err(ParkingError::PermissionDenied { .. })), "{core:?}");
    let status = c
        .request(Request::List { action: Action::new("Status"), complete_event: None }, Target::All)
        .await
        .expect("Status is allowed with write=call");
    let ami_parking::Reply::List(items) = status else { panic!("{status:?}") };
    let item = |ch: &str| items.iter().find(|m| m.get_str("Channel").as_deref() == Some(ch)).cloned();
    let caller_item = item(&caller).expect("the caller is listed");
    let bridge = caller_item.get_str("BridgeID").expect("Status items carry BridgeID").into_owned();
    assert!(!bridge.is_empty());
    // The desk's ;1 half is in the same bridge; its ;2 half in none.
    let desk: Vec<_> = items
        .iter()
        .filter(|m| m.get_str("Channel").is_some_and(|ch| ch.starts_with("Local/1701@desk-")))
        .map(|m| {
            (
                m.get_str("Channel").unwrap().into_owned(),
                m.get_str("BridgeID").unwrap_or_default().into_owned(),
            )
        })
        .collect();
    assert_eq!(desk.len(), 2, "{desk:?}");
    assert!(desk.iter().any(|(ch, b)| ch.ends_with(";1") && *b == bridge), "{desk:?}");
    assert!(desk.iter().any(|(ch, b)| ch.ends_with(";2") && b.is_empty()), "{desk:?}");
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn park_caller_of_parks_the_caller_and_frees_the_phone() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let caller = call_desk(&c, "5551702", "Alice Caller", "1702").await;
    let parked =
        c.park_caller_of("Local/1702@desk", Park::default().lot("vip")).await.expect("park the caller");
    assert_eq!(parked.lot, "vip");
    assert_eq!(parked.call.channel(), caller, "the caller, not the receptionist, is parked");
    assert_eq!(parked.call.caller_id_num(), "5551702");
    assert_eq!(parked.call.caller_id_name(), "Alice Caller");
    let truth = parked_truth(PORT_A);
    assert!(
        truth
            .iter()
            .any(|(lot, s, uid)| lot == "vip" && *s == parked.space && uid == parked.call.unique_id()),
        "{truth:?}"
    );
    // Asterisk hung up the receptionist's leg: the desk phone is free.
    wait_status("the desk phone's channels gone", |l| of(l, "Local/1702@desk-").next().is_none()).await;
    let stored = c.store().parked_call_on_now(1, "vip", parked.space).expect("in the store");
    assert_eq!(stored.caller_id_num(), "5551702");
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn park_caller_of_says_why_not_on_real_call_states() {
    let Some((_g, c)) = on_clean_pbx().await else { return };

    // No call at all.
    match c.park_caller_of("Local/1709@desk", Park::default()).await {
        Err(e @ ParkingError::PhoneHasNoCall { .. }) => {
            assert!(e.to_string().starts_with("phone Local/1709@desk has no call on server 1"), "{e}")
        }
        other => panic!("expected PhoneHasNoCall, got {other:?}"),
    }

    // Ringing, not answered.
    let ring = Action::new("Originate")
        .header("Channel", "Local/1703@deskring")
        .header("Application", "Wait")
        .header("Data", "3600")
        .header("Async", "true");
    c.request(Request::Action(ring), Target::All).await.expect("originate");
    wait_status("the desk ringing", |l| of(l, "Local/1703@deskring-").count() == 2).await;
    match c.park_caller_of("Local/1703@deskring", Park::default()).await {
        Err(e @ ParkingError::PhoneCallNotBridged { .. }) => {
            assert!(e.to_string().contains("answer the call first"), "{e}")
        }
        other => panic!("expected PhoneCallNotBridged (ringing), got {other:?}"),
    }

    // Answered, but alone (no caller in its bridge: on hold, an application).
    let alone = Action::new("Originate")
        .header("Channel", "Local/1704@desk")
        .header("Application", "Wait")
        .header("Data", "3600")
        .header("Async", "true");
    c.request(Request::Action(alone), Target::All).await.expect("originate");
    // Both halves of the Local channel answered (`;2` is up a moment before `;1`).
    wait_status("the desk up alone", |l| of(l, "Local/1704@desk-").filter(|s| s.state == "Up").count() == 2)
        .await;
    match c.park_caller_of("Local/1704@desk", Park::default()).await {
        Err(ParkingError::PhoneCallNotBridged { channels, .. }) => {
            assert_eq!(channels.len(), 2, "{channels:?}");
            assert!(channels.iter().all(|c| c.ends_with(": Up")), "{channels:?}");
        }
        other => panic!("expected PhoneCallNotBridged (alone), got {other:?}"),
    }

    // Two callers on one phone: which to park is not clear, and the error names both.
    let first = call_desk(&c, "5551705", "First", "1705").await;
    let second = call_desk(&c, "5551706", "Second", "1705").await;
    match c.park_caller_of("Local/1705@desk", Park::default()).await {
        Err(ParkingError::PhoneHasSeveralCalls { calls, .. }) => {
            assert_eq!(calls.len(), 2, "{calls:?}");
            assert!(calls.iter().any(|c| c.contains(&first) && c.contains("First 5551705")), "{calls:?}");
            assert!(calls.iter().any(|c| c.contains(&second) && c.contains("Second 5551706")), "{calls:?}");
        }
        other => panic!("expected PhoneHasSeveralCalls, got {other:?}"),
    }
    // A conference: the phone's bridge holds two others; which is "the caller"?
    for n in ["1710", "5551711", "5551712"] {
        let join = Action::new("Originate")
            .header("Channel", format!("Local/{n}@confroom"))
            .header("Application", "Wait")
            .header("Data", "3600")
            .header("Async", "true");
        c.request(Request::Action(join), Target::All).await.expect("originate");
    }
    wait_status("three in the conference", |l| {
        let in_conf: Vec<_> =
            l.iter().filter(|s| s.channel.contains("@confroom-") && !s.bridge.is_empty()).collect();
        in_conf.len() == 3
    })
    .await;
    match c.park_caller_of("Local/1710@confroom", Park::default()).await {
        Err(e @ ParkingError::CallerUnclear { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("is a conference with") && text.contains("Local/5551711@confroom-"),
                "{text}"
            );
            assert!(text.contains("Local/5551712@confroom-"), "{text}");
        }
        other => panic!("expected CallerUnclear, got {other:?}"),
    }
    assert!(parked_truth(PORT_A).is_empty(), "nothing was parked");
    c.shutdown().await;
    clean(PORT_A).await;
}

/// A proxy between the client and Asterisk that holds the client's `Park` action
/// back: it reports it, and forwards it when told.
async fn park_holding_proxy() -> (u16, mpsc::Receiver<oneshot::Sender<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (held_tx, held_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let Ok((client, _)) = listener.accept().await else { return };
        let server = TcpStream::connect(("127.0.0.1", PORT_A)).await.unwrap();
        let (mut cr, mut cw) = client.into_split();
        let (mut sr, mut sw) = server.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut sr, &mut cw).await;
        });
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if String::from_utf8_lossy(&buf[..n]).contains("Action: Park\r\n") {
                let (go_tx, go_rx) = oneshot::channel();
                if held_tx.send(go_tx).await.is_err() || go_rx.await.is_err() {
                    return;
                }
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    });
    (port, held_rx)
}

#[tokio::test]
async fn park_caller_of_says_the_caller_hung_up_when_it_did_between_list_and_park() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let caller = call_desk(&c, "5551707", "Gone", "1707").await;
    let (port, mut held) = park_holding_proxy().await;
    let mut o = options(PORT_A);
    o.endpoint = format!("tcp://amiuser:amisecret@127.0.0.1:{port}").parse().unwrap();
    let via = ami_parking_transport::Client::connect(o);
    via.wait_logged_in(DEADLINE).await.expect("login through the proxy");
    let park = {
        let via = via.clone();
        tokio::spawn(async move { via.park_caller_of("Local/1707@desk", Park::default()).await })
    };
    // The Status list named the caller; its Park is held while the caller hangs up.
    let go = tokio::time::timeout(DEADLINE, held.recv()).await.expect("the Park was sent").unwrap();
    let hangup = Action::new("Hangup").header("Channel", caller.as_str());
    c.request(Request::Action(hangup), Target::All).await.expect("hang up the caller");
    wait_status("the caller gone", |l| !l.iter().any(|s| s.channel == caller)).await;
    go.send(()).unwrap();
    match park.await.unwrap() {
        Err(e @ ParkingError::CallerHungUp { .. }) => assert_eq!(
            e.to_string(),
            format!("the caller on phone Local/1707@desk ({caller}) hung up before it could be parked; nothing was parked")
        ),
        other => panic!("expected CallerHungUp, got {other:?}"),
    }
    assert!(parked_truth(PORT_A).is_empty());
    via.shutdown().await;
    c.shutdown().await;
    clean(PORT_A).await;
}
