//! The bridge in front of the real Asterisk sandbox: our own `ws://` transport works
//! through it unchanged (calls parked in Asterisk arrive in the store, a retrieve
//! goes through), and what amiws gets wrong it gets right: tokens, the allowlist,
//! replies only to their client. The token and allowlist tests need no Asterisk: they
//! put the bridge in front of the demo PBX.

mod common;

use ami_parking::ParkingClient;
use ami_parking::{ParkingStore, Target};
use ami_parking_tests::live::{self, DEADLINE};
use ami_parking_tests::sandbox::{parked_truth, wait_truth, PORT_A};
use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::{Client, ClientOptions};
use async_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use common::{bridge, until_reply, ws, TOKEN};

const ASTERISK: &str = "tcp://amiuser:amisecret@127.0.0.1:5038";

#[tokio::test]
async fn asterisk_through_the_bridge_to_the_store_and_back() {
    let Some((_guard, truth)) = live::on_clean_pbx().await else { return };
    // The sandbox's retrieve rings a dialplan hold, not a phone: allowed by name.
    let b = bridge(vec![ASTERISK.into()], |c| c.rules.retrieve_to = vec!["Local/s@hold".into()]).await;
    let o = ClientOptions::new(format!("{}/?token={TOKEN}", b.addr).parse().unwrap());
    let client = Client::connect_with_store(o, ParkingStore::default());
    client.wait_logged_in(DEADLINE).await.expect("logged in through the bridge");
    live::wait_state(client.store(), |s| !s.parking_lots_now().is_empty() && !s.is_loading_now()).await;

    let mut events = client.events();
    live::park_dialplan(&truth, "5558001", "default").await;
    let parked = live::next_event(&mut events, "parked", |e| live::parked_event_for(e, "5558001")).await;
    let space = parked.call().parking_space;
    // The same call reaches the direct client on its own socket, maybe later.
    let through = live::truth_of(client.store(), 1);
    assert_eq!(through.iter().map(|c| c.1).collect::<Vec<_>>(), [space], "one call, where the event said");
    live::wait_state(truth.store(), |s| live::truth_of(s, 1) == through).await;

    let who = client
        .retrieve_call_on(Target::Server(1), Some("default"), space, "Local/s@hold")
        .await
        .expect("retrieve through the bridge");
    assert!(who.retriever.channel.starts_with("Local/s@hold-"), "{who:?}");
    wait_truth(PORT_A, |t| t.is_empty());
    client.shutdown().await;
}

/// The demo PBX (the reference model on a loopback AMI port), paused: what the
/// bridge itself decides (tokens, the allowlist) needs no Asterisk, so these tests run
/// (and never skip) without the sandbox.
async fn quiet_demo() -> DemoPbx {
    let demo = DemoPbx::start(1.0).await.expect("the demo PBX");
    demo.pause(true);
    demo
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused_at_the_upgrade() {
    let demo = quiet_demo().await;
    let b = bridge(vec![demo.url()], |_| {}).await;
    for url in [format!("{}/", b.addr), format!("{}/?token=wrong", b.addr)] {
        match async_tungstenite::tokio::connect_async(url.clone()).await {
            Err(WsError::Http(resp)) => assert_eq!(resp.status(), 401, "{url}"),
            other => panic!("{url}: expected 401, got {:?}", other.map(|_| "an open socket")),
        }
    }
    // A bearer header works as the query does.
    let mut req = async_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
        "{}/",
        b.addr
    ))
    .unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (_, resp) = async_tungstenite::tokio::connect_async(req).await.expect("the bearer token is accepted");
    assert_eq!(resp.status(), 101, "upgraded");
}

/// The transport's `ClientOptions::secret` of a `ws://` endpoint is its token, sent
/// as `Authorization: Bearer` (so it need not be in the URL, where a command line
/// would show it); without it the link fails, saying the bridge answered 401.
#[tokio::test]
async fn a_client_gives_its_token_in_the_header_and_says_why_it_is_refused_without_it() {
    let demo = quiet_demo().await;
    let b = bridge(vec![demo.url()], |_| {}).await;
    let mut o = ClientOptions::new(format!("{}/", b.addr).parse().unwrap());
    o.secret = Some(ami_parking::Secret::new(TOKEN));
    let client = Client::connect_with_store(o, ParkingStore::default());
    client.wait_logged_in(DEADLINE).await.expect("logged in with the token in the header");
    client.shutdown().await;
    let refused = Client::connect_with_store(
        ClientOptions::new(format!("{}/", b.addr).parse().unwrap()),
        ParkingStore::default(),
    );
    let e = refused.wait_logged_in(DEADLINE).await.unwrap_err();
    assert!(matches!(e, ami_parking::ParkingError::LoginRefused { .. }), "a refused token, typed: {e:?}");
    let why = ami_parking_tests::measure::poll("the refused link's reason", DEADLINE, || {
        let s = refused.store().connection_state_now();
        async move { s.to_string().contains("401").then_some(s.to_string()) }
    })
    .await;
    assert!(why.contains("401"), "{why}");
    refused.shutdown().await;
}

#[tokio::test]
async fn a_disallowed_action_is_refused_with_an_error_frame_and_the_link_stays() {
    let demo = quiet_demo().await;
    let before = demo.truth();
    let b = bridge(vec![demo.url()], |_| {}).await;
    let mut c = ws(&b.addr).await;
    c.send(WsMessage::text(r#"{"Action":"Command","Command":"core stop now","ActionID":"evil-1"}"#))
        .await
        .unwrap();
    let refused = until_reply(&mut c, "evil-1").await.pop().unwrap();
    assert_eq!(refused["data"]["Response"], "Error");
    assert_eq!(
        refused["data"]["Message"],
        "action Command is not allowed by this bridge (allowed: Originate, Park, ParkedCalls, Parkinglots, Ping)"
    );
    c.send(WsMessage::text(r#"{"Action":"Originate","Channel":"Local/s@hold","Context":"caller","Exten":"s","Priority":"1","ActionID":"evil-2"}"#)).await.unwrap();
    let refused = until_reply(&mut c, "evil-2").await.pop().unwrap();
    assert_eq!(
        refused["data"]["Message"],
        "Originate is allowed only as a retrieve (Application: ParkedCall)"
    );
    c.send(WsMessage::text(r#"{"Action":"Ping","ActionID":"ok-1","AMIServerID":"7"}"#)).await.unwrap();
    let refused = until_reply(&mut c, "ok-1").await.pop().unwrap();
    assert_eq!(
        refused["data"]["Message"],
        "AMIServerID \"7\" is not a server of this bridge: give a number from 1 to 1"
    );
    assert_eq!(
        (refused["server_id"].as_u64(), refused["server_name"].as_str()),
        (Some(0), Some("ami-ws-bridge"))
    );
    c.send(WsMessage::text(r#"{"Action":"Ping","ActionID":"ok-2"}"#)).await.unwrap();
    let pong = until_reply(&mut c, "ok-2").await.pop().unwrap();
    assert_eq!(
        (pong["data"]["Response"].as_str(), pong["data"]["Ping"].as_str()),
        (Some("Success"), Some("Pong"))
    );
    assert_eq!(demo.truth(), before, "nothing was originated");
}

#[tokio::test]
async fn a_reply_goes_only_to_the_client_that_asked() {
    let Some((_guard, _truth)) = live::on_clean_pbx().await else { return };
    let b = bridge(vec![ASTERISK.into()], |_| {}).await;
    let (mut a, mut other) = (ws(&b.addr).await, ws(&b.addr).await);
    a.send(WsMessage::text(r#"{"Action":"ParkedCalls","ActionID":"mine"}"#)).await.unwrap();
    let got = until_reply(&mut a, "mine").await;
    let ids: Vec<&serde_json::Value> =
        got.iter().map(|f| &f["data"]["ActionID"]).filter(|v| v.is_string()).collect();
    assert!(!ids.is_empty() && ids.iter().all(|v| **v == "mine"), "{got:?}");
    // The other client's frames up to its own reply: Asterisk answers in order on one
    // link, so A's answer, were it misrouted, would come first.
    other.send(WsMessage::text(r#"{"Action":"Ping","ActionID":"theirs"}"#)).await.unwrap();
    let seen = until_reply(&mut other, "theirs").await;
    assert!(seen.iter().all(|f| f["data"]["ActionID"] != "mine"), "{seen:?}");
    assert!(
        seen.iter().all(|f| !f["data"]["ActionID"].as_str().unwrap_or("").starts_with("amiwsb-")),
        "no rewritten id leaks"
    );
}

#[tokio::test]
async fn a_tls_listener_serves_wss_with_its_certificate() {
    let Some((_guard, _truth)) = live::on_clean_pbx().await else { return };
    let ca = std::path::PathBuf::from(ami_parking_tests::sandbox::run("a", &["tls-ca"]).unwrap().trim());
    let keys = ca.parent().unwrap().to_path_buf();
    let tls = ami_ws_bridge::tls_config(&keys.join("ami.pem"), &keys.join("ami.key"))
        .expect("the sandbox's server certificate");
    let b = bridge(vec![ASTERISK.into()], |c| c.tls = Some(tls)).await;
    let url = b.addr.replace("ws://", "wss://");
    let mut o = ClientOptions::new(format!("{url}/?token={TOKEN}").parse().unwrap());
    o.tls_ca_file = Some(ca);
    let client = Client::connect_with_store(o, ParkingStore::default());
    client.wait_logged_in(DEADLINE).await.expect("wss:// through the bridge's TLS listener");
    let lots = client.get_parking_lots().await.expect("lots over wss");
    assert!(lots.iter().any(|l| &*l.name == "default"), "{lots:?}");
    client.shutdown().await;
}

/// A `tls://` upstream's frames say `"ssl": true`, as amiws writes them.
#[tokio::test]
async fn a_tls_upstream_is_marked_ssl() {
    let Some((_guard, _truth)) = live::on_clean_pbx().await else { return };
    let ca = std::path::PathBuf::from(ami_parking_tests::sandbox::run("a", &["tls-ca"]).unwrap().trim());
    let b = bridge(vec!["tls://amiuser:amisecret@127.0.0.1:5039".into()], |c| c.ca_file = Some(ca)).await;
    let mut c = ws(&b.addr).await;
    let login = common::next_json(&mut c).await;
    assert_eq!((login["server_id"].as_u64(), login["ssl"].as_bool()), (Some(1), Some(true)), "{login}");
}

/// Two servers behind the bridge, one killed and restarted: the bridge logs in again
/// and announces it as amiws does; the client resyncs that server only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_servers_restarting_is_resynced_through_the_bridge() {
    use ami_parking_tests::sandbox::{self, PORT_B};
    let Some((_guard, _truth)) = live::on_clean_pbx().await else { return };
    let Some(()) = sandbox::require("b") else { return };
    live::clean(PORT_B).await;
    // A server still loading its modules refuses lists; start from booted ones.
    sandbox::cli("a", "core waitfullybooted");
    sandbox::cli("b", "core waitfullybooted");
    let b = bridge(vec![ASTERISK.into(), "tcp://amiuser:amisecret@127.0.0.1:5040".into()], |_| {}).await;
    let o = ClientOptions::new(format!("{}/?token={TOKEN}", b.addr).parse().unwrap());
    let client = Client::connect_with_store(o, ParkingStore::default());
    client.wait_logged_in(DEADLINE).await.unwrap();
    sandbox::park_dialplan(PORT_A, "5558101", "default");
    sandbox::park_dialplan(PORT_B, "5558102", "default");
    // Both calls in the store (polled, so that a miss says what the store held).
    for _ in 0..40 {
        if client.store().total_parked_calls_now() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let held: Vec<_> =
        client.store().parked_calls_now().iter().map(|c| (c.server_id, c.parking_space)).collect();
    assert_eq!(
        held.len(),
        2,
        "store {held:?}, Asterisk a {:?}, b {:?}",
        parked_truth(PORT_A),
        parked_truth(PORT_B)
    );

    sandbox::run("b", &["crash"]).unwrap();
    sandbox::run("b", &["start"]).unwrap();
    sandbox::cli("b", "core waitfullybooted");
    let back = std::time::Instant::now();
    live::wait_state(client.store(), |s| {
        s.parked_calls_now().iter().all(|c| c.server_id == 1) && s.total_parked_calls_now() == 1
    })
    .await;
    // The wait has its deadline; the time is reported, not asserted.
    println!("resynced {:?} after the reboot", back.elapsed());
    assert_eq!(live::truth_of(client.store(), 1), parked_truth(PORT_A), "server 1 untouched");
    assert_eq!(
        live::truth_of(client.store(), 2),
        parked_truth(PORT_B),
        "server 2 = its truth (empty after the crash)"
    );
    client.shutdown().await;
    live::clean(PORT_A).await;
}
