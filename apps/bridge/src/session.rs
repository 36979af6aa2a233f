//! One WebSocket client: the upgrade (origin, throttle and token checked before
//! anything is read), then its actions (checked by `policy`, rate-limited per token,
//! forwarded to the named server or to all, each answer coming back to this client
//! alone with its own ActionID, list items of other lots left out) and its bounded
//! queue of frames.

use crate::frames::{self, Source};
use crate::hub::{self, Hub, Outbox};
use crate::limits::{address_key, Limits, Principal, UpgradingPlace, HANDSHAKE_TIMEOUT};
use crate::origin::{self, Origins};
use crate::policy::admit;
use crate::refusal::Refusal;
use crate::tokens::{token_of, Grant};
use crate::{upstream, web, Config};
use ami_parking::amiws::FrameType;
use ami_parking::ParkingClient;
use ami_parking::{Message, ParkingError, Reply, Request as AmiRequest, Target};
use ami_parking_transport::admission::PlaceTicket;
use ami_parking_transport::BoxIo;
use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::StatusCode;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// What every session shares: the configuration, the limits, the origin rules.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) cfg: Config,
    pub(crate) limits: Limits,
    pub(crate) origins: Origins,
}

impl Context {
    /// For a bridge listening on `local`.
    pub(crate) fn new(cfg: Config, local: std::net::SocketAddr) -> Self {
        let origins = Origins {
            allowed: cfg.allow_origins.clone(),
            loopback_listener: local.ip().is_loopback(),
            own_origin: cfg.web_root.is_some(),
            no_auth: cfg.no_auth,
        };
        Context { limits: Limits::new(cfg.rate.0, cfg.rate.1), origins, cfg }
    }
}

/// How long a client has to answer the bridge's Close when it stops.
const CLOSE_REPLY: Duration = Duration::from_millis(500);

/// Serves one accepted connection until it closes, or until `stopping` turns true:
/// then it closes the socket with 1001 (going away).
/// `upgrading` is the socket's place among those still upgrading (of all, and of
/// its address), given back once the upgrade is done; a socket whose place a newcomer
/// took (every place was taken, and its address held the most) closes.
pub(crate) async fn run(
    io: BoxIo,
    peer: std::net::SocketAddr,
    hub: Arc<Hub>,
    ctx: Arc<Context>,
    stopping: watch::Receiver<bool>,
    upgrading: (PlaceTicket, UpgradingPlace),
) {
    let handshake = async {
        let io = match &ctx.cfg.web_root {
            None => io,
            Some(root) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, web::route(io, root)).await {
                Ok(Ok(web::Request::Upgrade(io))) => io,
                _ => return None,
            },
        };
        upgrade(io, peer, &ctx).await
    };
    let upgraded = tokio::select! {
        u = handshake => u,
        _ = upgrading.0.taken() => None,
    };
    let Some((mut ws, grant)) = upgraded else { return };
    drop(upgrading);
    let principal =
        if ctx.cfg.no_auth { Principal::Address(peer.ip()) } else { Principal::Token(grant.principal) };
    // One token (one address without tokens) keeps at most so many sockets: the
    // newest past the cap is closed with 1008 and a reason the client can show.
    let Some(_seat) = ctx.limits.connected.enter(principal, ctx.cfg.max_per_token) else {
        crate::limits::log_refusal(&format!(
            "{peer}: refused: its token already has {} sockets (--max-clients-per-token)",
            ctx.cfg.max_per_token
        ));
        let reason = format!("too many sockets for this token (at most {})", ctx.cfg.max_per_token);
        let close = CloseFrame { code: CloseCode::Policy, reason: reason.into() };
        let _ = tokio::time::timeout(CLOSE_REPLY, ws.close(Some(close))).await;
        return;
    };
    let bucket = ctx.limits.actions.of(principal);
    let (id, out, queue) = hub.join(ctx.cfg.queue, grant);
    eprintln!("ami-ws-bridge: client {id} ({peer}) connected; {} connected", hub.clients());
    let (tx, mut rx) = ws.split();
    // Tell the client which servers are up, as amiws does on a (re)login.
    for up in &hub.upstreams {
        if up.logged_in.load(Ordering::Relaxed) {
            hub.send_to(&out, upstream::login_frame(&up.source).into());
        }
    }
    let writer = write_frames(tx, queue, out.clone(), stopping);
    let reader = async {
        while let Some(Ok(msg)) = rx.next().await {
            let bytes = match msg {
                WsMessage::Text(t) => t.as_bytes().to_vec(),
                WsMessage::Binary(b) => b.to_vec(),
                WsMessage::Close(_) => break,
                _ => continue,
            };
            let allowed = bucket.lock().unwrap_or_else(|e| e.into_inner()).take(std::time::Instant::now());
            if let Err(e) = on_action(&hub, &out, &ctx.cfg, allowed, &bytes) {
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
                Some(f) => {
                    Hub::taken(&out, &f);
                    WsMessage::text(&*f)
                }
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

/// One action frame from the client whose queue is `out` (`allowed`: within its
/// rate): refused with an error frame, or forwarded (each server's answer, or an
/// error frame, comes back later).
fn on_action(
    hub: &Arc<Hub>,
    out: &Arc<Outbox>,
    cfg: &Config,
    allowed: bool,
    bytes: &[u8],
) -> Result<(), String> {
    let n = hub.upstreams.len() as u32;
    let source = |server: Option<u32>| server.map_or_else(Source::bridge, |s| hub.source(s).clone());
    let refused = |r: Refusal| frames::error(&source(r.server), r.action_id.as_deref(), &r.why.to_string());
    let admitted = admit(bytes, &cfg.rules, &out.grant, n).map_err(refused)?;
    let theirs = admitted.action_id;
    if out.grant.lots.is_some() && admitted.action.name().eq_ignore_ascii_case("Park") {
        // Asterisk parks a parked channel again as a move, from whatever lot: a token
        // scoped to some lots may not pull a call out of another.
        let channel = admitted.action.as_message().get_str("Channel").unwrap_or_default().to_string();
        if hub.client.store().is_channel_parked_now(admitted.server, &channel) {
            let why = "Park of a channel that is parked already: a token scoped to lots cannot move calls";
            return Err(frames::error(&source(admitted.server), theirs.as_deref(), why));
        }
    }
    if !allowed {
        let why = format!("rate limit: at most {} actions a second (bursts of {})", cfg.rate.0, cfg.rate.1);
        return Err(frames::error(&source(admitted.server), theirs.as_deref(), &why));
    }
    let targets: Vec<u32> = match admitted.server {
        Some(s) => vec![s],
        None => (1..=n).collect(),
    };
    // The client's ActionID stays here: the link sends the action under its own.
    let up = admitted.action;
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
            Err(e) => hub.send_to(
                out,
                frames::error(&u.source, theirs.as_deref(), &upstream::error_text(&u.source, &e)).into(),
            ),
        }
    }
    Ok(())
}

/// Server `server`'s answer to a client's action, to that client alone: each message
/// with the client's own ActionID (none when it gave none), or an error frame; list
/// items of lots the client's token does not see are left out.
async fn pass_back(
    hub: Arc<Hub>,
    out: Arc<Outbox>,
    server: u32,
    theirs: Option<String>,
    answer: impl Future<Output = Result<Reply, ParkingError>>,
) {
    let source = hub.source(server);
    let messages = match answer.await {
        Ok(Reply::Forwarded(messages)) => messages,
        Ok(other) => {
            let e = ParkingError::UnexpectedReply { reply: other.to_string() };
            let text = upstream::error_text(source, &e);
            return hub.send_to(&out, frames::error(source, theirs.as_deref(), &text).into());
        }
        Err(e) => {
            let text = upstream::error_text(source, &e);
            return hub.send_to(&out, frames::error(source, theirs.as_deref(), &text).into());
        }
    };
    let mut left_out = 0usize;
    for m in messages {
        if hub::lot_of(&m).is_some_and(|l| !out.grant.sees_lot(&l)) {
            left_out += 1;
            continue;
        }
        // The list's end counts what this client got, not what Asterisk listed (nor
        // how many calls other lots hold).
        let mut m = m;
        for key in ["ListItems", "Total"] {
            if let Some(n) = m.get_str(key).and_then(|n| n.parse::<usize>().ok()).filter(|_| left_out > 0) {
                m = with_header(&m, key.as_bytes(), n.saturating_sub(left_out).to_string().as_bytes());
            }
        }
        let m = with_action_id(&m, theirs.as_deref());
        hub.send_to(&out, frames::frame(FrameType::of(&m), source, &m).into());
    }
}

/// `m` with the value of `key` replaced by `value`.
fn with_header(m: &Message, key: &[u8], value: &[u8]) -> Message {
    let mut out = Message::with_capacity(m.len(), m.heap_bytes() + value.len());
    for (k, v) in m.iter() {
        out.push(k, if k.eq_ignore_ascii_case(key) { value } else { v });
    }
    out
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

/// The WebSocket upgrade: the origin, the address's failed attempts and the token
/// checked before anything else is read; the client's grant, or `None` when
/// refused, failed or too slow.
async fn upgrade(
    io: BoxIo,
    peer: std::net::SocketAddr,
    ctx: &Arc<Context>,
) -> Option<(async_tungstenite::WebSocketStream<async_tungstenite::tokio::TokioAdapter<BoxIo>>, Arc<Grant>)> {
    let granted: Arc<Mutex<Option<Arc<Grant>>>> = Arc::default();
    // The signature is tungstenite's handshake callback.
    #[allow(clippy::result_large_err)]
    let check = {
        let (ctx, granted) = (ctx.clone(), granted.clone());
        move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            let refuse = |status: StatusCode, why: String| {
                let mut e = ErrorResponse::new(Some(why));
                *e.status_mut() = status;
                e
            };
            let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
            origin::check(&ctx.origins, header("origin"), header("host"))
                .map_err(|why| refuse(StatusCode::FORBIDDEN, why))?;
            let grant = if ctx.cfg.no_auth {
                Arc::new(Grant::operator(usize::MAX))
            } else {
                let (failures, known) = (&ctx.limits.failures, &ctx.limits.known);
                let address = address_key(peer.ip());
                let too_many = || {
                    let why = "too many wrong tokens from this address: try again later";
                    refuse(StatusCode::TOO_MANY_REQUESTS, why.into())
                };
                let Some(t) = token_of(header("authorization"), req.uri().query()) else {
                    let why = "a token is required (Authorization: Bearer T, or ?token=T)";
                    return Err(refuse(StatusCode::UNAUTHORIZED, why.into()));
                };
                let grant = ctx.cfg.tokens.grant(&t);
                match grant {
                    // A token that got in from this address before is let in past
                    // its budget of wrong tokens (see `KnownTokens`).
                    Some(g) if known.knows(address, g.principal) => {
                        known.note(address, g.principal);
                        g
                    }
                    // Any other is a guess until judged: it takes from the budget
                    // first, in one step (found by a test: handshakes on two threads
                    // both saw a token left, and six wrong tokens of eight were
                    // judged where the budget is five), and a right one gives back.
                    _ if !failures.take(address) => return Err(too_many()),
                    Some(g) => {
                        failures.give_back(address);
                        known.note(address, g.principal);
                        g
                    }
                    None => return Err(refuse(StatusCode::UNAUTHORIZED, "the token is not accepted".into())),
                }
            };
            *granted.lock().unwrap_or_else(|e| e.into_inner()) = Some(grant);
            Ok(resp)
        }
    };
    let mut ws_cfg = WebSocketConfig::default();
    ws_cfg.max_message_size = Some(64 * 1024);
    ws_cfg.max_frame_size = Some(64 * 1024);
    // Small buffers: an idle client costs little (the defaults are 128 KiB each).
    ws_cfg.read_buffer_size = 4 * 1024;
    ws_cfg.write_buffer_size = 0;
    // What a client that does not read may leave unsent: the largest frame out
    // (`MAX_FRAME_BYTES`: a frame bigger than the buffer could never be sent) and
    // some. Past it the pongs it is owed are not queued, tungstenite keeps the last
    // (found by the review: a ping flood from a client that never read grew the
    // bridge by 470 MB, outside the queue's bound).
    ws_cfg.max_write_buffer_size = hub::MAX_FRAME_BYTES + (64 << 10);
    match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        async_tungstenite::tokio::accept_hdr_async_with_config(io, check, Some(ws_cfg)),
    )
    .await
    {
        Ok(Ok(ws)) => {
            let grant = granted.lock().unwrap_or_else(|e| e.into_inner()).take()?;
            Some((ws, grant))
        }
        Ok(Err(e)) => {
            crate::limits::log_refusal(&format!("{peer}: upgrade refused or failed: {e}"));
            None
        }
        Err(_) => None,
    }
}
