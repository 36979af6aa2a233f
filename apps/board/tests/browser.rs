//! The board end to end in a real headless Chromium (Debian's chromium and
//! chromium-driver, driven over WebDriver): the real Asterisk sandbox → the board →
//! the browser. A call parked in Asterisk appears in its cell; its countdown moves;
//! a click retrieves it (Asterisk emits UnParkedCall) and the cell empties; a park
//! from the page parks a bridged call; stopping Asterisk shows the disconnected state
//! and restarting it brings the truth back. A screenshot of each state is written
//! where the log says.

use ami_parking::{EventStream, ParkingEvent, ParkingStore};
use ami_parking_tests::live::{self, bridged_agent, DEADLINE};
use ami_parking_tests::measure::poll;
use ami_parking_tests::sandbox::{self, parked_truth, PORT_A};
use ami_parking_tests::skips::{self, Needs};
use ami_parking_transport::Client;
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
    /// This session's Chromium profile: it names every Chromium process of the test.
    profile: PathBuf,
}

impl Browser {
    async fn start() -> Option<Browser> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let chromedriver = match Command::new("chromedriver")
            .arg(format!("--port={port}"))
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
        let profile = std::env::temp_dir().join(format!("parkboard-chromium-{}", std::process::id()));
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
            &format!("--user-data-dir={}", profile.display()),
        ] {
            caps.add_arg(arg).unwrap();
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
        Some(Browser { driver, chromedriver, shots, profile })
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
}

/// Everything the test started ends with it, also when it fails: chromedriver, and
/// the Chromium it started (killing chromedriver alone leaves Chromium running, so
/// its processes are found by this session's own profile directory).
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        let _ = Command::new("pkill").arg("-f").arg(self.profile.as_os_str()).status();
        let _ = std::fs::remove_dir_all(&self.profile);
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

/// The board on the sandbox, on a free port, open in the browser.
async fn open_board(b: &Browser) {
    let store = ParkingStore::default();
    let board_client = live::client_with(PORT_A, store.clone()).await;
    let app = parkboard::web::router(board_client, "Local/s@hold".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
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
        |e| matches!(e, ParkingEvent::Retrieved { call, .. } if call.caller_id_num == "5557001"),
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

/// A park from the page parks a bridged call.
async fn a_park_from_the_page(b: &Browser, truth: &Client) {
    let agent = bridged_agent(truth, "5557002").await;
    b.driver.find(By::Id("park-channel")).await.unwrap().send_keys(&agent).await.unwrap();
    b.driver.find(By::Id("park-button")).await.unwrap().click().await.unwrap();
    let parked = poll("the page's park in Asterisk", DEADLINE, || async {
        let t = parked_truth(PORT_A);
        (t.len() == 1).then_some(t)
    })
    .await;
    let ok =
        poll("the park result", DEADLINE, || async { b.text_of(".park-panel .parking-result.ok").await })
            .await;
    assert_eq!(ok, format!("Parked in default space {}", parked[0].1));
    poll("the page's park in its cell", DEADLINE, || async {
        b.cell(parked[0].1).await.filter(|(c, _)| c.starts_with("parking-space occupied"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_asterisk_live_and_drives_it() {
    let Some((_guard, truth)) = live::on_clean_pbx().await else { return };
    let Some(browser) = Browser::start().await else { return };
    let b = &browser;
    open_board(b).await;
    b.shot("1-empty").await;
    let mut events = truth.events();
    let space = a_park_in_asterisk_appears(b, &truth, &mut events).await;
    b.shot("2-parked").await;
    a_click_retrieves(b, &mut events, space).await;
    b.shot("3-retrieved").await;
    a_park_from_the_page(b, &truth).await;
    b.shot("4-parked-from-page").await;

    // Asterisk stops: the board says so. It restarts: the board shows its truth (the
    // restart ended every call).
    sandbox::run("a", &["stop"]).expect("stop");
    let down = poll("the disconnected badge", DEADLINE, || async { b.text_of(".server.down").await }).await;
    assert!(down.contains("disconnected"), "{down}");
    b.shot("5-asterisk-down").await;
    sandbox::run("a", &["start"]).expect("start");
    poll("the connected badge again", Duration::from_secs(20), || async { b.text_of(".server.up").await })
        .await;
    assert!(parked_truth(PORT_A).is_empty());
    poll("no call left on the page", DEADLINE, || async {
        let occupied = b.driver.find_all(By::Css(".parking-space.occupied")).await.ok()?;
        occupied.is_empty().then_some(())
    })
    .await;
    b.shot("6-asterisk-back").await;
}
