//! A Dioxus app (liveview: rendered on the server, no wasm): the embedded demo PBX,
//! its default lot as a grid and every lot in a dashboard, on http://127.0.0.1:8090.
//!
//! ```sh
//! cargo run -p ami-parking-dioxus --features components --example liveview
//! ```
//! Give `AMI_URL=tcp://user:secret@host:5038` to watch a real Asterisk instead.

use ami_parking::LotKey;
use ami_parking_dioxus::components::{ParkingDashboard, ParkingLotGrid, ParkingStyles, TimeoutWarnings};
use ami_parking_dioxus::use_ami_parking;
use ami_parking_transport::{demo::DemoPbx, Client, ClientOptions};
use axum::{extract::WebSocketUpgrade, response::Html, routing::get, Router};
use dioxus::prelude::*;
use dioxus_liveview::{axum_socket, interpreter_glue, LiveViewPool};
use std::sync::Arc;

fn app(client: Client) -> Element {
    let parking = use_ami_parking(|| client.clone());
    rsx! {
        ParkingStyles {}
        TimeoutWarnings { parking }
        ParkingLotGrid { parking, lot: LotKey::new(1, "default"), retrieve_to: "PJSIP/1002" }
        ParkingDashboard { parking, retrieve_to: "PJSIP/1002" }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_demo, url) = match std::env::var("AMI_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let pbx = DemoPbx::start(30.0).await?;
            let url = pbx.url();
            (Some(pbx), url)
        }
    };
    let client = Client::connect(ClientOptions::new(url.parse()?));
    let pool = Arc::new(LiveViewPool::new());
    let page = format!(
        "<!DOCTYPE html><html><head><title>Parking</title></head><body><div id=\"main\"></div>{}</body></html>",
        interpreter_glue("/ws")
    );
    let router = Router::new().route("/", get(move || async move { Html(page) })).route(
        "/ws",
        get(move |ws: WebSocketUpgrade| async move {
            ws.on_upgrade(move |socket| async move {
                let _ = pool.launch_with_props(axum_socket(socket), app, client).await;
            })
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await?;
    println!("parking board on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}
