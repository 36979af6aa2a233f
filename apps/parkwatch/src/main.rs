//! parkwatch (in progress).
fn main() {}
