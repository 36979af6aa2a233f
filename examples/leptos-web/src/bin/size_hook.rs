//! A size layer of the browser build (`scripts/wasm-size --layers`): the client
//! layer plus `use_ami_parking` (every signal of the seed's state, and the client's
//! operations), showing one count.

/// The allocator: talc, in place of Rust's default dlmalloc for wasm32 (smaller and
/// faster; 0.8 KB less gzipped here). Every size layer has it, so they add up.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

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
