//! A client that stops reading is cut off (close code 1008) when its bounded queue
//! fills, and never slows the others: a fast client beside it keeps receiving.
//! The upstream is the demo PBX at 2,000 events a second (no Asterisk behaviour is
//! claimed here: this is the bridge's own queueing).

mod common;

use ami_parking_transport::demo::DemoPbx;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::Message as WsMessage;
use common::{bridge, poll, ws, TOKEN};
use futures_util::StreamExt;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_cut_off_and_a_fast_one_keeps_receiving() {
    let demo = DemoPbx::start(120_000.0).await.unwrap();
    let b = bridge(vec![demo.url()], |c| c.queue = 512).await;

    // The slow one: a tiny receive buffer, and it never reads.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(b.addr.trim_start_matches("ws://").parse().unwrap()).await.unwrap();
    let (mut slow, _) =
        async_tungstenite::tokio::client_async(format!("{}/?token={TOKEN}", b.addr), tcp).await.unwrap();
    let mut fast = ws(&b.addr).await;
    poll("both clients registered", Duration::from_secs(5), || async {
        (b.hub.clients() == 2).then_some(())
    })
    .await;

    // The fast one reads on while the slow one's queue fills.
    let hub = b.hub.clone();
    let reader = tokio::spawn(async move {
        let (mut before, mut after) = (0u64, 0u64);
        while let Some(Ok(m)) = fast.next().await {
            if let WsMessage::Close(c) = m {
                panic!("the fast client was cut off: {c:?}");
            }
            if hub.clients() == 2 {
                before += 1;
            } else {
                after += 1;
                if after >= 500 {
                    break;
                }
            }
        }
        (before, after)
    });
    poll("the slow client cut off", Duration::from_secs(20), || async {
        (b.hub.clients() == 1).then_some(())
    })
    .await;
    let (before, after) = tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .expect("the fast client keeps receiving")
        .unwrap();
    assert!(after >= 500, "{before} frames before the cut, {after} after");

    // The slow one finds its link closed: a 1008 close frame if it still fitted, or the end.
    let end = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match slow.next().await {
                Some(Ok(WsMessage::Close(c))) => return c.map(|c| c.code),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("the slow client's link ends");
    assert!(end.is_none() || end == Some(CloseCode::Policy), "{end:?}");
}

/// Found by the review: the queue was bounded in frames only, so a client sending
/// frames that are refused, without reading the refusals, grew the bridge by about
/// 1 GiB (4,096 refusals of 240 KB each). Now each queue is bounded in bytes too
/// (`QUEUE_BYTES`, 8 MiB): with a frame bound far out of reach, such a client is
/// cut off once its refusals reach it, and the bridge serves the next client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_a_client_never_reads_are_bounded_in_bytes() {
    let demo = DemoPbx::start(60.0).await.unwrap();
    let b = bridge(vec![demo.url()], |c| c.queue = 10_000_000).await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(b.addr.trim_start_matches("ws://").parse().unwrap()).await.unwrap();
    let (mut slow, _) =
        async_tungstenite::tokio::client_async(format!("{}/?token={TOKEN}", b.addr), tcp).await.unwrap();
    poll("the client registered", Duration::from_secs(5), || async { (b.hub.clients() == 1).then_some(()) })
        .await;
    // Each refusal names its bad header (about 200 bytes): 60,000 of them pass 8 MiB.
    let bad = format!(r#"{{"Action":"Ping","ActionID":"{}","Bad Key":"1"}}"#, "i".repeat(64));
    let sent = tokio::time::timeout(Duration::from_secs(60), async {
        let mut n = 0;
        while n < 60_000 && b.hub.clients() == 1 {
            if slow.send(WsMessage::text(bad.clone())).await.is_err() {
                break;
            }
            n += 1;
        }
        n
    })
    .await
    .expect("the frames are taken or the link ends");
    poll("the client cut off", Duration::from_secs(20), || async { (b.hub.clients() == 0).then_some(()) })
        .await;
    assert!(sent > 1_000, "cut after {sent} frames: refusals are small, so it takes thousands");
    // The bridge still answers the next client.
    let mut next = ws(&b.addr).await;
    common::send(&mut next, r#"{"Action":"Ping","ActionID":"p"}"#).await;
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = next.next().await {
            if let WsMessage::Text(t) = m {
                if t.contains("\"p\"") {
                    return t.to_string();
                }
            }
        }
        String::new()
    })
    .await
    .expect("an answer to the next client");
    // Answered (the token's rate is spent by the frames before: a rate-limit answer is
    // an answer).
    assert!(answer.contains("\"data\""), "{answer}");
}

/// Found by the review: the pongs owed to a client that pings and never reads piled
/// up in the WebSocket's write buffer, outside the queue's bounds (one socket grew
/// the bridge by 470 MB). The write buffer is bounded now: past it only the last
/// pong is kept, and the socket still answers once the client reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_from_a_client_that_never_reads_keeps_a_bounded_answer() {
    const PINGS: usize = 200_000;
    let demo = DemoPbx::start(60.0).await.unwrap();
    let b = bridge(vec![demo.url()], |_| {}).await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(b.addr.trim_start_matches("ws://").parse().unwrap()).await.unwrap();
    let (ws, _) =
        async_tungstenite::tokio::client_async(format!("{}/?token={TOKEN}", b.addr), tcp).await.unwrap();
    // 125 bytes each, the most a control frame holds: 25 MB of pongs owed. The bridge
    // may stop reading the flood once the pong it owes cannot be written (back
    // pressure: the flood then waits in the kernels' buffers, bounded too); a send
    // that waits that long ends the flood, and the client starts reading.
    let payload = vec![b'p'; 125];
    let (mut tx, mut rx) = ws.split();
    // 0: flooding; 1: the flood is over; 2: the bridge cut the flooding client off
    // (its queue of frames to a client that does not read filled: bounded too).
    let (flood_over, mut over) = tokio::sync::watch::channel(0u8);
    let sender = async move {
        for _ in 0..PINGS {
            let ping = tx.send(WsMessage::Ping(payload.clone().into()));
            match tokio::time::timeout(Duration::from_secs(5), ping).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    flood_over.send(2).unwrap();
                    return;
                }
                Err(_) => break,
            }
        }
        flood_over.send(1).unwrap();
        tx.send(WsMessage::Ping(b"last".to_vec().into())).await.expect("the bridge takes the last ping");
    };
    let mut pongs = 0usize;
    let reader = async {
        if *over.wait_for(|o| *o != 0).await.unwrap() == 2 {
            return;
        }
        while let Some(m) = rx.next().await {
            match m.expect("the socket stays up") {
                WsMessage::Pong(p) if p.as_ref() == b"last" => return,
                WsMessage::Pong(_) => pongs += 1,
                _ => {}
            }
        }
        panic!("the socket ended before the last pong");
    };
    tokio::time::timeout(Duration::from_secs(120), async { tokio::join!(sender, reader) })
        .await
        .expect("the last pong in time");
    // Kernel buffers and the write buffer (one largest frame, about 7 MiB) hold tens of thousands; the rest were
    // never queued.
    assert!(pongs < PINGS / 2, "{pongs} of {PINGS} pongs were queued for a client that did not read");
}
