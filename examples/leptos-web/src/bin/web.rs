//! A Leptos web app (client side, wasm32): the browser connects to amiws or
//! `ami-ws-bridge` itself, and shows the default lot as a grid and every lot in a
//! dashboard. Build and serve:
//!
//! ```sh
//! cargo build -p leptos-web-example --bin web --target wasm32-unknown-unknown --release
//! wasm-bindgen --target web --out-dir pkg target/wasm32-unknown-unknown/release/web.wasm
//! # index.html: <script type="module">import init from './pkg/web.js'; init();</script>
//! ```
//!
//! The WebSocket URL is the page's `#` fragment (`index.html#ws://127.0.0.1:8088/?token=T`),
//! else `ws://127.0.0.1:8088/`.

// The allocator of every binary here (the package's library).
#[cfg(target_arch = "wasm32")]
extern crate leptos_web_example;

#[cfg(target_arch = "wasm32")]
fn main() {
    use ami_parking::{LotKey, ParkingStore};
    use ami_parking_leptos::components::{ParkingDashboard, ParkingLotGrid, ParkingStyles, TimeoutWarnings};
    use ami_parking_leptos::use_ami_parking;
    use ami_parking_web::WebClient;
    use leptos::prelude::*;

    let hash = window().location().hash().unwrap_or_default();
    let url = hash.strip_prefix('#').filter(|u| !u.is_empty()).unwrap_or("ws://127.0.0.1:8088/").to_owned();
    mount_to_body(move || {
        let parking = use_ami_parking(WebClient::connect(&url, ParkingStore::default()));
        view! {
            <ParkingStyles />
            <p class="connection" role="status">{move || parking.connection_state.get().to_string()}</p>
            <TimeoutWarnings parking />
            <ParkingLotGrid parking lot=LotKey::new(1, "default") retrieve_to="PJSIP/1002" />
            <ParkingDashboard parking retrieve_to="PJSIP/1002" />
        }
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("this example runs in a browser: build it with --target wasm32-unknown-unknown");
}
