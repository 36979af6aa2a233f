//! What every binary of the package shares: the allocator. talc, in place of Rust's
//! default dlmalloc for wasm32 (smaller and faster; 0.8 KB less gzipped in the web
//! example). An app's choice, not the library's: the crates set no allocator. Each
//! binary links this library (`extern crate leptos_web_example`), so every size
//! layer has the same allocator and the layers add up.

/// The global allocator of the package's binaries, in the browser.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
