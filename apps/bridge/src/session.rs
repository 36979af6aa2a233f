//! One WebSocket client: the upgrade (token checked before anything is read), then
//! its actions (decoded, checked, rate-limited, forwarded to the named server or to
//! all, each answer coming back to this client alone with its own ActionID) and its
//! bounded queue of frames.

use crate::hub::{Hub, Outbox};
use crate::policy::{check_action, token_of, RateLimit, HANDSHAKE_TIMEOUT};
use crate::{frames, upstream, Config};
use ami_parking::amiws::FrameType;
use ami_parking::{Action, Message, ParkingError, Reply, Request as AmiRequest, Target};
use ami_parking_transport::BoxIo;
use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::StatusCode;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long a client has to answer the bridge's Close when it stops.
const CLOSE_REPLY: Duration = Duration::from_millis(500);

/// Serves one accepted connection until it closes, or until `stopping` turns true:
/// then it closes the socket with 1001 (going away).
pub(crate) async fn run(
    io: BoxIo,
    peer: std::net::SocketAddr,
    hub: Arc<Hub>,
    cfg: Arc<Config>,
    stopping: watch::Receiver<bool>,
) {
    let Some(ws) = upgrade(io, peer, &cfg).await else { return };
    let (id, out, queue) = hub.join(cfg.queue);
    eprintln!("ami-ws-bridge: client {id} ({peer}) connected; {} connected", hub.clients());
    let (tx, mut rx) = ws.split();
    // Tell the client which servers are up, as amiws does on a (re)login.
    for (i, up) in hub.upstreams.iter().enumerate() {
        if up.logged_in.load(Ordering::Relaxed) {
            hub.send_to(&out, upstream::login_frame(i as u32 + 1, &up.name).into());
        }
    }
    let writer = write_frames(tx, queue, out.clone(), stopping);
    let reader = async {
        let mut limit = RateLimit::new(cfg.rate.0, cfg.rate.1);
        while let Some(Ok(msg)) = rx.next().await {
            let bytes = match msg {
                WsMessage::Text(t) => t.as_bytes().to_vec(),
                WsMessage::Binary(b) => b.to_vec(),
                WsMessage::Close(_) => break,
                _ => continue,
            };
            if let Err(e) = on_action(&hub, &out, &cfg, &mut limit, &bytes) {
                hub.send_to(&out, e.into());
            }
        }
    };
    tokio::pin!(reader);
    let going_away = tokio::select! {
        away = writer => away,
        _ = &mut reader => false,
    };
    if going_away {
        // The client's Close answers ours; then the socket closes cleanly.
        let _ = tokio::time::timeout(CLOSE_REPLY, &mut reader).await;
    }
    hub.leave(id);
    let why = if out.too_slow.load(Ordering::Relaxed) { " (cut off: too slow)" } else { "" };
    eprintln!("ami-ws-bridge: client {id} ({peer}) left{why}; {} connected", hub.clients());
}

/// Writes client frames from `queue` (and a ping every 30 s) to `tx` until the queue
/// ends, the client is cut off as too slow (close 1008), or the bridge stops (close
/// 1001, going away); whether it went away. Every write races the cut.
async fn write_frames<S>(
    mut tx: S,
    mut queue: tokio::sync::mpsc::Receiver<Arc<str>>,
    out: Arc<Outbox>,
    mut stopping: watch::Receiver<bool>,
) -> bool
where
    S: futures_util::Sink<WsMessage> + Unpin,
{
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    let cut = out.cut.clone();
    let cut_off = cut.notified();
    tokio::pin!(cut_off);
    let stop = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    tokio::pin!(stop);
    let mut close =
        CloseFrame { code: CloseCode::Policy, reason: "too slow: the client's queue is full".into() };
    loop {
        // Every write races the cut: a peer that stopped reading blocks the write,
        // and must not keep its session (and its queue) alive.
        let next = tokio::select! {
            f = queue.recv() => match f {
                Some(f) => WsMessage::text(&*f),
                None => return false,
            },
            _ = ping.tick() => WsMessage::Ping(Vec::new().into()),
            _ = &mut cut_off => break,
            _ = &mut stop => {
                close = CloseFrame { code: CloseCode::Away, reason: "the bridge is stopping".into() };
                break;
            }
        };
        tokio::select! {
            r = tx.send(next) => if r.is_err() { return false },
            _ = &mut cut_off => break,
        }
    }
    let away = close.code == CloseCode::Away;
    let _ = tokio::time::timeout(Duration::from_secs(1), tx.send(WsMessage::Close(Some(close)))).await;
    away
}

/// One action frame from the client whose queue is `out`: refused with an error
/// frame, or forwarded (each server's answer, or an error frame, comes back later).
fn on_action(
    hub: &Arc<Hub>,
    out: &Arc<Outbox>,
    cfg: &Config,
    limit: &mut RateLimit,
    bytes: &[u8],
) -> Result<(), String> {
    let (action, server) = ami_parking::amiws::decode_action_frame(bytes)
        .map_err(|e| frames::error(0, None, &format!("unreadable action frame: {e}")))?;
    let theirs = action.get_str("ActionID").map(|a| a.into_owned());
    let refuse = |server: u32, why: &str| frames::error(server, theirs.as_deref(), why);
    if !limit.take(Instant::now()) {
        return Err(refuse(
            0,
            &format!("rate limit: at most {} actions a second (bursts of {})", cfg.rate.0, cfg.rate.1),
        ));
    }
    check_action(&cfg.allow, &action).map_err(|why| refuse(server.unwrap_or(0), &why))?;
    let n = hub.upstreams.len() as u32;
    let targets: Vec<u32> = match server {
        Some(s) if s >= 1 && s <= n => vec![s],
        Some(s) => {
            return Err(refuse(s, &format!("unknown AMIServerID {s}: this bridge has servers 1 to {n}")))
        }
        None => (1..=n).collect(),
    };
    // The client's ActionID stays here: the link sends the action under its own.
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    let mut up = Action::new(action.get_str("Action").unwrap_or_default());
    for (k, v) in action.iter() {
        if !k.eq_ignore_ascii_case(b"Action") && !k.eq_ignore_ascii_case(b"ActionID") {
            up.push(text(k), text(v));
        }
    }
    for s in targets {
        let u = &hub.upstreams[(s - 1) as usize];
        let sent = if u.logged_in.load(Ordering::Relaxed) {
            hub.client.try_request(AmiRequest::Forward(up.clone()), Target::Server(s))
        } else {
            Err(ParkingError::NotLoggedIn { action: up.name().to_owned() })
        };
        match sent {
            Ok(answer) => {
                tokio::spawn(pass_back(hub.clone(), out.clone(), s, theirs.clone(), answer));
            }
            Err(e) => hub.send_to(out, refuse(s, &upstream::error_text(s, &u.name, &e)).into()),
        }
    }
    Ok(())
}

/// Server `server`'s answer to a client's action, to that client alone: each message
/// with the client's own ActionID (none when it gave none), or an error frame.
async fn pass_back(
    hub: Arc<Hub>,
    out: Arc<Outbox>,
    server: u32,
    theirs: Option<String>,
    answer: impl Future<Output = Result<Reply, ParkingError>>,
) {
    let name = &hub.upstreams[(server - 1) as usize].name;
    let messages = match answer.await {
        Ok(Reply::Forwarded(messages)) => messages,
        Ok(other) => {
            let e = ParkingError::UnexpectedReply { reply: format!("{other:?}") };
            return hub.send_to(
                &out,
                frames::error(server, theirs.as_deref(), &upstream::error_text(server, name, &e)).into(),
            );
        }
        Err(e) => {
            let text = upstream::error_text(server, name, &e);
            return hub.send_to(&out, frames::error(server, theirs.as_deref(), &text).into());
        }
    };
    for m in messages {
        let m = with_action_id(&m, theirs.as_deref());
        hub.send_to(&out, frames::frame(FrameType::of(&m), server, name, &m).into());
    }
}

/// `m` with `action_id` after its first header (`Response` or `Event`), as Asterisk
/// places it near the top.
fn with_action_id(m: &Message, action_id: Option<&str>) -> Message {
    let Some(id) = action_id else { return m.clone() };
    let mut out = Message::with_capacity(m.len() + 1, m.heap_bytes() + id.len() + 8);
    for (i, (k, v)) in m.iter().enumerate() {
        out.push(k, v);
        if i == 0 {
            out.push(b"ActionID", id.as_bytes());
        }
    }
    if m.is_empty() {
        out.push(b"ActionID", id.as_bytes());
    }
    out
}

/// The WebSocket upgrade, the token checked before anything else is read; `None`
/// when refused, failed or too slow.
async fn upgrade(
    io: BoxIo,
    peer: std::net::SocketAddr,
    cfg: &Arc<Config>,
) -> Option<async_tungstenite::WebSocketStream<async_tungstenite::tokio::TokioAdapter<BoxIo>>> {
    // The signature is tungstenite's handshake callback.
    #[allow(clippy::result_large_err)]
    let check = {
        let cfg = cfg.clone();
        move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            if cfg.no_auth {
                return Ok(resp);
            }
            let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
            match token_of(auth, req.uri().query()) {
                Some(t) if cfg.tokens.accepts(&t) => Ok(resp),
                given => {
                    let why = if given.is_none() {
                        "a token is required (Authorization: Bearer T, or ?token=T)"
                    } else {
                        "the token is not accepted"
                    };
                    let mut e = ErrorResponse::new(Some(why.to_owned()));
                    *e.status_mut() = StatusCode::UNAUTHORIZED;
                    Err(e)
                }
            }
        }
    };
    let mut ws_cfg = WebSocketConfig::default();
    ws_cfg.max_message_size = Some(64 * 1024);
    ws_cfg.max_frame_size = Some(64 * 1024);
    match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        async_tungstenite::tokio::accept_hdr_async_with_config(io, check, Some(ws_cfg)),
    )
    .await
    {
        Ok(Ok(ws)) => Some(ws),
        Ok(Err(e)) => {
            eprintln!("ami-ws-bridge: {peer}: upgrade refused or failed: {e}");
            None
        }
        Err(_) => None,
    }
}
