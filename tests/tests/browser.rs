//! What runs in a real headless Chromium: each test builds a wasm32 test target and
//! runs it under `wasm-bindgen-test-runner` (which drives Debian's chromium through
//! chromedriver):
//! - the browser transport (`transport/web/tests/browser.rs`) against an amiws stand-in started
//!   here, answering with the real amiws 2.2 capture's frames (its URL baked in);
//! - the Leptos components mounted in a page (`bindings/leptos/tests/browser.rs`),
//!   clicked: a grid's cells and the dashboard's Retrieve buttons.
//!
//! `scripts/browser-tools` installs chromium, chromedriver and the runner; without
//! them these tests fail, unless `AMI_PARKING_ALLOW_SKIP=1`.

use ami_parking_tests::amiws_server::serve_answers;
use ami_parking_tests::load_amiws;
use ami_parking_tests::skips::{self, Needs};
use std::path::{Path, PathBuf};
use std::process::Command;

fn find(tool: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(home.map(|h| h.join("bin")))
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// The runner, or `None` (after saying why) when the tools are missing and skipping
/// is allowed.
fn runner() -> Option<PathBuf> {
    let tools: Vec<_> =
        ["chromedriver", "wasm-bindgen-test-runner"].into_iter().map(|t| (t, find(t))).collect();
    let missing: Vec<&str> = tools.iter().filter(|(_, p)| p.is_none()).map(|(t, _)| *t).collect();
    if missing.is_empty() {
        skips::ran(Needs::Browser);
        return tools[1].1.clone();
    }
    skips::skip(
        Needs::Browser,
        &format!("the browser tests need {missing:?}: run scripts/browser-tools (.ci/run does)"),
    )
}

/// Builds `test` of `package` for wasm32 and runs it in Chromium, where exactly
/// `tests` tests must pass; its log.
fn run_in_chromium(
    runner: &Path,
    package: &str,
    test: &str,
    tests: usize,
    extra: &[&str],
    env: &[(&str, &str)],
) -> String {
    // A target dir of its own: the outer `cargo test` may hold the workspace's.
    let outer = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The runner's Chromium writes its profile and temporary files here; they go with
    // the session (ended and removed when it drops, also after a failure).
    let session = ami_parking_tests::chromium::Session::new("wasm-chromium");
    let out = Command::new(cargo)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(["test", "-p", package, "--target", "wasm32-unknown-unknown", "--test", test])
        .args(extra)
        .env("CARGO_TARGET_DIR", outer.join("wasm-browser"))
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", runner)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "60")
        .env("TMPDIR", session.tmp())
        .envs(env.iter().copied())
        .output()
        .expect("cargo runs");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the wasm test failed in Chromium:\n{log}");
    assert!(
        log.contains(&format!("test result: ok. {tests} passed")),
        "exactly {tests} browser tests ran:\n{log}"
    );
    log
}

#[test]
fn the_browser_transport_runs_in_chromium_against_an_amiws_capture() {
    let Some(runner) = runner() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = rt.spawn(serve_answers(listener, load_amiws("two-servers-lists-park-retrieve-timeout"), 2));
    run_in_chromium(&runner, "ami-parking-web", "browser", 1, &[], &[("AMI_PARKING_WEB_TEST_URL", &url)]);
    rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("the client reconnected once and left (two connections)")
            .unwrap()
    });
}

#[test]
fn the_leptos_components_are_clicked_in_chromium() {
    let Some(runner) = runner() else { return };
    run_in_chromium(&runner, "ami-parking-leptos", "browser", 3, &["--features", "components"], &[]);
}
