//! The HTTP side: `/` serves the page shell with liveview's glue; `/ws` runs one
//! VirtualDom per browser connection.

use crate::ui::{board, Props};
use axum::extract::WebSocketUpgrade;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use dioxus_liveview::{axum_socket, interpreter_glue, LiveViewPool};
use std::sync::Arc;

/// The board's routes.
pub fn router(client: ami_parking_transport::Client, retrieve_to: String) -> Router {
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
            ws.on_upgrade(move |socket| async move {
                let _ = pool.launch_with_props(axum_socket(socket), board, props).await;
            })
        }),
    )
}
