//! The bridge's binary as a child process, in front of a [`TestAmi`](super::ami::TestAmi),
//! with a token file. `AMI_PARKING_BRIDGE_BIN=/path/to/ami-ws-bridge` runs another
//! build (how the hostile suite was seen failing against the bridge before its fixes).

use super::{ask, ws_with, Ws};
use ami_parking_tests::ami_server::TestAmi;
use ami_parking_tests::process::AppProcess;
use std::time::Duration;

/// A token long enough for the bridge (16 bytes at least).
pub const OPERATOR: &str = "operator-token-0123456789";

/// A running bridge binary: the process and its `ws://` address.
pub struct BridgeProcess {
    /// The process (killed when dropped).
    pub app: AppProcess,
    /// `ws://127.0.0.1:PORT`.
    pub addr: String,
    _tokens: TempFile,
}

/// A file removed when dropped.
pub struct TempFile(pub std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A fresh file holding `text`.
pub fn temp_file(what: &str, text: &str) -> TempFile {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("ami-ws-bridge-{what}-{}-{n}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    TempFile(path)
}

/// The bridge binary under test.
pub fn bin() -> String {
    std::env::var("AMI_PARKING_BRIDGE_BIN")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or(env!("CARGO_BIN_EXE_ami-ws-bridge").into())
}

/// `prefix` (e.g. `prlimit --nofile=64:64 --`), then the bridge on a free loopback
/// port in front of `upstream` with the token file `tokens` and `args`; waits until
/// it listens and its upstream is logged in.
pub async fn start_with(prefix: &[&str], upstream: &str, tokens: &str, args: &[&str]) -> BridgeProcess {
    let file = temp_file("tokens", tokens);
    let bin = bin();
    let path = file.0.to_str().unwrap().to_owned();
    let mut all: Vec<&str> = prefix.to_vec();
    all.extend([bin.as_str(), "--listen", "127.0.0.1:0", "--upstream", upstream, "--token-file", &path]);
    all.extend(args);
    let mut app = AppProcess::spawn(all[0], &all[1..]);
    let line =
        app.line("the listening address", Duration::from_secs(10), |l| l.contains("listening on ")).await;
    let addr = line.split("listening on ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    app.line("the upstream login", Duration::from_secs(10), |l| l.contains("logged in")).await;
    BridgeProcess { app, addr, _tokens: file }
}

/// The bridge in front of `upstream` with `tokens` and `args`.
pub async fn start(upstream: &str, tokens: &str, args: &[&str]) -> BridgeProcess {
    start_with(&[], upstream, tokens, args).await
}

/// A test AMI server and the bridge in front of it, with `tokens` and `args`.
pub async fn setup(tokens: &str, args: &[&str]) -> (TestAmi, BridgeProcess) {
    let ami = TestAmi::start().await;
    let url = format!("tcp://amiuser:test-only-secret@127.0.0.1:{}", ami.port);
    let b = start(&url, tokens, args).await;
    (ami, b)
}

pub async fn operator(b: &BridgeProcess) -> Ws {
    ws_with(&b.addr, OPERATOR).await
}

/// An operator's socket once the bridge at `addr` takes one again (a place given
/// back, descriptors freed), tried until `within` (`what` names the wait).
pub async fn operator_once_served(addr: &str, what: &str, within: Duration) -> Ws {
    super::poll(what, within, || async move {
        async_tungstenite::tokio::connect_async(format!("{addr}/?token={OPERATOR}")).await.ok().map(|w| w.0)
    })
    .await
}

/// Sends `frame` (with `"ActionID":"id"` added) and returns its answer's `Message`
/// and `Response`.
pub async fn try_action(c: &mut Ws, frame: &str, id: &str) -> (String, String) {
    let body = frame.trim_start_matches('{');
    let f = ask(c, &format!(r#"{{"ActionID":"{id}",{body}"#), id).await;
    (
        f["data"]["Response"].as_str().unwrap_or_default().into(),
        f["data"]["Message"].as_str().unwrap_or_default().into(),
    )
}

pub async fn refused(c: &mut Ws, frame: &str, id: &str) -> String {
    let (response, message) = try_action(c, frame, id).await;
    assert_eq!(response, "Error", "{frame} was not refused: {message}");
    message
}

/// A Ping answered: everything sent before it on this client was handled.
pub async fn ping(c: &mut Ws, id: &str) {
    let (response, _) = try_action(c, r#"{"Action":"Ping"}"#, id).await;
    assert_eq!(response, "Success");
}
