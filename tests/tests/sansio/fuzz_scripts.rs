//! The `connection` fuzz target's script, on the stable toolchain: every seed and
//! crash kept in `fuzz/seeds/connection` and `fuzz/regressions/connection`, then
//! random scripts. Each step of a script is a message from a server (raw bytes, an
//! event with hostile values, an answer to one of the client's actions), a request,
//! a clock step or a link drop; after every step the store's and the connection's
//! invariants must hold (`ami_parking::sim::check_connection`).

use ami_parking::sim::run_script;
use proptest::prelude::*;
use std::path::Path;

fn kept(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn every_kept_script_keeps_the_invariants() {
    let seeds = kept("fuzz/seeds/connection");
    assert!(seeds.len() >= 4, "the seeds are in the repository: {}", seeds.len());
    let mut deep = Vec::new();
    for (name, data) in seeds.into_iter().chain(kept("fuzz/regressions/connection")) {
        match run_script(&data) {
            Ok(conn) if conn.is_logged_in() && !conn.store().parked_calls_now().is_empty() => deep.push(name),
            Ok(_) => {}
            Err(e) => panic!("{name}: {e}"),
        }
    }
    // The seeds take the fuzzer past the login to a store with calls.
    assert!(deep.len() >= 4, "seeds that reach calls: {deep:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn random_scripts_keep_the_invariants(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Err(e) = run_script(&data) {
            prop_assert!(false, "{}", e);
        }
    }
}
