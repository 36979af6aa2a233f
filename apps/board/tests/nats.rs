//! The board on a `nats://` URL (feature `nats`): it follows a collector over a real
//! `nats-server` instead of opening an AMI session; the embedded demo PBX is the
//! collector's Asterisk. What it shows is read from its metrics (parked calls per
//! lot, the link up).

use ami_parking::ParkingClient;
use ami_parking_collector::Config;
use ami_parking_tests::measure::poll;
use ami_parking_tests::nats::{self, Cluster};
use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::nats::NatsTarget;
use ami_parking_transport::{Client, ClientOptions};
use parkboard::state::Board;
use std::time::Duration;

mod common;
use common::{get, http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_what_a_collector_publishes_over_nats() {
    let Some(bin) = nats::require() else { return };
    let cluster = Cluster::start(&bin, 1, "").await;
    let demo = DemoPbx::start(600.0).await.unwrap();
    let url = cluster.url(0, "acme", "pbx1");
    let mut ami = ClientOptions::new(demo.url().parse().unwrap());
    ami.auth = ami_parking::AuthMethod::Md5;
    let cfg = Config {
        ami,
        nats: NatsTarget::of(&url.parse().unwrap()).unwrap(),
        nats_ca_file: None,
        election: None,
        name: "board-test".into(),
        heartbeat: Duration::from_secs(1),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let collector = tokio::spawn(ami_parking_collector::run(cfg, async {
        let _ = stop_rx.await;
    }));
    let client =
        Client::connect_all(vec![ClientOptions::new(url.parse().unwrap())], Default::default()).unwrap();
    let board = Board::local(client.clone(), "127.0.0.1:1".parse().unwrap(), "Local/s@hold");
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let maddr = metrics.local_addr().unwrap();
    tokio::spawn(parkboard::metrics_http::serve(metrics, board.clone()));
    poll("the board's link up", Duration::from_secs(20), || async {
        (client.connection_state_now() == ami_parking::ConnectionState::LoggedIn).then_some(())
    })
    .await;
    demo.pause(true);
    let want = demo.truth().iter().filter(|(lot, _, _)| lot == "default").count();
    let line = format!("parkboard_parked_calls{{server=\"1\",lot=\"default\"}} {want}");
    let text = poll("the demo's calls on the board", Duration::from_secs(5), || async {
        let (status, _, body) = http(maddr, &get("/metrics", &maddr.to_string(), "")).await;
        (status == 200 && body.contains(&line) && body.contains("parkboard_server_up{link=\"1\"} 1"))
            .then_some(body)
    })
    .await;
    assert!(text.contains("lot=\"vip\""), "the lots come with the snapshot:\n{text}");
    // An action from the board goes to the collector over NATS: retrieving an empty
    // space is Asterisk's refusal, not a timeout or a transport error.
    let free =
        (701..=720).find(|s| !demo.truth().iter().any(|(l, sp, _)| l == "default" && sp == s)).unwrap();
    let err = client.retrieve_call(Some("default"), free, "Local/s@hold").await.unwrap_err();
    assert!(matches!(err, ami_parking::ParkingError::Asterisk { .. }), "{err:?}");
    client.shutdown().await;
    let _ = stop_tx.send(());
    collector.await.unwrap().unwrap();
}
