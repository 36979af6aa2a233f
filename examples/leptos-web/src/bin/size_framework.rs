//! A size layer of the browser build (`scripts/wasm-size --layers`): Leptos alone,
//! mounting one paragraph. Not an app: the web example less everything ours.

// The allocator of every binary here (the package's library).
#[cfg(target_arch = "wasm32")]
extern crate leptos_web_example;

#[cfg(target_arch = "wasm32")]
fn main() {
    use leptos::prelude::*;
    mount_to_body(|| view! { <p>"parking"</p> });
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("a size layer of the browser build: scripts/wasm-size --layers");
}
