//! What a connection may cost the board, tried as an attacker would, over raw
//! sockets (a recording AMI server stands behind the board): request heads that never
//! end or grow past their cap, every place held by clients that send nothing, a byte
//! at a time, a body that never comes or read nothing, a ping flood, a screen that
//! stops reading. Each is cut, or makes room, and the board goes on.

use ami_parking_tests::recorder::RecordingAmi;
use parkboard::users::{hash_password, Role, User};
use std::net::SocketAddr;
use std::time::Duration;

mod common;
use common::{board_on, board_with, login, DEADLINE};

/// A connection that never finishes its request head (slowloris) is closed after
/// `REQUEST_DEADLINE`, and so are one whose body stops coming and an idle keep-alive
/// one; a live page (a WebSocket) is not.
#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_but_a_live_page_stays() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_with(ami.url(), Some(parkboard::limits::MAX_CONNECTIONS), Vec::new()).await;
    let cookie = login(addr, "wall", "wallboard-pw").await;
    let mut page = common::open_page(addr, &cookie).await;
    let opened = std::time::Instant::now();
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Slow: 1").as_bytes()).await.unwrap();
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nuser=wall"
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let limit = parkboard::limits::REQUEST_DEADLINE + DEADLINE;
    let mut buf = vec![0u8; 4096];
    // The unfinished head: no answer, then the end of the connection.
    let n = tokio::time::timeout(limit, slow.read(&mut buf)).await.expect("closed in time").unwrap_or(0);
    assert_eq!(n, 0, "no answer to half a head: {:?}", String::from_utf8_lossy(&buf[..n]));
    assert!(opened.elapsed() >= parkboard::limits::REQUEST_DEADLINE, "not before the deadline");
    // The body that stops coming: the connection ends too (whatever it was told).
    let mut told = Vec::new();
    tokio::time::timeout(limit, stalled.read_to_end(&mut told)).await.expect("closed in time").ok();
    assert!(!String::from_utf8_lossy(&told).contains("set-cookie"), "{told:?}");
    // The idle keep-alive connection had its answer, then was closed.
    let mut answer = Vec::new();
    tokio::time::timeout(limit, idle.read_to_end(&mut answer)).await.expect("closed in time").unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{answer:?}");
    // The live page, opened before both, still answers.
    common::ping_pong(&mut page, "after the deadline").await;
}

/// A request head that grows past `MAX_HEAD` without ending is cut at once (the
/// HTTP server would buffer about 400 KiB of it for `REQUEST_DEADLINE`), and a head
/// just under it is answered.
#[tokio::test]
async fn a_request_head_past_its_cap_is_cut_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_with(ami.url(), Some(parkboard::limits::MAX_CONNECTIONS), Vec::new()).await;
    let max = parkboard::limits::MAX_HEAD;
    let mut big = tokio::net::TcpStream::connect(addr).await.unwrap();
    let filler = format!("X-Filler: {}\r\n", "a".repeat(1000));
    let mut sent = 0;
    let opened = std::time::Instant::now();
    big.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).await.unwrap();
    // Written until the board closes it (a write then fails) or well past the cap.
    while sent < 4 * max {
        if big.write_all(filler.as_bytes()).await.is_err() {
            break;
        }
        sent += filler.len();
    }
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(DEADLINE, big.read(&mut buf)).await.expect("closed in time").unwrap_or(0);
    assert_eq!(n, 0, "no answer to an endless head: {:?}", String::from_utf8_lossy(&buf[..n]));
    assert!(opened.elapsed() < parkboard::limits::REQUEST_DEADLINE, "cut at the cap, not at the deadline");
    // A head just under the cap is read and answered.
    healthz_with(addr, &format!("X-Pad: {}\r\n", "b".repeat(max - 200))).await;
}

/// Connections that hold every place without sending a request head cannot keep a
/// new client waiting: it takes the place of the one that has waited longest (at
/// least `EVICT_AFTER`), which is closed, long before the request deadline would
/// free one. Eight places here (2,048 in `parkboard`).
#[tokio::test]
async fn a_full_board_makes_room_for_a_client_by_closing_the_longest_wait_for_a_head() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_with(ami.url(), Some(8), Vec::new()).await;
    let opened = std::time::Instant::now();
    let mut idle = Vec::new();
    for _ in 0..8 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).await.unwrap();
        idle.push(s);
    }
    // The ninth: answered once the oldest has waited a second, not after 15 s.
    fresh_healthz(addr).await;
    let took = opened.elapsed();
    assert!(took >= parkboard::limits::EVICT_AFTER, "not before the oldest waited long enough: {took:?}");
    assert!(took < parkboard::limits::REQUEST_DEADLINE, "a place was made, not waited for: {took:?}");
    // The oldest was the one closed; the others still wait.
    let mut buf = [0u8; 256];
    let n =
        tokio::time::timeout(DEADLINE, idle[0].read(&mut buf)).await.expect("closed in time").unwrap_or(0);
    assert_eq!(n, 0, "the longest wait is closed without an answer");
}

/// The same when the places are held by clients sending their heads a byte at a
/// time: each byte is news, but their requests have waited since they began (the
/// attacker's third pass: counted from the last byte, they were never chosen).
#[tokio::test]
async fn a_full_board_makes_room_past_clients_that_send_a_byte_at_a_time() {
    use tokio::io::AsyncWriteExt;
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_with(ami.url(), Some(8), Vec::new()).await;
    let opened = std::time::Instant::now();
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"G").await.unwrap();
        held.push(s);
    }
    let trickle: Vec<_> = held
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Slow: {}", "a".repeat(500));
                // The attacker's pace (not a wait for the board): a byte every 300 ms.
                for b in head.bytes().skip(1) {
                    if s.write_all(&[b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
            })
        })
        .collect();
    fresh_healthz(addr).await;
    let took = opened.elapsed();
    assert!(took < parkboard::limits::REQUEST_DEADLINE, "a place was made, not waited for: {took:?}");
    trickle.iter().for_each(|t| t.abort());
}

/// A new client's `GET /healthz`, answered (200, or 503 while the link logs in).
async fn fresh_healthz(addr: SocketAddr) {
    healthz_with(addr, "").await;
}

/// [`fresh_healthz`] with `extra` header lines (each ending in CRLF) in its head.
async fn healthz_with(addr: SocketAddr, extra: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut fresh = tokio::net::TcpStream::connect(addr).await.unwrap();
    let get = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    fresh.write_all(get.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, fresh.read_to_end(&mut answer)).await.expect("answered").unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 ") && answer.contains("\"servers\""), "{answer:?}");
}

/// The same when the places are held by requests whose body never comes and by
/// clients that pipeline requests and never read the answers (the attacker's second
/// pass: neither waited for a head, so neither was chosen).
#[tokio::test]
async fn a_full_board_makes_room_past_stalled_bodies_and_clients_that_never_read() {
    use tokio::io::AsyncWriteExt;
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_with(ami.url(), Some(8), Vec::new()).await;
    let opened = std::time::Instant::now();
    let mut held = Vec::new();
    for i in 0..8 {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.set_recv_buffer_size(4096).unwrap();
        let mut s = s.connect(addr).await.unwrap();
        if i % 2 == 0 {
            let head = format!(
                "POST /login HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Type: \
                 application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nuser=wall"
            );
            s.write_all(head.as_bytes()).await.unwrap();
        } else {
            let one = format!("GET /board.js HTTP/1.1\r\nHost: {addr}\r\n\r\n");
            s.write_all(one.repeat(200).as_bytes()).await.unwrap();
        }
        held.push(s);
    }
    fresh_healthz(addr).await;
    let took = opened.elapsed();
    assert!(took < parkboard::limits::REQUEST_DEADLINE, "a place was made, not waited for: {took:?}");
    drop(held);
}

/// A client that floods WebSocket pings and never reads: the pongs it is owed are not
/// queued without end (the board's memory), and the page still answers afterwards.
/// The page is one of no lot, so the board has nothing else to send it meanwhile: on
/// a page with calls, each second's edit (their times) would wait behind the pongs and
/// the page would be dropped, for its full queue or after `WRITE_STALL`, depending on
/// the machine's speed, and the pongs' cap would go unseen.
#[tokio::test]
async fn a_ping_flood_from_a_client_that_never_reads_queues_a_bounded_answer() {
    use async_tungstenite::tungstenite::Message;
    use futures_util::StreamExt;
    const PINGS: usize = 200_000;
    let ami = RecordingAmi::start().await;
    let lobby = User::new(
        "lobby".into(),
        &hash_password("lobby-pw").unwrap(),
        Role::Viewer,
        None,
        Some(vec!["no-such-lot".into()]),
    )
    .unwrap();
    let (addr, _) = board_with(ami.url(), None, vec![lobby]).await;
    let cookie = login(addr, "lobby", "lobby-pw").await;
    let mut ws = common::open_small_page(addr, &cookie).await;
    common::first_render(&mut ws).await;
    // 125 bytes each, the most a control frame holds: 25 MB of pongs owed.
    let payload = vec![b'p'; 125];
    for _ in 0..PINGS {
        ws.send(Message::Ping(payload.clone().into())).await.expect("the board takes the flood");
    }
    ws.send(Message::Ping(b"last".to_vec().into())).await.expect("the board takes the last ping");
    // Now read: the pongs the board kept, then the answer to the last ping.
    let mut pongs = 0usize;
    tokio::time::timeout(DEADLINE, async {
        while let Some(m) = ws.next().await {
            match m.expect("the socket stays up") {
                Message::Pong(p) if p.as_ref() == b"last" => return,
                Message::Pong(_) => pongs += 1,
                _ => {}
            }
        }
        panic!("the socket ended before the last pong");
    })
    .await
    .expect("the last pong in time");
    // Kernel buffers and the queue hold a few thousand; the rest were never queued.
    assert!(pongs < PINGS / 2, "{pongs} of {PINGS} pongs were queued for a client that did not read");
    common::ping_pong(&mut ws, "after the flood").await;
}

/// A viewer's screen that stops reading while the board keeps changing is closed
/// once it has taken nothing for a while: its seat and its render are freed, and the
/// viewer's other screen goes on.
#[tokio::test]
async fn a_screen_that_stops_reading_is_closed_and_frees_its_seat_and_render() {
    let pbx = ami_parking_transport::demo::DemoPbx::start(12_000.0).await.unwrap();
    let (addr, board) = board_on(pbx.url()).await;
    let cookie = login(addr, "wall", "wallboard-pw").await;
    let mut reading = common::open_page(addr, &cookie).await;
    let _stalled = common::open_small_page(addr, &cookie).await;
    assert_eq!(board.sockets.open(), 2);
    assert_eq!(board.sockets.shared_renders(), 1, "two screens of one viewer: one render");
    let closed = async {
        while board.sockets.open() > 1 {
            // The reading screen keeps up meanwhile.
            common::ping_pong(&mut reading, "while the other screen stalls").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(parkboard::shutdown::WRITE_STALL + 2 * DEADLINE, closed)
        .await
        .expect("the stalled screen closed in time");
    assert_eq!(board.sockets.shared_renders(), 1, "the reading screen keeps the render");
    drop(reading);
    tokio::time::timeout(DEADLINE, async {
        while board.sockets.open() > 0 || board.sockets.shared_renders() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the render stops with its last screen");
}
