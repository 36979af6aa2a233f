//! Raw HTTP and WebSocket helpers for the board's tests: requests with exactly the
//! headers an attacker (or a browser) would send.

#![allow(dead_code)]

use ami_parking::ParkingStore;
use ami_parking_transport::{Client, ClientOptions};
use parkboard::guard::Access;
use parkboard::peer::Peer;
use parkboard::state::Board;
use parkboard::users::{hash_password, Role, User, Users};

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::Message;
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a test waits for anything.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// One HTTP/1.1 exchange over a fresh connection: the status, the head and the body.
pub async fn http(addr: SocketAddr, request: &str) -> (u16, String, String) {
    http_from(addr, std::net::Ipv4Addr::LOCALHOST, request).await
}

/// [`http`] from the loopback address `from` (127.0.0.2, ...: another client).
pub async fn http_from(addr: SocketAddr, from: std::net::Ipv4Addr, request: &str) -> (u16, String, String) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from.into(), 0)).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut out)).await.expect("an answer in time").unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    // Header names and values compared in lower case, but the session cookie's
    // token keeps its case (it is the one value sent back).
    let lower: String = head
        .lines()
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("set-cookie:") {
                format!("set-cookie:{}", &l[11..])
            } else {
                l.to_ascii_lowercase()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    (status, lower, body.to_string())
}

pub fn get(path: &str, host: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
}

pub fn post_login(addr: SocketAddr, user: &str, password: &str, origin: &str) -> String {
    let body = format!("user={user}&password={password}");
    format!(
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The session cookie `POST /login` set (`name=value`), and the whole header line.
pub fn cookie_of(head: &str) -> Option<(String, String)> {
    let line = head.lines().find(|l| l.starts_with("set-cookie:"))?.to_string();
    let pair = line.trim_start_matches("set-cookie:").trim().split(';').next()?.to_string();
    Some((pair, line))
}

pub async fn login(addr: SocketAddr, user: &str, password: &str) -> String {
    let (status, head, _) = http(addr, &post_login(addr, user, password, &format!("http://{addr}"))).await;
    assert_eq!(status, 303, "{head}");
    cookie_of(&head).expect("a session cookie").0
}

/// Opens `/ws` with these headers; the HTTP status of the answer (101 when open).
pub async fn upgrade(addr: SocketAddr, origin: Option<&str>, cookie: Option<&str>) -> u16 {
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", HeaderValue::from_str(o).unwrap());
    }
    if let Some(c) = cookie {
        req.headers_mut().insert("Cookie", HeaderValue::from_str(c).unwrap());
    }
    match async_tungstenite::tokio::connect_async(req).await {
        Ok((_, r)) => r.status().as_u16(),
        Err(async_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
        Err(e) => panic!("the upgrade failed without an HTTP answer: {e}"),
    }
}

type Page = async_tungstenite::WebSocketStream<async_tungstenite::tokio::ConnectStream>;

/// The live socket as `cookie`'s page opens it, after its first render.
pub async fn open_page(addr: SocketAddr, cookie: &str) -> Page {
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Origin", HeaderValue::from_str(&format!("http://{addr}")).unwrap());
    req.headers_mut().insert("Cookie", HeaderValue::from_str(cookie).unwrap());
    let (mut ws, _) = async_tungstenite::tokio::connect_async(req).await.expect("the live socket");
    let first = tokio::time::timeout(DEADLINE, ws.next()).await.expect("a first render");
    assert!(matches!(first, Some(Ok(Message::Binary(_)))), "{first:?}");
    ws
}

/// A live socket over a connection whose receive buffer is 4 KiB (no growth).
pub type SmallPage =
    async_tungstenite::WebSocketStream<async_tungstenite::tokio::TokioAdapter<tokio::net::TcpStream>>;

/// The live socket as `cookie`'s page opens it, over a connection that can hold only
/// a few KiB the test has not read: the board feels a browser that stops reading at
/// once, not after megabytes of kernel buffers.
pub async fn open_small_page(addr: SocketAddr, cookie: &str) -> SmallPage {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Origin", HeaderValue::from_str(&format!("http://{addr}")).unwrap());
    req.headers_mut().insert("Cookie", HeaderValue::from_str(cookie).unwrap());
    async_tungstenite::tokio::client_async(req, stream).await.expect("the live socket").0
}

/// Waits for the page's first edits (its first render).
pub async fn first_render<S>(ws: &mut async_tungstenite::WebSocketStream<S>)
where
    S: futures_util::AsyncRead + futures_util::AsyncWrite + Unpin,
{
    let rendered = tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(m)) = ws.next().await {
            // Liveview frames are binary: 0 and text, or 1 and edits.
            if matches!(&m, Message::Binary(b) if b.first() == Some(&1)) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(rendered, Ok(true), "the page's first render");
}

/// Sends a ping and waits for its pong: the page has handled everything sent before
/// (liveview answers `__ping__`, in order, with a `__pong__` frame).
pub async fn ping_pong<S>(ws: &mut async_tungstenite::WebSocketStream<S>, what: &str)
where
    S: futures_util::AsyncRead + futures_util::AsyncWrite + Unpin,
{
    ws.send(Message::Text("__ping__".into())).await.unwrap();
    tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(m)) = ws.next().await {
            // Liveview frames are binary: 0 and text, or 1 and edits.
            if matches!(&m, Message::Binary(b) if b.as_ref() == b"\0__pong__") {
                return;
            }
        }
        panic!("the socket ended before the pong {what}");
    })
    .await
    .unwrap_or_else(|_| panic!("no pong {what}"));
}

/// Opens the live socket as the page of `cookie`'s user would, sends a forged click on
/// every element id in `ids` (what a page without the control would never send), and
/// returns once the page has handled them all.
pub async fn forge_clicks(addr: SocketAddr, cookie: &str, ids: std::ops::Range<u64>) {
    let mut ws = open_page(addr, cookie).await;
    for id in ids {
        let click = serde_json::json!({
            "method": "user_event",
            "params": {
                "name": "click", "element": id, "bubbles": true,
                "data": {
                    "alt_key": false, "button": 0, "buttons": 1, "client_x": 1.0, "client_y": 1.0,
                    "ctrl_key": false, "meta_key": false, "offset_x": 1.0, "offset_y": 1.0,
                    "page_x": 1.0, "page_y": 1.0, "screen_x": 1.0, "screen_y": 1.0, "shift_key": false
                }
            }
        });
        ws.send(Message::Text(click.to_string().into())).await.unwrap();
    }
    ping_pong(&mut ws, "after the forged clicks").await;
}

/// Opens the live socket as `cookie`'s page, sends `frame`, then waits for a ping's
/// pong: the page survived the frame.
pub async fn send_then_ping(addr: SocketAddr, cookie: &str, frame: &str) {
    let mut ws = open_page(addr, cookie).await;
    ws.send(Message::Text(frame.into())).await.unwrap();
    ping_pong(&mut ws, "after the frame").await;
}

/// A board with an operator (`reception`/`front-desk-pw`) and a viewer
/// (`wall`/`wallboard-pw`) in front of `url`, served on a free loopback port.
pub async fn board_on(url: String) -> (SocketAddr, Board) {
    board_with(url, None, Vec::new()).await
}

/// The board on a free port; `capped`: behind the connection caps (at most so many
/// connections) and the request deadline, as `parkboard` serves it; `more`: users
/// besides `reception` and `wall`.
pub async fn board_with(url: String, capped: Option<usize>, more: Vec<User>) -> (SocketAddr, Board) {
    board_allowing(url, capped, more, &[]).await
}

/// [`board_with`], its live socket also open to pages of `origins` (`allowed_origins`).
pub async fn board_allowing(
    url: String,
    capped: Option<usize>,
    more: Vec<User>,
    origins: &[String],
) -> (SocketAddr, Board) {
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
    let board = Board::new(client, users, Access::new(addr, false, &[], origins), Duration::from_secs(3600));
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
