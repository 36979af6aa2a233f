//! A size layer of the browser build (`scripts/wasm-size --layers`): the client
//! layer plus `use_ami_parking` (every signal of the seed's state, and the client's
//! operations), showing one count.

// The allocator of every binary here (the package's library).
#[cfg(target_arch = "wasm32")]
extern crate leptos_web_example;

#[cfg(target_arch = "wasm32")]
fn main() {
    use ami_parking::ParkingStore;
    use ami_parking_leptos::use_ami_parking;
    use ami_parking_web::WebClient;
    use leptos::prelude::*;
    let url = window().location().hash().unwrap_or_default();
    mount_to_body(move || {
        let parking = use_ami_parking(WebClient::connect(&url, ParkingStore::default()));
        view! { <p>{move || parking.total_parked_calls.get()}</p> }
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("a size layer of the browser build: scripts/wasm-size --layers");
}
