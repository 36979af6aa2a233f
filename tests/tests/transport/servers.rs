//! The demo PBX serves any number of AMI clients at once, each seeing the same PBX;
//! one multi-server `Client` numbers its servers by one rule, asks every server for a
//! list, and routes what needs one server to the right one.

use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::{ConnectionState, Park, ParkingClient, ParkingError, ParkingStore, Target};
use ami_parking_tests::live::truth_of;
use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::{Client, ClientOptions, ServersError};
use futures_util::StreamExt;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(10);

fn options(demo: &DemoPbx) -> ClientOptions {
    ClientOptions::new(demo.url().parse().unwrap())
}

#[tokio::test]
async fn three_clients_of_one_demo_pbx_see_the_same_pbx_and_each_others_retrieves() {
    let demo = DemoPbx::start(600.0).await.unwrap();
    demo.pause(true);
    let clients: Vec<Client> = (0..3).map(|_| Client::connect(options(&demo))).collect();
    for c in &clients {
        c.wait_logged_in(DEADLINE).await.expect("every client logs in at once");
        c.get_parking_lots().await.unwrap();
        c.get_parked_calls(None).await.unwrap();
    }
    let truth = demo.truth();
    assert!(!truth.is_empty(), "the demo starts with calls parked");
    for c in &clients {
        assert_eq!(truth_of(c.store(), 1), truth, "every client lists the same calls");
    }
    // One client retrieves a call: the others hear it, live.
    let mut heard: Vec<_> = clients[1..].iter().map(|c| c.events()).collect();
    let (lot, space, uid) = truth[0].clone();
    let got = clients[0].retrieve_call(Some(&lot), space, "PJSIP/1002").await.expect("retrieve");
    assert_eq!((got.lot.as_str(), got.space), (lot.as_str(), space));
    for events in &mut heard {
        let e = tokio::time::timeout(DEADLINE, async {
            loop {
                let e = events.next().await.expect("events go on");
                if e.kind() == "retrieved" {
                    return e;
                }
            }
        })
        .await
        .expect("another client hears the retrieve");
        assert_eq!(e.call().unique_id(), uid.as_str());
    }
    // The traffic reaches every client too, and they stay equal to the demo.
    let mut traffic = clients[0].events();
    demo.pause(false);
    tokio::time::timeout(DEADLINE, async {
        let mut changes = 0;
        while changes < 5 {
            let e = traffic.next().await.expect("events go on");
            changes += usize::from(!matches!(e.kind(), "near_timeout" | "resync"));
        }
    })
    .await
    .expect("the demo's traffic reaches the clients");
    demo.pause(true);
    let truth = demo.truth();
    for c in &clients {
        tokio::time::timeout(DEADLINE, async {
            let mut changes = c.events();
            while truth_of(c.store(), 1) != truth {
                let _ = tokio::time::timeout(Duration::from_millis(200), changes.next()).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!("a client ends equal to the demo: {:?} vs {truth:?}", truth_of(c.store(), 1))
        });
    }
    // One client's Logoff leaves the others logged in and hearing.
    clients[2].shutdown().await;
    let again = clients[0].get_parked_calls(None).await.expect("the others still work");
    assert_eq!(again.len(), truth.len());
    for c in &clients[..2] {
        c.shutdown().await;
    }
}

#[tokio::test]
async fn one_client_of_two_demo_pbxs_numbers_lists_and_routes_by_one_rule() {
    let (a, b) = (DemoPbx::start(60.0).await.unwrap(), DemoPbx::start(60.0).await.unwrap());
    a.pause(true);
    b.pause(true);
    let store = ParkingStore::default();
    let both = Client::connect_all(vec![options(&a), options(&b)], store.clone()).unwrap();
    both.wait_logged_in(DEADLINE).await.unwrap();
    // Lists go to every server, the answers merged: servers 1 and 2, in the order given.
    let lots = both.get_parking_lots().await.unwrap();
    let mut servers: Vec<u32> = lots.iter().map(|l| l.server_id).collect();
    servers.dedup();
    assert_eq!(servers, vec![1, 2], "{lots:?}");
    both.get_parked_calls(None).await.unwrap();
    assert_eq!(truth_of(&store, 1), a.truth());
    assert_eq!(truth_of(&store, 2), b.truth());
    // Both demos start with calls in the same spaces: a retrieve without a server is
    // ambiguous there; named, it goes to that server; then the one holder takes it.
    let (lot, space, _) = a.truth()[0].clone();
    assert!(b.truth().iter().any(|(l, s, _)| (l, s) == (&lot, &space)), "the demos start alike");
    assert_eq!(
        both.retrieve_call(Some(&lot), space, "PJSIP/1002").await.unwrap_err(),
        ParkingError::AmbiguousServer { action: "Originate (retrieve)".into(), servers: vec![1, 2] }
    );
    let got = both.retrieve_call_on(Target::Server(2), Some(&lot), space, "PJSIP/1002").await.unwrap();
    assert_eq!(got.server_id, 2);
    assert!(b.truth().iter().all(|(l, s, _)| (l, s) != (&lot, &space)));
    let got = both.retrieve_call(Some(&lot), space, "PJSIP/1002").await.unwrap();
    assert_eq!(got.server_id, 1, "only server 1 holds it now");
    // What cannot be routed is refused, typed, before anything is sent.
    assert_eq!(
        both.park_call("PJSIP/1001-00000001", Park::default()).await.unwrap_err(),
        ParkingError::AmbiguousServer { action: "Park".into(), servers: vec![1, 2] }
    );
    assert!(matches!(
        both.get_parking_lots_on(Target::Server(7)).await.unwrap_err(),
        ParkingError::UnknownServer { server_id: 7, .. }
    ));
    assert!(matches!(
        both.retrieve_call(Some("default"), 799, "PJSIP/1002").await.unwrap_err(),
        ParkingError::SpaceEmpty { space: 799, .. }
    ));
    both.shutdown().await;
}

/// A call a view's filter hides is still Asterisk's, and can still be retrieved or
/// moved without naming its server (found by a review: with two servers, routing
/// looked among the shown calls only, and said nothing was parked there).
#[tokio::test]
async fn a_hidden_call_is_routed_to_the_server_that_holds_it() {
    let (a, b) = (DemoPbx::start(60.0).await.unwrap(), DemoPbx::start(60.0).await.unwrap());
    a.pause(true);
    b.pause(true);
    let hide = ami_parking::ParkingOptions::default().parked_call_filter(|c| &*c.parking_lot != "default");
    let store = ParkingStore::new(hide);
    let both = Client::connect_all(vec![options(&a), options(&b)], store.clone()).unwrap();
    both.wait_logged_in(DEADLINE).await.unwrap();
    both.get_parked_calls(None).await.unwrap();
    // Both demos start with the same spaces of `default` taken: server 2's is
    // retrieved, so only server 1 holds the space.
    let (lot, space, _) = a.truth()[0].clone();
    assert_eq!(lot, "default");
    assert_eq!(store.servers_holding_now(&lot, space), vec![1, 2]);
    both.retrieve_call_on(Target::Server(2), Some(&lot), space, "PJSIP/1002").await.unwrap();
    assert!(store.parked_call_now(Some(&lot), space).is_none(), "the views hide it");
    assert_eq!(store.servers_holding_now(&lot, space), vec![1]);
    let got = both.retrieve_call(Some(&lot), space, "PJSIP/1002").await.unwrap();
    assert_eq!((got.server_id, got.space), (1, space));
    assert!(a.truth().iter().all(|(l, s, _)| (l, *s) != (&lot, space)), "server 1 let it go");
    both.shutdown().await;
}

/// A demo dropped is a PBX gone: its clients' links close and they reconnect (found
/// by a review: they stayed logged in, and were answered, after the drop).
#[tokio::test]
async fn a_dropped_demo_closes_its_clients_links() {
    let demo = DemoPbx::start(60.0).await.unwrap();
    let client = Client::connect(options(&demo));
    client.wait_logged_in(DEADLINE).await.unwrap();
    drop(demo);
    let mut states = client.connection_state().to_stream();
    tokio::time::timeout(DEADLINE, async {
        while let Some(s) = states.next().await {
            if !matches!(s, ConnectionState::LoggedIn) {
                return;
            }
        }
    })
    .await
    .expect("the link closes when the demo is dropped");
    assert!(client.get_parking_lots().await.is_err(), "nothing answers");
    client.shutdown().await;
}

#[test]
fn a_set_of_servers_that_cannot_be_one_client_is_refused() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _in = rt.enter();
    assert_eq!(Client::connect_all(Vec::new(), ParkingStore::default()).unwrap_err(), ServersError::None);
    let ws = ClientOptions::new("ws://127.0.0.1:1/".parse().unwrap());
    let tcp = ClientOptions::new("tcp://amiuser@127.0.0.1:1".parse().unwrap());
    assert!(matches!(
        Client::connect_all(vec![tcp, ws], ParkingStore::default()).unwrap_err(),
        ServersError::AmiwsNotAlone { .. }
    ));
}

/// Reads from `sock` until `want` has come (or fails at the deadline).
async fn read_until(sock: &mut tokio::net::TcpStream, want: &str) -> String {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(DEADLINE, async {
        while !String::from_utf8_lossy(&got).contains(want) {
            let n = sock.read(&mut buf).await.expect("the demo answers");
            assert!(n > 0, "the demo closed before {want:?}: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {want:?} from the demo: {}", String::from_utf8_lossy(&got)));
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn the_demo_keeps_a_caller_on_each_desk_phone_to_park() {
    let demo = DemoPbx::start(600.0).await.unwrap();
    let client = Client::connect(options(&demo));
    client.wait_logged_in(DEADLINE).await.unwrap();
    for phone in ami_parking_transport::demo::DESK_PHONES {
        let at = client.park_caller_of(phone, Park::default().lot("vip")).await.unwrap();
        assert_eq!((at.lot.as_str(), at.call.caller_id_num().starts_with("5553")), ("vip", true), "{at:?}");
    }
    // The next caller rings through after a parked one: the demo's next tick seats one.
    tokio::time::timeout(DEADLINE, async {
        loop {
            match client.park_caller_of("PJSIP/1001", Park::default()).await {
                Ok(_) => break,
                Err(e) => assert!(e.to_string().contains("has no call"), "{e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a new caller on PJSIP/1001 within the deadline");
    client.shutdown().await;
}

#[tokio::test]
async fn a_login_refused_for_want_of_a_secret_says_no_secret_was_given() {
    assert!(std::env::var_os("AMI_SECRET").is_none(), "this test needs AMI_SECRET unset");
    let demo = DemoPbx::start(600.0).await.unwrap();
    let url = format!("tcp://amiuser@{}", demo.addr());
    let client = Client::connect(ClientOptions::new(url.parse().unwrap()));
    let e = client.wait_logged_in(DEADLINE).await.unwrap_err();
    assert!(matches!(e, ParkingError::LoginRefused { .. }), "a refusal, typed: {e:?}");
    let e = e.to_string();
    assert!(e.contains("Authentication failed") && e.contains("no secret was given"), "{e}");
    // A wrong secret is a wrong secret.
    let wrong =
        Client::connect(ClientOptions::new(format!("tcp://amiuser:WRONG@{}", demo.addr()).parse().unwrap()));
    let e = wrong.wait_logged_in(DEADLINE).await.unwrap_err();
    assert!(matches!(e, ParkingError::LoginRefused { .. }), "a refusal, typed: {e:?}");
    let e = e.to_string();
    assert!(e.contains("Authentication failed") && !e.contains("no secret"), "{e}");
    // A wait that starts after the refusal (the link waits out `refused_login`'s
    // minute) is told at once too, not at its timeout (found by a review).
    let late = wrong.wait_logged_in(Duration::from_secs(300));
    let e = tokio::time::timeout(DEADLINE, late).await.expect("told before the deadline").unwrap_err();
    assert!(matches!(e, ParkingError::LoginRefused { .. }), "a refusal, typed: {e:?}");
    client.shutdown().await;
    wrong.shutdown().await;
    // Nobody listening is no refusal: a failure to reach the server.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let nobody = Client::connect(ClientOptions::new(format!("tcp://amiuser:pw@{closed}").parse().unwrap()));
    let e = nobody.wait_logged_in(DEADLINE).await.unwrap_err();
    assert!(matches!(e, ParkingError::LoginFailed { .. }), "not reached, typed: {e:?}");
    nobody.shutdown().await;
}

#[tokio::test]
async fn one_clients_wrong_secret_early_actions_or_logoff_touch_no_other_client() {
    use tokio::io::AsyncWriteExt;
    let demo = DemoPbx::start(600.0).await.unwrap();
    let watcher = Client::connect(options(&demo));
    watcher.wait_logged_in(DEADLINE).await.unwrap();
    let mut events = watcher.events();
    // A stranger: actions before a login are refused, a wrong secret is refused, a
    // Logoff that is not the first header ends only its own link.
    let mut stranger = tokio::net::TcpStream::connect(demo.addr()).await.unwrap();
    read_until(&mut stranger, "Asterisk Call Manager").await;
    stranger.write_all(b"Action: ParkedCalls\r\nActionID: early\r\n\r\n").await.unwrap();
    let early = read_until(&mut stranger, "ActionID: early").await;
    assert!(early.contains("Permission denied") && !early.contains("ParkedCall\r\n"), "{early}");
    stranger
        .write_all(b"Action: Login\r\nUsername: amiuser\r\nSecret: WRONG\r\nActionID: bad\r\n\r\n")
        .await
        .unwrap();
    assert!(read_until(&mut stranger, "ActionID: bad").await.contains("Authentication failed"));
    stranger.write_all(b"ActionID: z\r\nAction: Logoff\r\n\r\n").await.unwrap();
    assert!(read_until(&mut stranger, "Goodbye").await.contains("ActionID: z"));
    // The watcher still hears the traffic and is still answered.
    tokio::time::timeout(DEADLINE, async {
        let mut heard = 0;
        while heard < 3 {
            let e = events.next().await.expect("events go on");
            heard += usize::from(!matches!(e.kind(), "near_timeout" | "resync"));
        }
    })
    .await
    .expect("the watcher keeps hearing the demo after a stranger's wrong secret and Logoff");
    watcher.get_parked_calls(None).await.expect("the watcher is still answered");
    // A new client logs in as before.
    let late = Client::connect(options(&demo));
    late.wait_logged_in(DEADLINE).await.expect("a new client still logs in");
    late.shutdown().await;
    watcher.shutdown().await;
}

#[tokio::test]
async fn an_action_that_never_ends_is_cut_off_and_costs_the_others_nothing() {
    use tokio::io::AsyncWriteExt;
    let demo = DemoPbx::start(60.0).await.unwrap();
    let mut flood = tokio::net::TcpStream::connect(demo.addr()).await.unwrap();
    read_until(&mut flood, "Asterisk Call Manager").await;
    // 256 KiB without a blank line: past the demo's cap on one action.
    let line = format!("X-Filler: {}\r\n", "a".repeat(1000));
    let mut cut = false;
    for _ in 0..256 {
        if flood.write_all(line.as_bytes()).await.is_err() {
            cut = true;
            break;
        }
    }
    if !cut {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(DEADLINE, async {
            loop {
                match flood.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the demo closes a client whose action never ends");
    }
    let other = Client::connect(options(&demo));
    other.wait_logged_in(DEADLINE).await.expect("the others are served");
    other.shutdown().await;
}

#[test]
fn the_tokio_clients_operations_are_send_futures_and_the_browsers_need_not_be() {
    // Checked when this compiles: a tokio user can spawn any operation on a
    // multi-threaded runtime; the same trait gives the browser local futures.
    fn send<T: Send + 'static>(_: T) {}
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _in = rt.enter();
    let c = Client::connect(ClientOptions::new("tcp://amiuser@127.0.0.1:1".parse().unwrap()));
    send(c.get_parking_lots());
    send(c.get_parked_calls(None));
    send(c.refresh_parking_lot("default"));
    send(c.park_call("PJSIP/1001-00000001", Park::default()));
    send(c.retrieve_call(None, 701, "PJSIP/1002"));
    send(c.move_call(None, 701, Park::default().space(705)));
    send(c.retrieve_call_on(Target::Server(1), Some("vip"), 801, "PJSIP/1002"));
    let local = ami_parking::local_client(c.clone());
    let _not_send: ami_parking::Answer<ami_parking::LocalFuture<ami_parking::RequestResult>, _> =
        local.retrieve_call(None, 701, "PJSIP/1002");
}
