//! The HTTP side: the routes, and who may reach them. `/` serves the page shell
//! (after the session check), `/ws` runs one live page per browser for the user of
//! its session, `/login` and `/logout` keep sessions, `/healthz` answers load
//! balancers, and the [`guard`](crate::guard) checks Host and Origin on all of them.

use crate::assets;
use crate::desk::Desk;
use crate::guard::guard;
use crate::login;
use crate::state::{Board, MAX_VIEWERS, VIEWERS_PER_USER};
use crate::ui::Props;
use ami_parking::ConnectionState;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub use crate::limits::MAX_BODY;

/// The board's routes, behind its Host and Origin guard.
pub fn router(board: Board) -> Router {
    let access = board.access.clone();
    Router::new()
        .route("/", get(index))
        .route("/ws", get(live_socket))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/healthz", get(health))
        .route("/history", get(crate::history_page::page))
        .route("/history.csv", get(crate::history_page::csv))
        .route("/board.css", get(assets::css))
        .route("/glue.js", get(assets::glue))
        .route("/board.js", get(assets::board_js))
        .layer(axum::middleware::from_fn_with_state(access, guard))
        // The board's forms are a login and a logout: a body larger than this is
        // refused before it is read (axum's default, 2 MB held per request, let stalled
        // uploads grow the board by hundreds of MB).
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(board)
}

async fn index(State(board): State<Board>, headers: HeaderMap) -> Response {
    match board.who(&headers) {
        Some(_) => assets::page().into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

/// The most bytes queued for one browser that is not reading: above the write buffer
/// plus the largest frame a page sends (the demo board's first render is 10 KiB).
/// Pongs past it are not queued, and a page edit that finds it full drops the socket
/// at once (only a client that sends much and reads nothing gets there: a page's
/// edits are a few KiB a second). An edit queued before it filled waits for the
/// browser at most [`WRITE_STALL`](crate::shutdown::WRITE_STALL), as any frame.
pub const WRITE_MAX: usize = 512 * 1024;

async fn live_socket(State(board): State<Board>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    if let Err(why) = board.access.origin_of(&headers) {
        board.metrics.refused();
        tracing::warn!(why, "refused a live socket");
        return (StatusCode::FORBIDDEN, format!("refused: {why}\n")).into_response();
    }
    let Some((who, session, until)) = board.who(&headers) else {
        board.metrics.refused();
        return (StatusCode::UNAUTHORIZED, "log in first: /login\n").into_response();
    };
    let Some(seat) = board.sockets.seat(&who.name, MAX_VIEWERS, VIEWERS_PER_USER) else {
        board.metrics.refused();
        return (StatusCode::SERVICE_UNAVAILABLE, "too many open boards: close a tab and reload\n")
            .into_response();
    };
    let link = who.role == crate::users::Role::Operator || board.history_viewers;
    let desk =
        Desk::new(board.client.clone(), who, session.clone(), board.audit.clone(), board.metrics.clone())
            .with_history(board.history.clone(), link)
            .with_rates(board.rates.clone());
    let props = Props { desk, retrieve_to: board.retrieve_to.clone() };
    let (pool, sockets, metrics) = (board.pool(), board.sockets.clone(), board.metrics.clone());
    // Small buffers: a page sends clicks and pings, and is sent small edits (the 128 KiB
    // defaults made each open page cost more; `cargo bench -p parkboard --bench viewer_cost`).
    ws.max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        // A client that sends pings but never reads would otherwise grow the pongs
        // queued for it without end; past this they are not queued.
        .max_write_buffer_size(WRITE_MAX)
        .on_upgrade(move |socket| async move {
            metrics.viewer(true);
            sockets.serve(socket, &pool, props, session, until, seat).await;
            metrics.viewer(false);
        })
}

async fn health(State(board): State<Board>) -> Response {
    let links = board.client.links_now();
    let up = links.iter().all(|(_, s)| *s == ConnectionState::LoggedIn);
    let servers: Vec<_> = links
        .iter()
        .enumerate()
        .map(|(i, (_, s))| serde_json::json!({ "link": i + 1, "state": state_name(s) }))
        .collect();
    let body = serde_json::json!({ "status": if up { "ok" } else { "degraded" }, "servers": servers });
    let code = if up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn state_name(s: &ConnectionState) -> &'static str {
    match s {
        ConnectionState::LoggedIn => "logged in",
        ConnectionState::Connecting => "connecting",
        ConnectionState::LoggingIn => "logging in",
        ConnectionState::Reconnecting { .. } => "reconnecting",
        ConnectionState::Disconnected => "disconnected",
        ConnectionState::Stopped => "stopped",
    }
}
