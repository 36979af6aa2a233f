//! The tokio client's forwarding surface against the demo PBX (the reference model
//! behind a loopback port; no Asterisk behaviour is claimed): an MD5 login, a
//! `Request::Forward` through `try_request`, and `messages()`, whose subscriber that
//! falls behind loses the oldest messages, counted, without slowing the link or the
//! subscriber that keeps up.

use ami_parking::{Action, AuthMethod, ParkingOptions, ParkingStore, Reply, Request, Target};
use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::{Client, ClientOptions, MESSAGES_QUEUE};
use futures_util::StreamExt;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_and_a_lossy_message_stream_over_a_real_socket() {
    // 2,000 parking changes a second: several messages each.
    let demo = DemoPbx::start(120_000.0).await.unwrap();
    let mut o = ClientOptions::new(demo.url().parse().unwrap());
    o.auth = AuthMethod::Md5;
    o.forward_events = true;
    let client =
        Client::connect_with_store(o, ParkingStore::new(ParkingOptions::default().auto_refresh(false)));
    let mut reader = client.messages();
    let mut laggard = client.messages();
    client.wait_logged_in(DEADLINE).await.expect("MD5 login to the demo PBX");

    let answer = client
        .try_request(Request::Forward(Action::new("Ping").header("ActionID", "mine")), Target::Server(1))
        .expect("room in the queue");
    match tokio::time::timeout(DEADLINE, answer).await.expect("answered") {
        Ok(Reply::Forwarded(m)) => {
            assert_eq!(m.len(), 1, "{m:?}");
            assert!(m[0].is("Ping", "Pong") && m[0].action_id().is_none(), "{m:?}");
        }
        r => panic!("{r:?}"),
    }

    // One subscriber reads more than the queue holds; the other reads nothing meanwhile.
    let read = tokio::time::timeout(DEADLINE, async {
        let mut n = 0;
        while let Some((server, m)) = reader.next().await {
            assert_eq!(server, 1);
            assert!(m.action_id().is_none_or(|a| a != b"mine"), "our own answer is not traffic: {m:?}");
            n += 1;
            if n > MESSAGES_QUEUE + 100 {
                break;
            }
        }
        n
    })
    .await
    .expect("the reader keeps receiving while the other lags");
    assert!(read > MESSAGES_QUEUE && reader.lost() == 0, "read {read}, lost {}", reader.lost());
    let next = tokio::time::timeout(DEADLINE, laggard.next()).await.expect("the laggard reads on");
    assert!(next.is_some());
    assert!(laggard.lost() >= 100, "the laggard lost the oldest: {}", laggard.lost());
    client.shutdown().await;
}

/// Where each call is, and which: what two stores must agree on.
fn places(calls: &[ami_parking::ParkedCall]) -> Vec<(String, u32, String)> {
    let mut v: Vec<_> = calls
        .iter()
        .map(|c| (c.parking_lot.to_string(), c.parking_space, c.unique_id().to_owned()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_through_and_the_messages_numbered_after_them_rebuild_the_store_exactly() {
    let demo = DemoPbx::start(120_000.0).await.unwrap();
    let mut o = ClientOptions::new(demo.url().parse().unwrap());
    o.auth = AuthMethod::Md5;
    o.forward_events = true;
    let client =
        Client::connect_with_store(o, ParkingStore::new(ParkingOptions::default().auto_refresh(false)));
    let mut messages = client.messages();
    client.wait_logged_in(DEADLINE).await.expect("MD5 login to the demo PBX");
    // Numbered from 1, one by one, while nothing is lost.
    let mut last = 0;
    while last < 300 {
        tokio::time::timeout(DEADLINE, messages.next()).await.expect("traffic").expect("a message");
        assert!(last == 0 || messages.number() == last + 1, "{last} then {}", messages.number());
        last = messages.number();
    }
    assert_eq!(messages.lost(), 0);
    // The calls now, and the messages after them: applied to a store that starts
    // from those calls, they give the client's store at the end, call for call.
    let at = client.calls_through(1).await.expect("link 1 answers");
    assert!(at.number >= last, "the store holds at least what was read: {} < {last}", at.number);
    let copy = ParkingStore::new(ParkingOptions::default().auto_refresh(false));
    copy.apply_snapshot(ami_parking_transport::now(), 1, None, at.calls.clone());
    let mut applied = 0;
    let mut end = None;
    loop {
        if end.is_none() && applied >= 1_000 {
            demo.pause(true);
            end = Some(client.calls_through(1).await.expect("link 1 answers"));
        }
        if let Some(end) = &end {
            if messages.number() >= end.number {
                break;
            }
        }
        let (_, m) =
            tokio::time::timeout(DEADLINE, messages.next()).await.expect("traffic").expect("a message");
        if messages.number() > at.number {
            copy.apply_message(ami_parking_transport::now(), 1, &m);
            applied += 1;
        }
    }
    let end = end.expect("the end");
    assert_eq!(messages.lost(), 0, "the test read too slowly to see every message");
    let held: Vec<_> = copy.parked_calls_now().iter().map(|c| ami_parking::ParkedCall::clone(c)).collect();
    assert_eq!(places(&held), places(&end.calls));
    assert!(!end.calls.is_empty() || !at.calls.is_empty(), "the demo parks calls");
    assert!(client.calls_through(2).await.is_none(), "no link serves server 2");
    client.shutdown().await;
}
