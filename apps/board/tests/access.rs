//! Who may reach the board, tried as an attacker would, over raw HTTP (no browser, no
//! Asterisk: a recording AMI server stands behind the board): a foreign Host gets
//! 421, a foreign Origin cannot open the live socket or post, every page carries the
//! headers that keep it out of frames, logins set a strict cookie, wrong passwords
//! set nothing and are throttled, and `/healthz` tells the servers' state only.

use ami_parking::ParkingStore;
use ami_parking_tests::recorder::RecordingAmi;
use ami_parking_transport::{Client, ClientOptions};
use parkboard::guard::Access;
use parkboard::peer::Peer;
use parkboard::sessions::PER_USER;
use parkboard::state::Board;
use parkboard::users::{hash_password, Role, User, Users};
use std::net::SocketAddr;
use std::time::Duration;

mod common;
use common::{cookie_of, get, http, login, post_login, upgrade, DEADLINE};

/// A board with an operator (`reception`/`front-desk-pw`) and a viewer
/// (`wall`/`wallboard-pw`) in front of `url`, served on a free loopback port.
async fn board_on(url: String) -> (SocketAddr, Board) {
    board_with(url, None, Vec::new()).await
}

/// The board on a free port; `capped`: behind the connection caps (at most so many
/// connections) and the request deadline, as `parkboard` serves it; `more`: users
/// besides `reception` and `wall`.
async fn board_with(url: String, capped: Option<usize>, more: Vec<User>) -> (SocketAddr, Board) {
    let listener = parkboard::limits::listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let users = Users::new(
        vec![
            User::new(
                "reception".into(),
                &hash_password("front-desk-pw").unwrap(),
                Role::Operator,
                Some("PJSIP/1002".into()),
                None,
            )
            .unwrap(),
            User::new("wall".into(), &hash_password("wallboard-pw").unwrap(), Role::Viewer, None, None)
                .unwrap(),
        ]
        .into_iter()
        .chain(more)
        .collect(),
    );
    let client =
        Client::connect_all(vec![ClientOptions::new(url.parse().unwrap())], ParkingStore::default()).unwrap();
    let board = Board::new(client, users, Access::new(addr, false, &[], &[]), Duration::from_secs(3600));
    let app = parkboard::web::router(board.clone());
    if let Some(max) = capped {
        let listener = parkboard::limits::Capped::with_max(listener, max);
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<Peer>()).await.unwrap();
        });
    } else {
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<Peer>()).await.unwrap();
        });
    }
    (addr, board)
}

#[tokio::test]
async fn a_foreign_host_gets_421_on_every_route() {
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_on(ami.url()).await;
    for path in ["/", "/login", "/ws", "/healthz", "/glue.js"] {
        let (status, _, _) = http(addr, &get(path, "evil.example", "")).await;
        assert_eq!(status, 421, "{path}");
        // DNS rebinding: the attacker's name, the board's port.
        let (status, _, _) =
            http(addr, &get(path, &format!("rebind.evil.example:{}", addr.port()), "")).await;
        assert_eq!(status, 421, "{path}");
    }
    let (status, _, _) = http(addr, &get("/login", &addr.to_string(), "")).await;
    assert_eq!(status, 200, "the board's own address");
    let (status, _, _) = http(addr, &get("/login", &format!("localhost:{}", addr.port()), "")).await;
    assert_eq!(status, 200, "localhost");
}

#[tokio::test]
async fn the_live_socket_opens_only_from_the_boards_origin_with_a_session() {
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_on(ami.url()).await;
    let own = format!("http://{addr}");
    let cookie = login(addr, "wall", "wallboard-pw").await;
    assert_eq!(upgrade(addr, Some("https://evil.example"), Some(&cookie)).await, 403, "a foreign origin");
    assert_eq!(
        upgrade(addr, Some(&format!("http://127.0.0.1:{}", addr.port() + 1)), Some(&cookie)).await,
        403,
        "another port"
    );
    assert_eq!(upgrade(addr, Some("null"), Some(&cookie)).await, 403, "a sandboxed frame");
    assert_eq!(upgrade(addr, None, Some(&cookie)).await, 403, "no origin");
    assert_eq!(upgrade(addr, Some(&own), None).await, 401, "no session");
    assert_eq!(upgrade(addr, Some(&own), Some("parkboard_session=forged")).await, 401, "a forged session");
    assert_eq!(upgrade(addr, Some(&own), Some(&cookie)).await, 101, "the board's own page");
}

#[tokio::test]
async fn every_page_refuses_frames_and_sniffing() {
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_on(ami.url()).await;
    for path in ["/", "/login", "/board.css", "/glue.js", "/healthz"] {
        let (_, head, _) = http(addr, &get(path, &addr.to_string(), "")).await;
        let csp = head
            .lines()
            .find(|l| l.starts_with("content-security-policy:"))
            .unwrap_or_else(|| panic!("{path}: {head}"));
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe"), "{path}: {csp}");
        assert!(head.contains("x-content-type-options: nosniff"), "{path}");
        assert!(head.contains("referrer-policy: no-referrer"), "{path}");
        assert!(head.contains("x-frame-options: deny"), "{path}");
    }
    // A 421 too carries them.
    let (_, head, _) = http(addr, &get("/", "evil.example", "")).await;
    assert!(head.contains("frame-ancestors 'none'"), "{head}");
}

#[tokio::test]
async fn logins_set_a_strict_cookie_and_wrong_passwords_set_nothing() {
    let ami = RecordingAmi::start().await;
    let (addr, board) = board_on(ami.url()).await;
    let own = format!("http://{addr}");
    let (status, head, _) = http(addr, &get("/", &addr.to_string(), "")).await;
    assert_eq!(status, 303, "no session: to the login");
    assert!(head.contains("location: /login"), "{head}");
    let (status, head, body) = http(addr, &post_login(addr, "reception", "not-the-password", &own)).await;
    assert_eq!(status, 401, "{head}");
    assert!(!head.contains("set-cookie"), "{head}");
    assert!(body.contains("Wrong user name or password"), "{body}");
    let (status, head, _) = http(addr, &post_login(addr, "nobody", "front-desk-pw", &own)).await;
    assert_eq!(status, 401, "an unknown user: {head}");
    // A login posted from another site (login CSRF) is refused.
    let (status, _, _) =
        http(addr, &post_login(addr, "reception", "front-desk-pw", "https://evil.example")).await;
    assert_eq!(status, 403);
    let (status, head, _) = http(addr, &post_login(addr, "reception", "front-desk-pw", &own)).await;
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("location: /"), "{head}");
    let (pair, line) = cookie_of(&head).expect("a cookie");
    let attrs = line.to_ascii_lowercase();
    for attr in ["httponly", "samesite=strict", "path=/", "max-age=3600"] {
        assert!(attrs.contains(attr), "{attr}: {line}");
    }
    assert!(!attrs.contains("secure"), "plain http: no Secure (the browser would drop it): {line}");
    assert_eq!(board.sessions.len(), 1);
    let session = format!("Cookie: {pair}\r\n");
    let (status, _, body) = http(addr, &get("/", &addr.to_string(), &session)).await;
    assert_eq!(status, 200);
    assert!(body.contains("/glue.js"), "{body}");
    let logout = format!(
        "POST /logout HTTP/1.1\r\nHost: {addr}\r\nOrigin: {own}\r\n{session}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (status, head, _) = http(addr, &logout).await;
    assert_eq!(status, 303);
    assert!(head.to_ascii_lowercase().contains("max-age=0"), "{head}");
    let (status, _, _) = http(addr, &get("/", &addr.to_string(), &session)).await;
    assert_eq!(status, 303, "the session has ended");
    assert_eq!(board.sessions.len(), 0);
}

#[tokio::test]
async fn failed_logins_are_throttled_with_429() {
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_on(ami.url()).await;
    let own = format!("http://{addr}");
    for i in 0..PER_USER {
        let (status, _, _) = http(addr, &post_login(addr, "reception", &format!("guess{i}"), &own)).await;
        assert_eq!(status, 401, "attempt {i}");
    }
    // Throttled: even the right password waits, and says how long.
    let (status, head, body) = http(addr, &post_login(addr, "reception", "front-desk-pw", &own)).await;
    assert_eq!(status, 429, "{head}");
    assert!(head.contains("retry-after:"), "{head}");
    assert!(!head.contains("set-cookie"), "{head}");
    assert!(body.contains("Too many failed logins"), "{body}");
    // Another user from the same address is not locked out by someone else's guesses.
    let (status, _, _) = http(addr, &post_login(addr, "wall", "wallboard-pw", &own)).await;
    assert_eq!(status, 303);
    // Nor is the same user from another address: five guesses do not lock a user out.
    let elsewhere = std::net::Ipv4Addr::new(127, 0, 0, 2);
    let (status, head, _) =
        common::http_from(addr, elsewhere, &post_login(addr, "reception", "front-desk-pw", &own)).await;
    assert_eq!(status, 303, "{head}");
}

/// A failed login logs a configured user's name, never what else was typed in the
/// name field (a password typed there by mistake would reach the log).
#[tokio::test]
async fn a_failed_login_never_logs_a_name_that_is_not_a_user() {
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_on(ami.url()).await;
    let own = format!("http://{addr}");
    let (status, _, _) = http(addr, &post_login(addr, "MyS3cretPassw0rd", "x", &own)).await;
    assert_eq!(status, 401);
    let (status, _, _) = http(addr, &post_login(addr, "reception", "guess", &own)).await;
    assert_eq!(status, 401);
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(!text.contains("MyS3cretPassw0rd"), "{text}");
    assert!(text.contains("(not a user)") && text.contains("user=\"reception\""), "{text}");
}

/// A body past the board's limit is refused before it is read (a stalled 2 MB login
/// body per connection grew the board by hundreds of MB).
#[tokio::test]
async fn a_body_past_the_limit_is_refused_unread() {
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_on(ami.url()).await;
    let body = format!("user=reception&password={}", "x".repeat(parkboard::web::MAX_BODY));
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, head, _) = http(addr, &request).await;
    assert_eq!(status, 413, "{head}");
}

#[tokio::test]
async fn healthz_says_each_servers_state_and_nothing_else() {
    let ami = RecordingAmi::start().await;
    let (addr, board) = board_on(ami.url()).await;
    board.client.wait_logged_in(DEADLINE).await.expect("logged in to the recording server");
    let (status, _, body) = http(addr, &get("/healthz", &addr.to_string(), "")).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, serde_json::json!({ "status": "ok", "servers": [{ "link": 1, "state": "logged in" }] }));
    // A server that is down: 503.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (down, _) = board_on(format!("tcp://amiuser:x@127.0.0.1:{port}")).await;
    let (status, _, body) = http(down, &get("/healthz", &down.to_string(), "")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"degraded\""), "{body}");
}

#[tokio::test]
async fn metrics_count_logins_viewers_and_lots_on_their_own_address() {
    let ami = RecordingAmi::start().await;
    let (addr, board) = board_on(ami.url()).await;
    board.client.wait_logged_in(DEADLINE).await.unwrap();
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let maddr = metrics.local_addr().unwrap();
    tokio::spawn(parkboard::metrics_http::serve(metrics, board.clone()));
    let own = format!("http://{addr}");
    let _ = http(addr, &post_login(addr, "wall", "nope", &own)).await;
    let cookie = login(addr, "wall", "wallboard-pw").await;
    assert_eq!(upgrade(addr, Some("https://evil.example"), Some(&cookie)).await, 403);
    let text = poll_metrics(maddr, "parkboard_server_up{link=\"1\"} 1").await;
    for line in [
        "parkboard_logins_total{result=\"ok\"} 1",
        "parkboard_logins_total{result=\"failed\"} 1",
        "parkboard_sessions 1",
        "parkboard_refused_total 1",
        "# TYPE parkboard_request_seconds histogram",
        "parkboard_parked_calls{server=\"1\",lot=\"default\"}",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    // The page's address does not serve them.
    let (status, _, _) = http(addr, &get("/metrics", &addr.to_string(), "")).await;
    assert_eq!(status, 404);
}

/// `/metrics` once it contains `want`.
async fn poll_metrics(addr: SocketAddr, want: &str) -> String {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (status, _, body) = http(addr, &get("/metrics", &addr.to_string(), "")).await;
        if status == 200 && body.contains(want) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{want} never showed:\n{body}");
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_cannot_race_the_throttle() {
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_on(ami.url()).await;
    let own = format!("http://{addr}");
    let guesses: Vec<_> = (0..30)
        .map(|i| {
            let request = post_login(addr, "reception", &format!("guess{i}"), &own);
            tokio::spawn(async move { http(addr, &request).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    let tried = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(tried, PER_USER, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 30 - PER_USER, "{statuses:?}");
    let (status, _, _) = http(addr, &post_login(addr, "reception", "front-desk-pw", &own)).await;
    assert_eq!(status, 429, "the right password waits too");
}

#[tokio::test]
async fn a_forged_query_answer_does_not_end_the_page() {
    let ami = RecordingAmi::start().await;
    let (addr, _) = board_on(ami.url()).await;
    let cookie = login(addr, "wall", "wallboard-pw").await;
    // Liveview's page task panics on an answer to a query it never asked; the board
    // drops every frame but the page's events and pings (a ping after it is answered).
    common::send_then_ping(
        addr,
        &cookie,
        r#"{"method":"query","params":{"id":0,"data":1,"returned_value":true}}"#,
    )
    .await;
}

/// The History page: a login first; operators see it, viewers only when
/// `history_viewers` is set; a bad day is a 400 that says how to write it; the CSV
/// comes as an attachment; a board without history answers 404.
#[tokio::test]
async fn the_history_page_is_for_operators_and_for_viewers_only_when_the_config_says_so() {
    let ami = RecordingAmi::start().await;
    let (addr, board) = board_on(ami.url()).await;
    let host = addr.to_string();
    let (status, _, _) = http(addr, &get("/history", &host, "")).await;
    assert_eq!(status, 303, "no session: to the login page");
    let cookie = |c: String| format!("Cookie: {c}\r\n");
    let operator = cookie(login(addr, "reception", "front-desk-pw").await);
    let (status, _, body) = http(addr, &get("/history", &host, &operator)).await;
    assert_eq!(status, 404, "history off on this board: {body}");

    let history = ami_parking_history::History::open("sqlite::memory:", Default::default()).await.unwrap();
    for viewers in [false, true] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut board = board.clone();
        board.history = Some(history.clone());
        board.history_viewers = viewers;
        board.access = Access::new(addr, false, &[], &[]);
        let app = parkboard::web::router(board);
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<Peer>()).await.unwrap();
        });
        let host = addr.to_string();
        let operator = cookie(login(addr, "reception", "front-desk-pw").await);
        let viewer = cookie(login(addr, "wall", "wallboard-pw").await);
        let (status, _, body) = http(addr, &get("/history", &host, &operator)).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("Parking history"), "{body}");
        let (status, _, _) = http(addr, &get("/history", &host, &viewer)).await;
        assert_eq!(status, if viewers { 200 } else { 403 }, "viewers: history_viewers = {viewers}");
        let (status, _, body) = http(addr, &get("/history?day=yesterday", &host, &operator)).await;
        assert_eq!(status, 400);
        assert!(body.contains("YYYY-MM-DD"), "{body}");
        let (status, head, body) = http(addr, &get("/history.csv?day=2026-12-01", &host, &operator)).await;
        assert_eq!(status, 200);
        assert!(head.to_ascii_lowercase().contains("content-disposition: attachment"), "{head}");
        assert!(body.starts_with("id,server_id,lot,"), "{body}");
    }
}

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
    let mut fine = tokio::net::TcpStream::connect(addr).await.unwrap();
    let pad = "b".repeat(max - 200);
    fine.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Pad: {pad}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, fine.read_to_end(&mut answer)).await.expect("answered in time").unwrap();
    // Healthz answers (200, or 503 while the link is still logging in).
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 ") && answer.contains("\"servers\""), "{answer:?}");
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut fresh = tokio::net::TcpStream::connect(addr).await.unwrap();
    let get = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
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
