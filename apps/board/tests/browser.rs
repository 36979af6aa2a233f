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

/// A park from the page parks a bridged call.
async fn a_park_from_the_page(b: &Browser, truth: &Client) {
    let agent = bridged_agent(truth, "5557002").await;
    b.driver.find(By::Id("park-channel")).await.unwrap().send_keys(&agent).await.unwrap();
    // A timeout the form cannot read is refused on the page; nothing reaches Asterisk.
    let timeout = b.driver.find(By::Id("park-timeout")).await.unwrap();
    timeout.send_keys("ten").await.unwrap();
    b.driver.find(By::Id("park-button")).await.unwrap().click().await.unwrap();
    let refused = poll("the form's refusal", DEADLINE, || async {
        b.text_of(".park-panel .parking-result.error").await
    })
    .await;
    assert_eq!(refused, r#"timeout "ten": seconds (up to a day), or never"#);
    assert!(parked_truth(PORT_A).is_empty(), "a refused form parks nothing");
    // The second lot of the select (`vip`, whose own timeout is 5 s), for 60 s.
    timeout.clear().await.unwrap();
    timeout.send_keys("60").await.unwrap();
    b.driver.find(By::Css("#park-lot option[value='1/vip']")).await.unwrap().click().await.unwrap();
    b.driver.find(By::Id("park-button")).await.unwrap().click().await.unwrap();
    let parked = poll("the page's park in Asterisk", DEADLINE, || async {
        let t = parked_truth(PORT_A);
        (t.len() == 1).then_some(t)
    })
    .await;
    assert_eq!(parked[0].0, "vip", "parked in the lot chosen: {parked:?}");
    let ok =
        poll("the park result", DEADLINE, || async { b.text_of(".park-panel .parking-result.ok").await })
            .await;
    assert_eq!(ok, format!("Parked in vip space {}", parked[0].1));
    let held = poll("the park in the direct store", DEADLINE, || async {
        ami_parking::ParkingClient::store(truth)
            .parked_calls_now()
            .into_iter()
            .find(|c| c.parking_space == parked[0].1)
    })
    .await;
    assert_eq!(held.timeout(), Some(Duration::from_secs(60)), "the form's timeout, not the lot's 5 s");
    poll("the page's park in its cell", DEADLINE, || async {
        b.cell(parked[0].1).await.filter(|(c, _)| c.starts_with("parking-space occupied"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_asterisk_live_and_drives_it() {
    let Some((_guard, truth)) = live::on_clean_pbx().await else { return };
    let Some(axe) = axe_source() else { return };
    let Some(browser) = Browser::start().await else { return };
    let b = &browser;
    open_board(b).await;
    shot_and_axe(b, &axe, "1-empty").await;
    let mut events = truth.events();
    let space = a_park_in_asterisk_appears(b, &truth, &mut events).await;
    shot_and_axe(b, &axe, "2-parked").await;
    a_click_retrieves(b, &mut events, space).await;
    shot_and_axe(b, &axe, "3-retrieved").await;
    a_park_from_the_page(b, &truth).await;
    shot_and_axe(b, &axe, "4-parked-from-page").await;

    // Asterisk stops: the board says so. It restarts: the board shows its truth (the
    // restart ended every call).
    sandbox::run("a", &["stop"]).expect("stop");
    let down = poll("the disconnected badge", DEADLINE, || async { b.text_of(".server.down").await }).await;
    assert!(down.contains("disconnected"), "{down}");
    // Its lots are marked as last known, not as the truth (a stopping Asterisk hung
    // up its calls first, so none is left to show).
    let note =
        poll("the stale note", DEADLINE, || async { b.text_of("[data-lot='default'] .stale-note").await })
            .await;
    assert!(note.starts_with("Server down: calls as last known at "), "{note}");
    assert!(b.text_of(".total").await.unwrap().ends_with("parked (incomplete)"));
    shot_and_axe(b, &axe, "5-asterisk-down").await;
    sandbox::run("a", &["start"]).expect("start");
    poll("the connected badge again", Duration::from_secs(20), || async { b.text_of(".server.up").await })
        .await;
    assert!(parked_truth(PORT_A).is_empty());
    poll("no call left on the page", DEADLINE, || async {
        let occupied = b.driver.find_all(By::Css(".parking-space.occupied")).await.ok()?;
        occupied.is_empty().then_some(())
    })
    .await;
    assert!(b.driver.find_all(By::Css(".stale-note")).await.unwrap().is_empty(), "fresh again");
    shot_and_axe(b, &axe, "6-asterisk-back").await;
}

mod common;

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

/// The audit file's records.
fn audit_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

/// An office: an operator retrieves to their own phone (and the audit log says so), a
/// viewer sees the same calls with no control (and forged clicks on its socket change
/// nothing in Asterisk), a user scoped to `default` never sees the `vip` call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_board_with_logins_roles_and_scopes() {
    use parkboard::guard::Access;
    use parkboard::users::{hash_password, Role, User, Users};
    let Some((_guard, truth)) = live::on_clean_pbx().await else { return };
    let Some(axe) = axe_source() else { return };
    let Some(browser) = Browser::start().await else { return };
    let b = &browser;
    let dir = std::env::temp_dir().join(format!("parkboard-office-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let audit_path = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&audit_path);
    let user = |name: &str, pw: &str, role, phone: Option<&str>, lots: Option<Vec<String>>| {
        User::new(name.into(), &hash_password(pw).unwrap(), role, phone.map(Into::into), lots).unwrap()
    };
    let users = Users::new(vec![
        user("reception", "front-desk-pw", Role::Operator, Some("Local/s@hold"), None),
        user("wall", "wallboard-pw", Role::Viewer, None, None),
        user("team", "team-pw", Role::Viewer, None, Some(vec!["default".into()])),
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}/");
    let client = live::client(PORT_A).await;
    let mut board = Board::new(client, users, Access::new(addr, false, &[], &[]), Duration::from_secs(3600));
    board.audit = parkboard::audit::Audit::to_file(&audit_path).unwrap();
    serve(listener, board);

    let mut events = truth.events();
    live::park_dialplan(&truth, "5557101", "default").await;
    live::next_event(&mut events, "the default call parked", |e| live::parked_event_for(e, "5557101")).await;
    live::park_dialplan(&truth, "5557102", "vip").await;
    live::next_event(&mut events, "the vip call parked", |e| live::parked_event_for(e, "5557102")).await;

    // Without a session: the login page.
    b.driver.goto(&base).await.unwrap();
    poll("the login page", DEADLINE, || async { b.driver.find(By::Id("password")).await.ok() }).await;
    shot_and_axe(b, &axe, "office-1-login").await;

    // The viewer: both calls, no control.
    log_in_as(b, &base, "wall", "wallboard-pw").await;
    let space = cell_of(b, "5557101").await;
    cell_of(b, "5557102").await;
    for control in [
        "park-button",
        "park-channel",
        "retrieve-to",
        "park-my-caller",
        "retrieve-longest",
        "move-button",
        "my-phone-input",
    ] {
        assert!(b.driver.find(By::Id(control)).await.is_err(), "a viewer's page has no #{control}");
    }
    assert!(b.text_of(".view-panel").await.unwrap().contains("View only"));
    shot_and_axe(b, &axe, "office-2-viewer").await;
    // Forged clicks on every element of a viewer's page: Asterisk still holds both.
    let wall = common::login(addr, "wall", "wallboard-pw").await;
    common::forge_clicks(addr, &wall, 0..20_000).await;
    // (The vip lot's calls time out after 5 s: the default call is the witness.)
    let held: Vec<(String, u32)> =
        parked_truth(PORT_A).into_iter().map(|(lot, space, _)| (lot, space)).collect();
    assert!(held.contains(&("default".to_string(), space)), "a viewer's forged click retrieved: {held:?}");

    // Scoped to default: the vip call is nowhere on the page.
    log_in_as(b, &base, "team", "team-pw").await;
    cell_of(b, "5557101").await;
    let source = b.driver.source().await.unwrap();
    assert!(
        !source.contains("5557102") && !source.contains("data-lot=\"vip\""),
        "the vip call leaked to a default-only user"
    );
    assert_eq!(b.text_of(".total").await.unwrap(), "1 parked");
    shot_and_axe(b, &axe, "office-3-scoped").await;

    // The operator: retrieves ring their own phone; the audit log says who did it.
    log_in_as(b, &base, "reception", "front-desk-pw").await;
    assert_eq!(b.text_of("#my-phone").await.unwrap(), "Local/s@hold");
    assert!(b.driver.find(By::Id("retrieve-to")).await.is_err(), "no free-text destination");
    assert!(b.driver.find(By::Id("my-phone-input")).await.is_err(), "the phone is the profile's, not typed");
    assert!(b.driver.find(By::Id("park-my-caller")).await.is_ok(), "an operator parks their caller");
    shot_and_axe(b, &axe, "office-4-operator").await;
    b.driver.find(By::Css(format!("[data-space='{space}']"))).await.unwrap().click().await.unwrap();
    let retrieved = live::next_event(
        &mut events,
        "retrieved",
        |e| matches!(e, ParkingEvent::Retrieved { call, .. } if call.caller_id_num() == "5557101"),
    )
    .await;
    assert_eq!(retrieved.call().parking_space, space);
    let result = poll("the result line", DEADLINE, || async { b.text_of(".parking-result.ok").await }).await;
    assert!(result.starts_with(&format!("Space {space} retrieved to Local/s@hold-")), "{result}");
    shot_and_axe(b, &axe, "office-5-operator-retrieved").await;
    let records = poll("the audit record", DEADLINE, || async {
        let r = audit_lines(&audit_path);
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(records.len(), 1, "{records:#?}");
    let r = &records[0];
    assert_eq!(
        (r["user"].as_str(), r["role"].as_str(), r["action"].as_str()),
        (Some("reception"), Some("operator"), Some("retrieve"))
    );
    assert_eq!(
        (r["lot"].as_str(), r["space"].as_u64(), r["result"].as_str()),
        (Some("default"), Some(space as u64), Some("ok"))
    );
    assert!(r["destination"].as_str().unwrap().starts_with("Local/s@hold"), "{r}");
    assert!(r["channel"].as_str().unwrap().starts_with("Local/"), "{r}");

    // The control: the same forged clicks on an operator's socket do retrieve (so the
    // viewer's were clicks a page with controls would have acted on).
    live::park_dialplan(&truth, "5557103", "default").await;
    live::next_event(&mut events, "another default call parked", |e| live::parked_event_for(e, "5557103"))
        .await;
    let reception = common::login(addr, "reception", "front-desk-pw").await;
    common::forge_clicks(addr, &reception, 0..20_000).await;
    live::next_event(
        &mut events,
        "the call retrieved by a forged operator click",
        |e| matches!(e, ParkingEvent::Retrieved { call, .. } if call.caller_id_num() == "5557103"),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `GET path` on the board with a plain socket: the body.
/// The spaces of the occupied cells a page shows, in page order.
async fn occupied_spaces(b: &Browser) -> Vec<String> {
    let mut out = Vec::new();
    for e in b.driver.find_all(By::Css(".parking-space.occupied")).await.unwrap_or_default() {
        out.extend(e.attr("data-space").await.ok().flatten());
    }
    out
}

/// A viewer's screens share one render: a screen opened later shows what the first
/// one shows (the edits so far, replayed into a fresh page), and a park after both
/// opened reaches both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewers_screens_share_one_render() {
    use parkboard::guard::Access;
    use parkboard::users::{hash_password, Role, User, Users};
    let Some((_guard, truth)) = live::on_clean_pbx().await else { return };
    let Some(browser) = Browser::start().await else { return };
    let b = &browser;
    let wall = User::new("wall".into(), &hash_password("wallboard-pw").unwrap(), Role::Viewer, None, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}/");
    let client = live::client(PORT_A).await;
    let users = Users::new(vec![wall.unwrap()]);
    let board = Board::new(client, users, Access::new(addr, false, &[], &[]), Duration::from_secs(3600));
    let sockets = board.sockets.clone();
    serve(listener, board);

    let mut events = truth.events();
    live::park_dialplan(&truth, "5557201", "default").await;
    live::next_event(&mut events, "the first call parked", |e| live::parked_event_for(e, "5557201")).await;
    log_in_as(b, &base, "wall", "wallboard-pw").await;
    cell_of(b, "5557201").await;
    live::park_dialplan(&truth, "5557202", "default").await;
    cell_of(b, "5557202").await;

    // A second screen of the same viewer, opened after both parks.
    let first = b.driver.window().await.unwrap();
    let second = b.driver.new_tab().await.unwrap();
    b.driver.switch_to_window(second).await.unwrap();
    b.driver.goto(&base).await.unwrap();
    cell_of(b, "5557201").await;
    cell_of(b, "5557202").await;
    poll("two screens open", DEADLINE, || async { (sockets.open() == 2).then_some(()) }).await;
    assert_eq!(sockets.shared_renders(), 1, "two screens of one viewer, one render");

    // A park now reaches both screens.
    live::park_dialplan(&truth, "5557203", "default").await;
    cell_of(b, "5557203").await;
    let on_second = occupied_spaces(b).await;
    b.shot("shared-2-second-screen").await;
    b.driver.switch_to_window(first).await.unwrap();
    cell_of(b, "5557203").await;
    assert_eq!(occupied_spaces(b).await, on_second, "both screens show the same spaces");
    assert_eq!(on_second.len(), 3, "{on_second:?}");
    b.shot("shared-1-first-screen").await;
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").unwrap_or((&all, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Chunked or not: the CSV lines are the body's lines that have commas.
    body.to_string()
}

/// The History page after a short morning on the real sandbox (a retrieve clicked
/// on the page, a hang-up, a vip timeout, a call still parked): the figures at a
/// glance, the chart, the lot lines and the user of the retrieve; the CSV export has
/// the same numbers. A screenshot is written (`7-history.png`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_page_shows_the_mornings_figures_and_the_csv_has_the_same() {
    use ami_parking_history::{History, HistoryOptions};
    let Some((_guard, truth)) = live::on_clean_pbx().await else { return };
    let Some(browser) = Browser::start().await else { return };
    let b = &browser;
    let dir = std::env::temp_dir().join(format!("parkboard-history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let history = History::open(&format!("sqlite:{}", dir.join("h.db").display()), HistoryOptions::default())
        .await
        .unwrap();
    let store = ParkingStore::default();
    let _following = history.follow(&store);
    let board_client = live::client_with(PORT_A, store.clone()).await;
    history.resync(&store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut board = Board::local(board_client, addr, "Local/s@hold");
    board.history = Some(history.clone());
    serve(listener, board);
    b.driver.goto(&format!("http://{addr}/")).await.unwrap();
    poll("the default lot's grid", DEADLINE, || async { b.cell(720).await }).await;

    let mut events = truth.events();
    // A retrieve clicked on the page (the board's user is `local`).
    let space = a_park_in_asterisk_appears(b, &truth, &mut events).await;
    a_click_retrieves(b, &mut events, space).await;
    // A hang-up while parked.
    live::park_dialplan(&truth, "5557003", "default").await;
    let call = live::next_event(&mut events, "parked", |e| live::parked_event_for(e, "5557003")).await;
    let hang = ami_parking::Action::new("Hangup").header("Channel", call.call().channel());
    ami_parking::ParkingClient::request(&truth, ami_parking::Request::Action(hang), ami_parking::Target::All)
        .await
        .unwrap();
    live::next_event(&mut events, "giveup", |e| e.kind() == "giveup").await;
    // A timeout in the 5 s vip lot, and one call still parked.
    live::park_dialplan(&truth, "5557004", "vip").await;
    live::next_event(&mut events, "timeout", |e| e.kind() == "timeout").await;
    live::park_dialplan(&truth, "5557005", "default").await;
    live::next_event(&mut events, "parked", |e| live::parked_event_for(e, "5557005")).await;
    history.flush().await.unwrap();

    b.driver.find(By::Id("history-link")).await.unwrap().click().await.unwrap();
    let parked =
        poll("the figures at a glance", DEADLINE, || async { b.text_of("#glance-parked").await }).await;
    let glance = |id: &'static str| async move { b.text_of(&format!("#glance-{id}")).await.unwrap() };
    assert_eq!(
        (parked.as_str(), &*glance("retrieved").await, &*glance("timeouts").await, &*glance("hangups").await),
        ("4", "1", "1", "1")
    );
    let users = b.text_of("#users").await.unwrap();
    assert!(users.contains("local 1"), "the retrieve clicked on the page names the board user: {users}");
    let bars = b.driver.find_all(By::Css("svg.waits rect.median")).await.unwrap();
    assert!(!bars.is_empty(), "the chart has a bar for this hour");
    let lots = b.text_of("#lots").await.unwrap();
    assert!(lots.contains("vip 1"), "{lots}");
    b.shot("7-history").await;

    // The CSV export: the same numbers.
    let csv = http_get(addr, "/history.csv");
    let rows: Vec<&str> = csv.lines().filter(|l| l.contains(",default,") || l.contains(",vip,")).collect();
    let count = |outcome: &str| rows.iter().filter(|l| l.split(',').nth(13) == Some(outcome)).count();
    assert_eq!(rows.len(), 4, "{csv}");
    assert_eq!((count("retrieved"), count("timeout"), count("hangup"), count("open")), (1, 1, 1, 1), "{csv}");
    assert!(rows.iter().any(|l| l.contains("5557001") && l.split(',').nth(14) == Some("local")), "{csv}");
    std::fs::write(b.shots.join("7-history.csv"), &csv).unwrap();
    live::clean(PORT_A).await;
    std::fs::remove_dir_all(&dir).ok();
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

/// The id of the focused element.
async fn focused(b: &Browser) -> String {
    let r =
        b.driver.execute("return document.activeElement ? document.activeElement.id : '';", Vec::new()).await;
    r.unwrap().convert::<String>().unwrap_or_default()
}

/// Presses `keys` on whatever has the focus.
async fn press(b: &Browser, keys: &str) {
    b.driver.action_chain().send_keys(keys).perform().await.unwrap();
}

/// A drag of the call in `from` onto space `to` (of `to_lot`), as the browser sends it:
/// dragstart, dragover, drop, dragend (chromedriver cannot drive a native HTML drag).
async fn drag(b: &Browser, from_lot: &str, from: u32, to_lot: &str, to: u32) {
    let script = format!(
        "const src = document.querySelector(\"[data-lot='{from_lot}'] [data-space='{from}']\");
         const dst = document.querySelector(\"[data-lot='{to_lot}'] [data-space='{to}']\");
         if (!src || !dst) return 'missing';
         const dt = new DataTransfer();
         const fire = (el, type) => el.dispatchEvent(new DragEvent(type, {{ bubbles: true, cancelable: true, dataTransfer: dt }}));
         fire(src, 'dragstart'); fire(dst, 'dragenter'); const accepted = !fire(dst, 'dragover');
         fire(dst, 'drop'); fire(src, 'dragend');
         return accepted ? 'dropped' : 'refused';"
    );
    let r = b.driver.execute(script, Vec::new()).await.unwrap().convert::<String>().unwrap();
    assert_eq!(r, "dropped", "the drop target took the drag");
}

/// The receptionist's workflow on a real bridged call: the phone typed once and
/// remembered; "Park my caller" parks the caller (not the desk) and shows the space
/// big; a drag moves the call in Asterisk; the keyboard alone parks (Tab, Enter) and
/// retrieves the longest waiting call (R); axe-core finds no violation in any state,
/// at 1400x1000 nor at 390x844 (where the park button shows without scrolling).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receptionist_parks_my_caller_drags_and_works_by_keyboard() {
    let Some((_guard, truth)) = live::on_clean_pbx().await else { return };
    let Some(axe) = axe_source() else { return };
    let Some(browser) = Browser::start().await else { return };
    let b = &browser;
    open_board(b).await;
    shot_and_axe(b, &axe, "desk-1-start").await;

    // The phone, typed once: the browser remembers it across a reload.
    let input = b.driver.find(By::Id("my-phone-input")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("Local/1901@desk").await.unwrap();
    poll("the phone saved in the browser", DEADLINE, || async {
        let r = b
            .driver
            .execute("return localStorage.getItem('parkboard.phone') || '';", Vec::new())
            .await
            .ok()?;
        r.convert::<String>().ok().filter(|v| v == "Local/1901@desk")
    })
    .await;
    b.driver.refresh().await.unwrap();
    poll("the remembered phone after a reload", DEADLINE, || async {
        let v = b.driver.find(By::Id("my-phone-input")).await.ok()?.prop("value").await.ok()??;
        (v == "Local/1901@desk").then_some(())
    })
    .await;

    // A caller on the line with the desk: "Park my caller".
    let caller =
        tokio::task::spawn_blocking(|| sandbox::call_desk(PORT_A, "5559001", "Alice Caller", "1901"))
            .await
            .unwrap();
    let mut events = truth.events();
    b.driver.find(By::Id("park-my-caller")).await.unwrap().click().await.unwrap();
    let parked =
        live::next_event(&mut events, "the caller parked", |e| live::parked_event_for(e, "5559001")).await;
    let space = parked.call().parking_space;
    assert_eq!(parked.call().channel(), caller, "the caller, not the desk, is parked");
    let big = poll("the space shown big", DEADLINE, || async { b.text_of("#parked-space").await }).await;
    assert!(big.contains(&space.to_string()) && big.contains("Alice Caller"), "{big}");
    // Said to screen readers too (a polite live region).
    let said = poll("the park announced", DEADLINE, || async {
        b.text_of("#announce").await.filter(|t| t.contains("parked"))
    })
    .await;
    assert_eq!(said, format!("Alice Caller <5559001> parked in default space {space}"));
    tokio::task::spawn_blocking(|| {
        sandbox::wait_status(PORT_A, "the desk free", |l| {
            !l.iter().any(|(c, _)| c.starts_with("Local/1901@desk-"))
        })
    })
    .await
    .unwrap();
    poll("the caller in its cell", DEADLINE, || async {
        b.cell(space).await.filter(|(c, t)| c.starts_with("parking-space occupied") && t.contains("5559001"))
    })
    .await;
    shot_and_axe(b, &axe, "desk-2-parked-my-caller").await;

    // A drag onto another space moves the call in Asterisk.
    let to = if space == 715 { 716 } else { 715 };
    drag(b, "default", space, "default", to).await;
    let moved =
        live::next_event(&mut events, "the call moved", |e| matches!(e, ParkingEvent::Moved { .. })).await;
    assert_eq!((moved.call().parking_space, moved.call().unique_id()), (to, parked.call().unique_id()));
    let t = parked_truth(PORT_A);
    assert_eq!(t.iter().map(|(l, s, _)| (l.as_str(), *s)).collect::<Vec<_>>(), [("default", to)], "{t:?}");
    poll("the moved call in its new cell", DEADLINE, || async {
        b.cell(to).await.filter(|(c, t)| c.starts_with("parking-space occupied") && t.contains("5559001"))
    })
    .await;
    let note =
        poll("the move's result", DEADLINE, || async { b.text_of(".move-panel .parking-result.ok").await })
            .await;
    assert!(note.contains(&format!("from {space} to default {to}")), "{note}");
    shot_and_axe(b, &axe, "desk-3-dragged").await;

    // The keyboard alone: from the phone field, Tab reaches "Park my caller"; Enter parks.
    tokio::task::spawn_blocking(|| sandbox::call_desk(PORT_A, "5559002", "Bob Second", "1901"))
        .await
        .unwrap();
    b.driver.find(By::Id("my-phone-input")).await.unwrap().focus().await.unwrap();
    press(b, Key::Tab.value().to_string().as_str()).await;
    assert_eq!(focused(b).await, "park-my-caller", "Tab from the phone goes to Park my caller");
    let outline = b
        .driver
        .execute("return getComputedStyle(document.activeElement).outlineStyle;", Vec::new())
        .await
        .unwrap()
        .convert::<String>()
        .unwrap();
    assert_ne!(outline, "none", "the focus is visible");
    press(b, Key::Enter.value().to_string().as_str()).await;
    let second =
        live::next_event(&mut events, "the second caller parked", |e| live::parked_event_for(e, "5559002"))
            .await;
    let big = poll("the second space shown big", DEADLINE, || async {
        b.text_of("#parked-space").await.filter(|t| t.contains("Bob Second"))
    })
    .await;
    assert!(big.contains(&second.call().parking_space.to_string()), "{big}");
    // R (focus off any field): the longest waiting call (Alice's) rings my phone.
    b.driver.execute("document.activeElement && document.activeElement.blur();", Vec::new()).await.unwrap();
    press(b, "r").await;
    let got = live::next_event(&mut events, "the longest waiting retrieved", |e| {
        matches!(e, ParkingEvent::Retrieved { .. })
    })
    .await;
    assert_eq!(got.call().caller_id_num(), "5559001", "the longest waiting goes first");
    let ringing = poll("the retrieve's result", DEADLINE, || async {
        b.text_of(".my-outcome .parking-result.ok").await
    })
    .await;
    assert_eq!(
        ringing,
        format!("Alice Caller <5559001> from space {to} is ringing your phone (Local/1901@desk)")
    );
    // P (no field focused) parks the caller: the desk now has Alice back on the line.
    tokio::task::spawn_blocking(|| {
        sandbox::wait_status(PORT_A, "Alice back on the desk", |l| {
            l.iter().any(|(c, b)| c.starts_with("Local/1901@desk-") && !b.is_empty())
        })
    })
    .await
    .unwrap();
    shot_and_axe(b, &axe, "desk-4-keyboard").await;

    // A call near its timeout (the vip lot's 5 s are under the 30 s warning): said in
    // words in its cell, and announced.
    live::park_dialplan(&truth, "5559003", "vip").await;
    let near =
        live::next_event(&mut events, "the vip call parked", |e| live::parked_event_for(e, "5559003")).await;
    let (class, text) = poll("the warning in the cell", DEADLINE, || async {
        b.cell(near.call().parking_space).await.filter(|(c, _)| c.contains("warning"))
    })
    .await;
    assert!(text.contains("Timing out soon"), "not by colour alone: {class} {text}");
    poll("the near-timeout announced", DEADLINE, || async {
        b.text_of("#announce").await.filter(|t| t.ends_with("is about to time out"))
    })
    .await;
    shot_and_axe(b, &axe, "desk-4b-near-timeout").await;

    // A phone's screen: one column, the park button in sight without scrolling.
    b.driver.set_window_rect(0, 0, 390, 844).await.unwrap();
    let fits = b
        .driver
        .execute(
            "const r = document.getElementById('park-my-caller').getBoundingClientRect();
             return [r.bottom <= window.innerHeight, document.documentElement.scrollWidth <= window.innerWidth + 1, window.innerWidth];",
            Vec::new(),
        )
        .await
        .unwrap()
        .convert::<(bool, bool, u32)>()
        .unwrap();
    assert!(fits.0, "the park button is below the fold at 390x844");
    assert!(fits.1, "the page scrolls sideways at 390x844 (inner width {})", fits.2);
    shot_and_axe(b, &axe, "desk-5-phone-390x844").await;
    b.driver.set_window_rect(0, 0, 1400, 1000).await.unwrap();
}

/// A TCP proxy to Asterisk the test can cut: `cut` drops every connection through it
/// and refuses new ones (Asterisk itself keeps running), `restore` lets them in again.
struct Cuttable {
    port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cuts: tokio::sync::watch::Sender<u64>,
}

impl Cuttable {
    async fn start(upstream: u16) -> Cuttable {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cuts, _) = tokio::sync::watch::channel(0u64);
        let (accept_open, accept_cuts) = (open.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accept_open.load(Ordering::SeqCst) {
                    // Cut: the connection is closed at once, as a dead route would.
                    continue;
                }
                let mut cut = accept_cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Cuttable { port, open, cuts }
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The link to Asterisk cut without a shutdown (Asterisk keeps running and keeps its
/// call): the lot is shown stale with its call (not empty, no confident "Empty"), the
/// total says it is incomplete; a call parked meanwhile appears once the link is back,
/// and the lot is fresh again. axe-core checks both states.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_shows_the_lot_stale_with_its_call_then_fresh() {
    let Some((_guard, truth)) = live::on_clean_pbx().await else { return };
    let Some(axe) = axe_source() else { return };
    let Some(browser) = Browser::start().await else { return };
    let b = &browser;
    let proxy = Cuttable::start(PORT_A).await;
    let board_client = live::client_with(proxy.port, ParkingStore::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    serve(listener, Board::local(board_client, addr, "Local/s@hold"));
    b.driver.goto(format!("http://{addr}/")).await.unwrap();
    poll("the board connected", DEADLINE, || async { b.text_of(".server.up").await }).await;

    let mut events = truth.events();
    live::park_dialplan(&truth, "5558001", "default").await;
    let parked = live::next_event(&mut events, "parked", |e| live::parked_event_for(e, "5558001")).await;
    let space = parked.call().parking_space;
    poll("the call on the board", DEADLINE, || async {
        b.cell(space).await.filter(|(c, t)| c.starts_with("parking-space occupied") && t.contains("5558001"))
    })
    .await;

    proxy.cut();
    let down = poll("the disconnected badge", DEADLINE, || async { b.text_of(".server.down").await }).await;
    assert!(down.contains("disconnected"), "{down}");
    let note =
        poll("the stale note", DEADLINE, || async { b.text_of("[data-lot='default'] .stale-note").await })
            .await;
    assert!(note.starts_with("Server down: calls as last known at "), "{note}");
    let (class, text) = b.cell(space).await.expect("the call's cell");
    assert!(class.starts_with("parking-space occupied") && text.contains("5558001"), "kept: {class} {text}");
    let total = b.text_of(".total").await.unwrap();
    assert_eq!(total, "1 parked (incomplete)");
    let count = b.text_of("[data-lot='default'] .lot-count").await.unwrap();
    assert!(count.starts_with("last known"), "{count}");
    let empties = b.driver.find_all(By::Css("[data-lot='default'] .empty")).await.unwrap();
    assert_eq!(empties.len(), 19);
    for e in &empties {
        assert_eq!(e.text().await.unwrap(), "Not known", "no confident Empty while the server is down");
    }
    let load = b.text_of("[data-lot='load'] .free-count").await.unwrap();
    assert_eq!(load, "999 free when last known", "a large lot's free count is not confident either");
    // Asterisk carries on meanwhile: a second call is parked that the board cannot see.
    live::park_dialplan(&truth, "5558002", "default").await;
    let second = live::next_event(&mut events, "parked", |e| live::parked_event_for(e, "5558002")).await;
    assert!(b.text_of("body").await.is_some_and(|t| !t.contains("5558002")));
    shot_and_axe(b, &axe, "stale-1-link-cut").await;

    proxy.restore();
    poll("the connected badge again", Duration::from_secs(20), || async { b.text_of(".server.up").await })
        .await;
    poll("the resync shows the call parked meanwhile", DEADLINE, || async {
        b.cell(second.call().parking_space).await.filter(|(_, t)| t.contains("5558002"))
    })
    .await;
    poll("the stale note gone", DEADLINE, || async {
        b.driver.find_all(By::Css(".stale-note")).await.ok()?.is_empty().then_some(())
    })
    .await;
    assert_eq!(b.text_of(".total").await.unwrap(), "2 parked");
    assert!(b.cell(space).await.is_some_and(|(_, t)| t.contains("5558001")), "the first call stays");
    shot_and_axe(b, &axe, "stale-2-link-back").await;
}
