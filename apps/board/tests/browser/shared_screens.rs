//! A viewer's screens: one render on the server, sent to each screen.

use super::*;

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
