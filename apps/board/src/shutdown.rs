//! Graceful shutdown: when told to stop (SIGTERM or ctrl-c: see
//! [`shutdown_signal`](ami_parking_transport::shutdown_signal)) the board stops
//! accepting, closes every liveview socket with a Close frame (1001, going away), logs
//! off every server and returns. The steps run side by side, each bounded by
//! [`STEP`], so a stuck browser or server cannot hold the exit.

use crate::desk::SessionRef;
use crate::page_socket::PageSocket;
use crate::peer::Peer;
use crate::shared_page::{SharedPages, Watching};
use crate::ui::{board, Props};
use ami_parking_transport::Client;
use axum::extract::connect_info::Connected;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use axum::serve::{IncomingStream, Listener};
use axum::Router;
use dioxus_liveview::LiveViewPool;
use futures_channel::mpsc;
use futures_util::future::Either;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long each step of the shutdown may take.
pub const STEP: Duration = Duration::from_secs(1);

/// How long a browser has to answer the board's Close.
const CLOSE_REPLY: Duration = Duration::from_millis(500);

/// Messages queued each way between a browser's socket and its page.
const QUEUE: usize = 64;

/// The board's liveview sockets: each serves one page until the browser leaves or
/// [`close_all`](Sockets::close_all) closes them.
#[derive(Clone, Debug)]
pub struct Sockets {
    stop: Arc<watch::Sender<bool>>,
    open: Arc<Mutex<HashMap<String, usize>>>,
    /// Viewers' pages, one render for each viewer's screens.
    shared: SharedPages,
}

/// One open page's place, counted per user until it is dropped.
#[derive(Debug)]
pub struct Seat {
    open: Arc<Mutex<HashMap<String, usize>>>,
    user: String,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// How often an open page checks that its session is still live.
const SESSION_CHECK: Duration = Duration::from_secs(5);

impl Default for Sockets {
    fn default() -> Self {
        Self::new()
    }
}

impl Sockets {
    /// No socket yet.
    pub fn new() -> Self {
        Sockets {
            stop: Arc::new(watch::channel(false).0),
            open: Arc::default(),
            shared: SharedPages::default(),
        }
    }

    /// A place for one more page of `user`: `None` when `total` pages are open, or
    /// `per_user` of theirs.
    pub fn seat(&self, user: &str, total: usize, per_user: usize) -> Option<Seat> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let all: usize = open.values().sum();
        let theirs = open.get(user).copied().unwrap_or(0);
        if all >= total || theirs >= per_user {
            return None;
        }
        *open.entry(user.to_string()).or_default() += 1;
        Some(Seat { open: self.open.clone(), user: user.to_string() })
    }

    /// Pages open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).values().sum()
    }

    /// Renders of viewers' pages running now (each serves one viewer's open pages).
    pub fn shared_renders(&self) -> usize {
        self.shared.running()
    }

    /// Serves the board over `socket` (run by `pool`) until the browser leaves, the
    /// page ends, its session ends (Close 1008) or [`close_all`](Sockets::close_all)
    /// (Close 1001). An operator's page is a render of its own; a viewer's is their
    /// shared render ([`crate::shared_page`]).
    pub(crate) async fn serve(
        &self,
        socket: WebSocket,
        pool: &Arc<LiveViewPool>,
        props: Props,
        session: Option<SessionRef>,
        until: Option<Instant>,
        seat: Seat,
    ) {
        let _seat = seat;
        let mut stopping = self.stop.subscribe();
        let (mut sink, mut stream) = socket.split();
        let stopped = {
            let live = if props.desk.acts() {
                Either::Left(own_page(&mut sink, &mut stream, pool, props))
            } else {
                let watching = self.shared.watch(pool, props);
                Either::Right(shared_page(&mut sink, &mut stream, watching))
            };
            let stop = async {
                let _ = stopping.wait_for(|s| *s).await;
            };
            let session_over = async {
                match (&session, until) {
                    (Some(s), Some(until)) => loop {
                        let next = (Instant::now() + SESSION_CHECK).min(until);
                        tokio::time::sleep_until(next.into()).await;
                        if !s.sessions.is_live(&s.token) {
                            break;
                        }
                    },
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                close = live => close,
                _ = stop => Some(CloseFrame { code: close_code::AWAY, reason: "the board is stopping".into() }),
                _ = session_over => Some(CloseFrame { code: close_code::POLICY, reason: "the session has ended: log in again".into() }),
            }
        };
        // The page's input has ended with the socket's: it stops too.
        if let Some(close) = stopped {
            let bye = async {
                if sink.send(Message::Close(Some(close))).await.is_ok() {
                    // The browser's Close answers ours; then the socket closes cleanly.
                    while let Some(Ok(m)) = stream.next().await {
                        if let Message::Close(_) = m {
                            break;
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(CLOSE_REPLY, bye).await;
        }
    }

    /// Closes every socket with 1001 (going away) and waits until all are gone, at
    /// most `within`; whether they all went in time.
    pub async fn close_all(&self, within: Duration) -> bool {
        self.stop.send_replace(true);
        tokio::time::timeout(within, self.stop.closed()).await.is_ok()
    }
}

/// Serves `app` on `listener` until `stop` resolves; then stops accepting, closes
/// every socket of `sockets` and logs off `client`'s servers, side by side, each within
/// [`STEP`].
pub async fn serve<L>(
    listener: L,
    app: Router,
    sockets: Sockets,
    client: Client,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
    Peer: for<'a> Connected<IncomingStream<'a, L>>,
{
    let (stop_accepting, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server = axum::serve(listener, app.into_make_service_with_connect_info::<Peer>())
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .into_future();
    tokio::select! {
        r = &mut server => return r,
        _ = stop => {}
    }
    let _ = stop_accepting.send(());
    let drain = async {
        if tokio::time::timeout(STEP, &mut server).await.is_err() {
            tracing::warn!("some HTTP connections did not end within {STEP:?}");
        }
    };
    let close = async {
        if !sockets.close_all(STEP).await {
            tracing::warn!("some browsers did not close within {STEP:?}");
        }
    };
    let log_off = async {
        if !client.shutdown_within(STEP).await {
            tracing::warn!("a server did not take the Logoff within {STEP:?}");
        }
    };
    tokio::join!(drain, close, log_off);
    Ok(())
}

type ToBrowser = SplitSink<WebSocket, Message>;
type FromBrowser = SplitStream<WebSocket>;

/// A page of its own for this browser, until one of them ends (nothing to close then,
/// but a browser that stopped taking frames: 1013).
async fn own_page(
    sink: &mut ToBrowser,
    stream: &mut FromBrowser,
    pool: &LiveViewPool,
    props: Props,
) -> Option<CloseFrame> {
    let (to_page, from_browser) = mpsc::channel::<Vec<u8>>(QUEUE);
    let (to_browser, mut from_page) = mpsc::channel::<Vec<u8>>(QUEUE);
    let page = pool.launch_with_props(PageSocket { from_browser, to_browser }, board, props);
    let up = async {
        let mut to_page = to_page;
        while let Some(Ok(m)) = stream.next().await {
            let text = match m {
                // Only what the page's script sends: its events and pings
                // (the board runs no query, and a forged answer to one
                // panics liveview's page task).
                Message::Text(t) if page_message(t.as_str()) => t.as_str().as_bytes().to_vec(),
                Message::Text(_) => continue,
                Message::Close(_) => break,
                _ => continue,
            };
            if to_page.send(text).await.is_err() {
                break;
            }
        }
    };
    let down = async {
        while let Some(edits) = from_page.next().await {
            send_within(sink, Message::Binary(edits.into())).await?;
        }
        Ok(())
    };
    tokio::select! {
        _ = page => None,
        _ = up => None,
        sent = down => sent.err().flatten(),
    }
}

/// A viewer's shared render for this browser: the edits so far, then each new one.
/// The browser's events are not read (a viewer's page has no control); its pings are
/// answered here. Closes with 1013 (try again later) when the browser fell behind.
/// Either page is closed with 1013 when its browser stops taking frames
/// ([`WRITE_STALL`]).
async fn shared_page(
    sink: &mut ToBrowser,
    stream: &mut FromBrowser,
    watching: Watching,
) -> Option<CloseFrame> {
    let Watching { _render, so_far, mut next } = watching;
    let (pong, mut pongs) = mpsc::channel::<()>(1);
    let up = async {
        let mut pong = pong;
        while let Some(Ok(m)) = stream.next().await {
            match m {
                Message::Text(t) if t.as_str() == "__ping__" => {
                    // A ping while one is unanswered needs no second answer.
                    let _ = pong.try_send(());
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    };
    let down = async {
        for edits in so_far {
            send_within(sink, Message::Binary(edits)).await?;
        }
        loop {
            let frame = tokio::select! {
                edits = next.next() => match edits {
                    Some(edits) => edits,
                    None => return Err::<(), _>(Some(behind())),
                },
                Some(()) = pongs.next() => PONG.clone(),
            };
            send_within(sink, Message::Binary(frame)).await?;
        }
    };
    tokio::select! {
        _ = up => None,
        sent = down => sent.err().flatten(),
    }
}

/// How long one frame may wait for the browser to take it. A browser that stopped
/// reading (asleep, gone without a FIN, or hostile) is closed then, and frees its
/// page's seat (and a viewer's render).
pub const WRITE_STALL: Duration = Duration::from_secs(15);

/// Sends `frame` to the browser: `Err(None)` when the socket failed, `Err(Some(close))`
/// when the browser took nothing for [`WRITE_STALL`].
async fn send_within(sink: &mut ToBrowser, frame: Message) -> Result<(), Option<CloseFrame>> {
    match tokio::time::timeout(WRITE_STALL, sink.send(frame)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(None),
        Err(_) => Err(Some(behind())),
    }
}

/// The Close for a page that fell behind or whose render stopped (1013: try again later).
fn behind() -> CloseFrame {
    CloseFrame { code: close_code::AGAIN, reason: "the page fell behind or stopped: reload it".into() }
}

/// Liveview's answer to a ping: a text frame (first byte 0).
static PONG: axum::body::Bytes = axum::body::Bytes::from_static(b"\0__pong__");

/// Whether a text frame from the browser is one the page's script sends: a ping, or
/// a user event.
fn page_message(text: &str) -> bool {
    text == "__ping__"
        || serde_json::from_str::<serde_json::Value>(text)
            .is_ok_and(|v| v.get("method").and_then(|m| m.as_str()) == Some("user_event"))
}
