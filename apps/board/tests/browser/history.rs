//! The History page and its CSV export after a morning on the real sandbox.

use super::*;

/// `GET path` on the board with a plain socket: the body.
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
