//! The browser transport (`ami-parking-web`) in a real headless Chromium: this test
//! starts an amiws stand-in that answers with the real amiws 2.2 capture's frames,
//! then builds and runs `web/tests/browser.rs` for wasm32 under
//! `wasm-bindgen-test-runner` (which drives Debian's chromium through chromedriver),
//! with the stand-in's URL baked in. `.ci/run` installs chromium, chromedriver and the
//! runner; without them this test fails, unless `AMI_PARKING_ALLOW_SKIP=1`.

use ami_parking_tests::amiws_server::serve_answers;
use ami_parking_tests::load_amiws;
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

#[test]
fn the_browser_transport_runs_in_chromium_against_an_amiws_capture() {
    let tools: Vec<_> =
        ["chromedriver", "wasm-bindgen-test-runner"].into_iter().map(|t| (t, find(t))).collect();
    let missing: Vec<&str> = tools.iter().filter(|(_, p)| p.is_none()).map(|(t, _)| *t).collect();
    if !missing.is_empty() {
        let why = format!(
            "the browser test needs {missing:?} (apt-get install chromium chromium-driver; cargo install wasm-bindgen-cli --version <the lockfile's wasm-bindgen>); .ci/run installs them"
        );
        if std::env::var("AMI_PARKING_ALLOW_SKIP").as_deref() == Ok("1") {
            eprintln!("SKIPPING: {why}");
            return;
        }
        panic!("{why}");
    }
    let runner = tools[1].1.clone().unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = rt.spawn(serve_answers(listener, load_amiws("two-servers-lists-park-retrieve-timeout"), 2));

    // A target dir of its own: the outer `cargo test` may hold the workspace's.
    let outer = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(["test", "-p", "ami-parking-web", "--target", "wasm32-unknown-unknown", "--test", "browser"])
        .env("CARGO_TARGET_DIR", outer.join("wasm-browser"))
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", &runner)
        .env("AMI_PARKING_WEB_TEST_URL", &url)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "60")
        .output()
        .expect("cargo runs");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the wasm test failed in Chromium:\n{log}");
    assert!(log.contains("test result: ok. 1 passed"), "exactly the one browser test ran:\n{log}");
    rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("the client reconnected once and left (two connections)")
            .unwrap()
    });
}
