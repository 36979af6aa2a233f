//! Item 5 of issue 26: the bridge's binary with a descriptor limit of 64 (`prlimit`)
//! and 100 idle sockets opened to it, no token sent: it must not end ("Too many open
//! files" from `accept()` is logged and survived), and it must serve a client once
//! the sockets are gone. No Asterisk needed (a test AMI server stands in for it).

mod common;

use ami_parking_tests::ami_server::TestAmi;
use common::ask;
use common::binary::{operator_once_served, start_with, OPERATOR};
use std::time::Duration;

#[tokio::test]
async fn a_descriptor_limit_of_64_and_100_idle_sockets_do_not_end_the_bridge() {
    let available =
        std::process::Command::new("prlimit").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(available, "prlimit (util-linux) is needed for this test");
    let ami = TestAmi::start().await;
    let url = format!("tcp://amiuser:test-only-secret@127.0.0.1:{}", ami.port);
    // With the default caps: the descriptors run out first (the cap of sockets still
    // upgrading is 64, and the bridge holds a few descriptors of its own).
    let mut b = start_with(&["prlimit", "--nofile=64:64", "--"], &url, OPERATOR, &[]).await;
    let host = b.addr.trim_start_matches("ws://").to_owned();
    let target: std::net::SocketAddr = host.parse().unwrap();
    let mut idle = Vec::new();
    for i in 0..100u8 {
        // From eight loopback addresses, so the cap per address (16 upgrading) does
        // not close them first; the kernel's backlog takes what the bridge cannot
        // accept.
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind(std::net::SocketAddr::from(([127, 0, 0, 2 + i % 8], 0))).unwrap();
        match s.connect(target).await {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connecting the idle sockets: {e}"),
        }
    }
    b.app
        .line("the accept error, logged", Duration::from_secs(10), |l| {
            l.contains("cannot accept a connection")
        })
        .await;
    assert!(b.app.seen.iter().all(|l| !l.contains("panicked")), "{:?}", b.app.seen);
    drop(idle);
    let mut c = operator_once_served(&b.addr, "the bridge to serve again", Duration::from_secs(20)).await;
    let pong = ask(&mut c, r#"{"Action":"Ping","ActionID":"after"}"#, "after").await;
    assert_eq!(pong["data"]["Response"], "Success", "{pong}");
    println!("served after 100 idle sockets under a limit of 64 descriptors");
}
