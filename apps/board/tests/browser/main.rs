//! The board end to end in a real headless Chromium (Debian's chromium and
//! chromium-driver, driven over WebDriver): the real Asterisk sandbox → the board →
//! the browser. This file is the harness (the browser, the board on a free port, the
//! login, a call's cell, axe-core); each scenario is a module: `live_board` (a park
//! appears, a click retrieves, a park from the page, Asterisk stopped and back),
//! `office` (logins, roles, scopes, audit), `shared_screens` (a viewer's screens on
//! one render), `history` (the History page and its CSV), `receptionist` (park my
//! caller, drag, keyboard), `cut_link` (a lot stale, then fresh). A screenshot of each
//! state is written where the log says.
use ami_parking::{EventStream, ParkingEvent, ParkingStore};
use ami_parking_tests::live::{self, bridged_agent, DEADLINE};
use ami_parking_tests::measure::{poll, poll_or_explain};
use ami_parking_tests::sandbox::{self, parked_truth, PORT_A};
use ami_parking_tests::skips::{self, Needs};
use ami_parking_transport::Client;
use parkboard::peer::Peer;
use parkboard::state::Board;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use thirtyfour::common::capabilities::chromium::ChromiumLikeCapabilities;
use thirtyfour::prelude::*;

/// chromedriver on a free port, and a headless Chromium session through it.
struct Browser {
    driver: WebDriver,
    chromedriver: Child,
    shots: PathBuf,
    /// Chromium's profile and temporary files; its directory, in every Chromium
    /// process's command line, names the processes that end with the test.
    _session: ami_parking_tests::chromium::Session,
}

impl Browser {
    async fn start() -> Option<Browser> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // One profile per browser: a page's localStorage (the phone typed on a board
        // without logins) must not reach the next test's browser.
        let session = ami_parking_tests::chromium::Session::new("board-chromium");
        let chromedriver = match Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .env("TMPDIR", session.tmp())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                let why =
                    format!("chromedriver cannot start ({e}): run scripts/browser-tools (.ci/run does)");
                return skips::skip(Needs::Browser, &why);
            }
        };
        skips::ran(Needs::Browser);
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary("/usr/bin/chromium").unwrap();
        for arg in session.args() {
            caps.add_arg(&arg).unwrap();
        }
        let url = format!("http://127.0.0.1:{port}");
        let driver = poll("chromedriver to answer", Duration::from_secs(20), || {
            let (url, caps) = (url.clone(), caps.clone());
            async move { WebDriver::new(url, caps).await.ok() }
        })
        .await;
        let shots = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
            .join("board-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Browser { driver, chromedriver, shots, _session: session })
    }

    async fn shot(&self, name: &str) {
        let path = self.shots.join(format!("{name}.png"));
        self.driver.screenshot(&path).await.unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    /// The class and text of one space's cell (`None` while it is not on the page).
    async fn cell(&self, space: u32) -> Option<(String, String)> {
        let e = self.driver.find(By::Css(format!("[data-space='{space}']"))).await.ok()?;
        Some((e.class_name().await.ok()??, e.text().await.ok()?))
    }

    async fn text_of(&self, css: &str) -> Option<String> {
        self.driver.find(By::Css(css)).await.ok()?.text().await.ok()
    }

    /// The value of the form field with id `id` now (what a click would send).
    async fn value_of(&self, id: &str) -> Option<String> {
        self.driver.find(By::Id(id)).await.ok()?.prop("value").await.ok()?
    }
}

/// What a scenario with axe-core starts from: the sandbox's lock with a clean
/// instance a and a synced client of it (`truth`), axe-core's script, a browser.
struct Scene {
    _sandbox: tokio::sync::MutexGuard<'static, ()>,
    truth: Client,
    axe: String,
    browser: Browser,
}

impl Scene {
    /// `None`: something it needs is missing (the skip is reported).
    async fn start() -> Option<Scene> {
        let (_sandbox, truth) = live::on_clean_pbx().await?;
        let axe = axe_source()?;
        let browser = Browser::start().await?;
        Some(Scene { _sandbox, truth, axe, browser })
    }
}

/// Everything the test started ends with it, also when it fails: chromedriver, and
/// the Chromium it started (killing chromedriver alone leaves Chromium running: the
/// session's drop, after this, finds its processes by the session's directory).
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

/// `m:ss` to seconds.
fn secs(mmss: &str) -> u64 {
    let (m, s) = mmss.trim().split_once(':').unwrap_or(("0", "0"));
    m.parse::<u64>().unwrap_or(0) * 60 + s.parse::<u64>().unwrap_or(0)
}

/// The countdown shown in a cell's text (`... 0:41 left`).
fn left_of(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_suffix(" left")).map(secs)
}

/// Serves `board` on `listener` in the background.
fn serve(listener: tokio::net::TcpListener, board: Board) {
    let app = parkboard::web::router(board);
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<Peer>()).await.unwrap()
    });
}

/// The board on the sandbox, on a free port, open in the browser.
async fn open_board(b: &Browser) {
    let store = ParkingStore::default();
    let board_client = live::client_with(PORT_A, store.clone()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}/");
    serve(listener, Board::local(board_client, addr, "Local/s@hold"));
    b.driver.goto(&url).await.unwrap();
    poll("the server badge says connected", DEADLINE, || async {
        b.text_of(".server.up").await.filter(|t| t.contains("connected"))
    })
    .await;
    poll("the default lot's grid", DEADLINE, || async { b.cell(720).await }).await;
}

/// A call parked in Asterisk appears in its cell within 2 s of Asterisk's event, and
/// its countdown moves; its space.
async fn a_park_in_asterisk_appears(b: &Browser, truth: &Client, events: &mut EventStream) -> u32 {
    live::park_dialplan(truth, "5557001", "default").await;
    let call = live::next_event(events, "parked", |e| live::parked_event_for(e, "5557001")).await;
    let space = call.call().parking_space;
    let (class, text) = poll("the parked call in its cell", Duration::from_secs(2), || async {
        b.cell(space).await.filter(|(c, t)| t.contains("5557001") && c.starts_with("parking-space occupied"))
    })
    .await;
    assert_eq!(class, "parking-space occupied", "{text}");
    let first = left_of(&text).expect("a countdown");
    let later = poll("the countdown to move", Duration::from_secs(4), || async {
        b.cell(space).await.and_then(|(_, t)| left_of(&t)).filter(|l| *l < first)
    })
    .await;
    assert!(later < first && first <= 45, "{first} then {later}");
    space
}

/// A click retrieves the call in `space`: Asterisk emits UnParkedCall, the cell empties.
async fn a_click_retrieves(b: &Browser, events: &mut EventStream, space: u32) {
    b.driver.find(By::Css(format!("[data-space='{space}']"))).await.unwrap().click().await.unwrap();
    let retrieved = live::next_event(
        events,
        "retrieved",
        |e| matches!(e, ParkingEvent::Retrieved { call, .. } if call.caller_id_num() == "5557001"),
    )
    .await;
    assert_eq!(retrieved.call().parking_space, space);
    poll("the cell to empty", DEADLINE, || async {
        b.cell(space).await.filter(|(c, _)| c == "parking-space")
    })
    .await;
    let result = poll("the result line", DEADLINE, || async { b.text_of(".parking-result.ok").await }).await;
    assert!(result.starts_with(&format!("Space {space} retrieved to Local/s@hold-")), "{result}");
}

/// Waits until the board says its server is down and marks lot `default`'s calls as
/// last known.
async fn shows_the_server_down(b: &Browser) {
    let down = poll("the disconnected badge", DEADLINE, || async { b.text_of(".server.down").await }).await;
    assert!(down.contains("disconnected"), "{down}");
    let note =
        poll("the stale note", DEADLINE, || async { b.text_of("[data-lot='default'] .stale-note").await })
            .await;
    assert!(note.starts_with("Server down: calls as last known at "), "{note}");
}

#[path = "../common/mod.rs"]
mod common;

mod cut_link;
mod history;
mod live_board;
mod office;
mod receptionist;
mod shared_screens;

/// Logs in through the login page (after logging out of any session).
async fn log_in_as(b: &Browser, base: &str, user: &str, password: &str) {
    b.driver.goto(format!("{base}login")).await.unwrap();
    if let Ok(out) = b.driver.find(By::Css(".who button")).await {
        out.click().await.unwrap();
    }
    b.driver.goto(format!("{base}login")).await.unwrap();
    b.driver.find(By::Id("user")).await.unwrap().send_keys(user).await.unwrap();
    b.driver.find(By::Id("password")).await.unwrap().send_keys(password).await.unwrap();
    b.driver.find(By::Css("button[type='submit']")).await.unwrap().click().await.unwrap();
    poll("the board after the login", DEADLINE, || async {
        b.text_of(".who .user").await.filter(|t| t == user)
    })
    .await;
}

/// The space of the parked call of `number` (as the page shows it), once it shows.
async fn cell_of(b: &Browser, number: &str) -> u32 {
    poll("the call's cell", DEADLINE, || async {
        for e in b.driver.find_all(By::Css(".parking-space.occupied")).await.ok()? {
            if e.text().await.ok()?.contains(number) {
                return e.attr("data-space").await.ok()??.parse().ok();
            }
        }
        None
    })
    .await
}

/// axe-core's script, as `scripts/browser-tools` installs it (`None`: skipped, with
/// `AMI_PARKING_ALLOW_SKIP=1` only).
fn axe_source() -> Option<String> {
    let dir = std::env::var("AXE_CORE_DIR").unwrap_or_else(|_| "/var/tmp/ami-parking-axe".into());
    let path = PathBuf::from(dir).join("node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(e) => skips::skip(
            Needs::Browser,
            &format!("axe-core is not at {} ({e}): run scripts/browser-tools (.ci/run does)", path.display()),
        ),
    }
}

/// axe-core run on the page as it is now: every violation, listed (none expected).
async fn axe_violations(b: &Browser, axe: &str) -> Vec<String> {
    b.driver.execute(axe, Vec::new()).await.expect("axe-core loads");
    let r = b
        .driver
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at '
                   + v.nodes.map(n => n.target.join(' ') + ' [' + (n.failureSummary || '').replace(/\\s+/g, ' ') + ']').join('; '))))
               .catch(e => done(['axe failed: ' + e]));",
            Vec::new(),
        )
        .await
        .expect("axe-core runs");
    r.convert::<Vec<String>>().expect("a list of violations")
}

/// Takes a screenshot of `state` and checks it with axe-core: no violation.
async fn shot_and_axe(b: &Browser, axe: &str, state: &str) {
    b.shot(state).await;
    let v = axe_violations(b, axe).await;
    assert!(v.is_empty(), "axe-core: {} violation(s) in state {state}:\n{}", v.len(), v.join("\n"));
}
