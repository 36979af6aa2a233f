//! A link to Asterisk cut and restored: the lot shown stale with its call, then fresh.

use super::*;

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
    let Some(scene) = Scene::start().await else { return };
    let (truth, axe, b) = (&scene.truth, &scene.axe, &scene.browser);
    let proxy = Cuttable::start(PORT_A).await;
    let board_client = live::client_with(proxy.port, ParkingStore::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    serve(listener, Board::local(board_client, addr, "Local/s@hold"));
    b.driver.goto(format!("http://{addr}/")).await.unwrap();
    poll("the board connected", DEADLINE, || async { b.text_of(".server.up").await }).await;

    let mut events = truth.events();
    live::park_dialplan(truth, "5558001", "default").await;
    let parked = live::next_event(&mut events, "parked", |e| live::parked_event_for(e, "5558001")).await;
    let space = parked.call().parking_space;
    poll("the call on the board", DEADLINE, || async {
        b.cell(space).await.filter(|(c, t)| c.starts_with("parking-space occupied") && t.contains("5558001"))
    })
    .await;

    proxy.cut();
    shows_the_server_down(b).await;
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
    live::park_dialplan(truth, "5558002", "default").await;
    let second = live::next_event(&mut events, "parked", |e| live::parked_event_for(e, "5558002")).await;
    assert!(b.text_of("body").await.is_some_and(|t| !t.contains("5558002")));
    shot_and_axe(b, axe, "stale-1-link-cut").await;

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
    shot_and_axe(b, axe, "stale-2-link-back").await;
}
