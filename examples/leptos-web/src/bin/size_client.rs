//! A size layer of the browser build (`scripts/wasm-size --layers`): the framework
//! layer plus the browser client (the core's connection and store behind a
//! WebSocket), connected but shown nowhere.

// The allocator of every binary here (the package's library).
#[cfg(target_arch = "wasm32")]
extern crate leptos_web_example;

#[cfg(target_arch = "wasm32")]
fn main() {
    use ami_parking::ParkingStore;
    use ami_parking_web::WebClient;
    use leptos::prelude::*;
    // The URL comes from the page, so the client is not optimised away.
    let url = window().location().hash().unwrap_or_default();
    let client = WebClient::connect(&url, ParkingStore::default());
    mount_to_body(move || {
        let _client = client.clone();
        view! { <p>"parking"</p> }
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("a size layer of the browser build: scripts/wasm-size --layers");
}
