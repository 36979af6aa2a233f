//! Who gets in to the bridge's binary, tried as an attacker would: wrong tokens from
//! an address (and a right one behind the same NAT), sockets that never finish their
//! upgrade from a few addresses, more sockets than the caps. No Asterisk needed (a
//! test AMI server stands in): these never skip.

mod common;

use common::binary::{operator, operator_once_served, ping, setup, OPERATOR};

/// Item 5: wrong tokens are throttled per address: after five, even the right one
/// waits.
#[tokio::test]
async fn wrong_tokens_are_throttled() {
    let (_ami, b) = setup(OPERATOR, &[]).await;
    let status = upgrade_status::<()>;
    for i in 0..5 {
        let url = format!("{}/?token=wrong-token-guess-{i:04}", b.addr);
        assert_eq!(status(async_tungstenite::tokio::connect_async(url).await.map(|_| ())), 401);
    }
    let url = format!("{}/?token={OPERATOR}", b.addr);
    assert_eq!(status(async_tungstenite::tokio::connect_async(url).await.map(|_| ())), 429);
}

/// Wrong tokens from one address (a client behind the same NAT in a reconnect loop)
/// do not lock out a token that got in from that address before; a token that never
/// did is refused past the budget like a wrong one (the budget still bounds guessing).
#[tokio::test]
async fn a_token_that_got_in_before_is_not_locked_out_by_its_neighbours_wrong_tokens() {
    const OTHER: &str = "other-operator-0123456789";
    let (_ami, b) = setup(&format!("{OPERATOR}\n{OTHER}\n"), &[]).await;
    let status = upgrade_status::<()>;
    let connect = |token: String| {
        let url = format!("{}/?token={token}", b.addr);
        async move { status(async_tungstenite::tokio::connect_async(url).await.map(|_| ())) }
    };
    assert_eq!(connect(OPERATOR.into()).await, 101, "the dashboard gets in first");
    let wrong: Vec<u16> =
        futures_util::future::join_all((0..8).map(|i| connect(format!("stale-token-{i:08}")))).await;
    assert_eq!(wrong.iter().filter(|&&s| s == 401).count(), 5, "{wrong:?}");
    assert_eq!(wrong.iter().filter(|&&s| s == 429).count(), 3, "{wrong:?}");
    assert_eq!(connect(OPERATOR.into()).await, 101, "a token that got in from here still does");
    assert_eq!(connect(OTHER.into()).await, 429, "one that never did waits, as a guess would");
}

/// Sockets that open and never finish their upgrade, from a few addresses, cannot
/// keep a client out: once every place (64 here) is taken, a newcomer of another
/// address takes a place from the address holding the most, at once, well before the
/// 10 s handshake timeout would free one.
#[tokio::test]
async fn sockets_that_never_finish_their_upgrade_cannot_keep_a_client_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_ami, b) = setup(OPERATOR, &["--max-unauthenticated", "64"]).await;
    let from = |last: u8| connect_from(&b.addr, last);
    let opened = std::time::Instant::now();
    let mut idle = Vec::new();
    for i in 0..64u8 {
        let mut s = from(21 + i / 16).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        idle.push(s);
    }
    let addr = b.addr.clone();
    let mut c = common::poll(
        "a client to get in past 64 stalled upgrades",
        std::time::Duration::from_secs(8),
        || {
            let addr = addr.clone();
            async move {
                let sock = connect_from(&addr, 30).await.ok()?;
                async_tungstenite::tokio::client_async(format!("{addr}/?token={OPERATOR}"), sock)
                    .await
                    .ok()
                    .map(|w| w.0)
            }
        },
    )
    .await;
    let took = opened.elapsed();
    assert!(took < limits_handshake_timeout(), "in {took:?}: a place was made, not waited for");
    ping(&mut c, "in").await;
    // The oldest stalled socket was the one closed.
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), idle[0].read(&mut buf)).await;
    assert!(matches!(n, Ok(Ok(0)) | Ok(Err(_))), "the oldest stalled socket is closed: {n:?}");
}

/// A TCP connection to the bridge at `ws_addr` from loopback address 127.0.0.`last`
/// (the bridge's caps count per address).
async fn connect_from(ws_addr: &str, last: u8) -> std::io::Result<tokio::net::TcpStream> {
    let target: std::net::SocketAddr = ws_addr.trim_start_matches("ws://").parse().unwrap();
    let s = tokio::net::TcpSocket::new_v4()?;
    s.bind(std::net::SocketAddr::from(([127, 0, 0, last], 0)))?;
    s.connect(target).await
}

/// The status of an upgrade: its HTTP refusal, or 101.
fn upgrade_status<T>(r: Result<T, async_tungstenite::tungstenite::Error>) -> u16 {
    match r {
        Err(async_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Ok(_) => 101,
        Err(e) => panic!("{e}"),
    }
}

/// The bridge's handshake timeout (`limits::HANDSHAKE_TIMEOUT`).
fn limits_handshake_timeout() -> std::time::Duration {
    ami_ws_bridge::limits::HANDSHAKE_TIMEOUT
}

/// Item 5: a cap on connections: past it, a socket is closed at once, and the
/// bridge serves again once one leaves.
#[tokio::test]
async fn connections_past_the_cap_are_closed_and_the_bridge_goes_on() {
    use tokio::io::AsyncReadExt;
    let (_ami, b) = setup(OPERATOR, &["--max-clients", "2"]).await;
    let mut a = operator(&b).await;
    let idle = tokio::net::TcpStream::connect(b.addr.trim_start_matches("ws://")).await.unwrap();
    let mut third = tokio::net::TcpStream::connect(b.addr.trim_start_matches("ws://")).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), third.read(&mut buf)).await;
    assert!(matches!(n, Ok(Ok(0)) | Ok(Err(_))), "the third socket is closed at once: {n:?}");
    ping(&mut a, "still").await;
    drop(idle);
    // The idle socket's place comes back when it goes.
    let mut c =
        operator_once_served(&b.addr, "a place for a new client", std::time::Duration::from_secs(10)).await;
    ping(&mut c, "new").await;
}

/// Item 5: one address cannot take every place for sockets still upgrading: past
/// 16, its sockets are closed at once; another address still gets in.
#[tokio::test]
async fn one_address_cannot_fill_the_upgrade_slots() {
    use tokio::io::AsyncReadExt;
    let (_ami, b) = setup(OPERATOR, &[]).await;
    let from = |last: u8| connect_from(&b.addr, last);
    let mut idle = Vec::new();
    for _ in 0..16 {
        idle.push(from(7).await.unwrap());
    }
    let mut one_more = from(7).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), one_more.read(&mut buf)).await;
    assert!(matches!(n, Ok(Ok(0)) | Ok(Err(_))), "the 17th socket of one address is closed at once: {n:?}");
    let other = from(8).await.unwrap();
    let (mut c, _) = async_tungstenite::tokio::client_async(format!("{}/?token={OPERATOR}", b.addr), other)
        .await
        .expect("another address upgrades");
    ping(&mut c, "other").await;
}
