//! A size layer of the browser build (`scripts/wasm-size --layers`): Leptos alone,
//! mounting one paragraph. Not an app: the web example less everything ours.

/// The allocator: talc, in place of Rust's default dlmalloc for wasm32 (smaller and
/// faster; 0.8 KB less gzipped here). Every size layer has it, so they add up.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(target_arch = "wasm32")]
fn main() {
    use leptos::prelude::*;
    mount_to_body(|| view! { <p>"parking"</p> });
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("a size layer of the browser build: scripts/wasm-size --layers");
}
