//! The bridge on a `nats://` upstream (feature `nats`): its clients follow a collector
//! over a real `nats-server` with no AMI session of the bridge's own; the embedded
//! demo PBX is the collector's Asterisk. The client is the library's own `ws://`
//! transport, which speaks to the bridge as the TypeScript original speaks to amiws:
//! it lists at each announced login, follows the events and retrieves.

mod common;

use ami_parking::{ParkingClient, ParkingStore, Target};
use ami_parking_collector::Config as CollectorConfig;
use ami_parking_tests::live::{self, truth_of};
use ami_parking_tests::measure::poll;
use ami_parking_tests::nats::{self, Cluster};
use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::nats::NatsTarget;
use ami_parking_transport::{Client, ClientOptions};
use common::{ask, bridge, ws, TOKEN};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_client_follows_a_collector_over_nats_and_retrieves_through_it() {
    let Some(bin) = nats::require() else { return };
    let cluster = Cluster::start(&bin, 1, "").await;
    let demo = DemoPbx::start(1200.0).await.unwrap();
    let url = cluster.url(0, "acme", "pbx1");
    let mut ami = ClientOptions::new(demo.url().parse().unwrap());
    ami.auth = ami_parking::AuthMethod::Md5;
    let cfg = CollectorConfig {
        ami,
        nats: NatsTarget::of(&url.parse().unwrap()).unwrap(),
        nats_ca_file: None,
        election: None,
        name: "bridge-test".into(),
        heartbeat: Duration::from_secs(1),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let collector = tokio::spawn(ami_parking_collector::run(cfg, async {
        let _ = stop_rx.await;
    }));
    let b = bridge(vec![url.clone()], |c| {
        c.rules.retrieve_to = vec!["Local/s@hold".into()];
        // Allowed by the bridge, but not an action a collector takes.
        c.rules.allow.insert("CoreStatus".into());
    })
    .await;
    let o = ClientOptions::new(format!("{}/?token={TOKEN}", b.addr).parse().unwrap());
    let client = Client::connect_with_store(o, ParkingStore::default());
    client.wait_logged_in(DEADLINE).await.expect("logged in through the bridge");

    // Live traffic reaches the client through collector, NATS and bridge: after it
    // stops, the client's store is the PBX's.
    let from = demo.changes_made();
    poll("traffic", DEADLINE, || async { (demo.changes_made() >= from + 40).then_some(()) }).await;
    demo.pause(true);
    let truth = demo.truth();
    let store = client.store().clone();
    let want = truth.clone();
    tokio::time::timeout(DEADLINE, live::wait_state(&store, move |s| truth_of(s, 1) == want))
        .await
        .unwrap_or_else(|_| panic!("the client's store {:?} never reached {truth:?}", truth_of(&store, 1)));
    assert!(!client.store().parking_lots_now().is_empty(), "the lots came with the list");

    // A retrieve (Originate to ParkedCall) and a park go through the bridge to the
    // collector, which carries them out on the PBX.
    let (lot, space, _) = truth.first().cloned().expect("the demo parked calls");
    let who = client
        .retrieve_call_on(Target::Server(1), Some(&lot), space, "Local/s@hold")
        .await
        .expect("retrieve through the bridge and the collector");
    assert!(who.retriever.channel.starts_with("Local/s@hold"), "{who:?}");
    poll("the retrieve at the PBX", DEADLINE, || async {
        (!demo.truth().iter().any(|(l, s, _)| *l == lot && *s == space)).then_some(())
    })
    .await;
    let free =
        (701..=720).find(|s| !demo.truth().iter().any(|(l, sp, _)| l == "default" && sp == s)).unwrap();
    let want = demo.truth();
    tokio::time::timeout(DEADLINE, live::wait_state(client.store(), move |s| truth_of(s, 1) == want))
        .await
        .expect("the retrieve reached the client's store");

    // What a collector cannot take is refused in an error frame; the bridge stays.
    let mut raw = ws(&b.addr).await;
    // A retrieve of an empty space reaches the PBX (the client's own check is not
    // asked), and its refusal comes back as Asterisk writes one.
    let frame = format!(
        r#"{{"Action":"Originate","Channel":"Local/s@hold","Application":"ParkedCall","Data":"default,{free}","ActionID":"r1"}}"#
    );
    let refused = ask(&mut raw, &frame, "r1").await;
    assert_eq!(refused["data"]["Response"], "Error", "an empty space: {refused}");
    let refused = ask(&mut raw, r#"{"Action":"CoreStatus","ActionID":"c1"}"#, "c1").await;
    assert_eq!(refused["data"]["Response"], "Error", "{refused}");
    let why = refused["data"]["Message"].as_str().unwrap_or_default();
    assert!(why.contains("CoreStatus over nats://") && why.contains("parking set"), "{refused}");
    let pong = ask(&mut raw, r#"{"Action":"Ping","ActionID":"p1"}"#, "p1").await;
    assert_eq!(
        (pong["data"]["Response"].as_str(), pong["data"]["Ping"].as_str()),
        (Some("Success"), Some("Pong"))
    );

    client.shutdown().await;
    let _ = stop_tx.send(());
    collector.await.unwrap().unwrap();
}
