//! The HTTP side: `/` serves the page shell with liveview's glue; `/ws` runs one
//! VirtualDom per browser connection (closed with 1001 when the board stops).

use crate::shutdown::Sockets;
use crate::ui::Props;
use ami_parking_transport::Client;
use axum::extract::WebSocketUpgrade;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use dioxus_liveview::{interpreter_glue, LiveViewPool};
use std::sync::Arc;

/// The board's routes.
pub fn router(client: Client, retrieve_to: String) -> Router {
    router_with(client, retrieve_to, Sockets::new())
}

/// The board's routes, its liveview sockets kept in `sockets` (to close them when
/// the board stops).
pub fn router_with(client: Client, retrieve_to: String, sockets: Sockets) -> Router {
    let pool = Arc::new(LiveViewPool::new());
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Call parking</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body><div id=\"main\"></div>{}</body></html>",
        interpreter_glue("/ws")
    );
    let props = Props { client, retrieve_to };
    Router::new().route("/", get(move || async move { Html(page) })).route(
        "/ws",
        get(move |ws: WebSocketUpgrade| async move {
            ws.on_upgrade(move |socket| async move { sockets.serve(socket, &pool, props).await })
        }),
    )
}
