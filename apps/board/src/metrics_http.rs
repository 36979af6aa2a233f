//! The metrics endpoint: `GET /metrics` on its own address (`metrics_listen`), so
//! it can stay on loopback or a management network while the page is elsewhere.

use crate::state::Board;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Connections the metrics address holds at most: a scraper needs one or two. Past
/// it, the one that has waited longest for its request head is cut (found by a
/// review: 300 unfinished requests stayed open there, uncapped, without a deadline,
/// each holding one of the board's file descriptors).
pub const METRICS_CONNECTIONS: usize = 16;

/// Serves `/metrics` on `listener` until the process ends, behind the board's caps
/// ([`crate::limits::Capped`]: at most [`METRICS_CONNECTIONS`], and its deadlines).
pub async fn serve(listener: tokio::net::TcpListener, board: Board) {
    let app = Router::new().route("/metrics", get(metrics)).with_state(board);
    let listener = crate::limits::Capped::with_max(listener, METRICS_CONNECTIONS);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("the metrics endpoint stopped: {e}");
    }
}

async fn metrics(State(board): State<Board>) -> impl IntoResponse {
    let text = board.metrics.render(&board.client, board.sessions.len(), board.sockets.shared_renders());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
