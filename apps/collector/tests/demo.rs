//! The collector and its frontends over a real `nats-server`, with the embedded demo
//! PBX (the reference model behind a loopback AMI port) as the traffic source: the
//! NATS side under load, gaps and garbage. What Asterisk itself does is the sandbox
//! test's (`cluster.rs`); here the source is the model, so no sandbox is needed.

mod common;

use ami_parking::ParkingClient;
use ami_parking_tests::measure::{knob, poll};
use ami_parking_tests::nats::{self, Cluster};
use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::nats::protocol::{self, Kind, Subjects};
use ami_parking_transport::{Client, ClientOptions};
use common::*;
use std::time::{Duration, Instant};

/// A demo PBX, one NATS node, one collector (no election), two frontends.
struct Bench {
    demo: DemoPbx,
    _cluster: Cluster,
    collector: ami_parking_tests::process::AppProcess,
    fronts: Vec<Frontend>,
    nats_url: String,
    dir: std::path::PathBuf,
}

async fn bench(events_per_minute: f64, frontends: usize, extra: &[&str]) -> Option<Bench> {
    let bin = nats::require()?;
    let cluster = Cluster::start(&bin, 1, "").await;
    let demo = DemoPbx::start(events_per_minute).await.expect("the demo PBX");
    let dir = std::env::temp_dir().join(format!(
        "ami-parking-collector-demo-{}-{}",
        std::process::id(),
        cluster.ports[0]
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = secret_file(&dir);
    let url = cluster.url(0, "t1", "demo");
    let mut collector = collector(&demo.addr().to_string(), &url, &secret, "c1", extra);
    collector
        .line("the collector active", Duration::from_secs(20), |l| l.contains("is now the active collector"))
        .await;
    let fronts: Vec<Frontend> = (0..frontends).map(|_| frontend(&url)).collect();
    for f in &fronts {
        f.client.wait_logged_in(Duration::from_secs(20)).await.expect("a snapshot from the collector");
    }
    let nats_url = format!("nats://127.0.0.1:{}", cluster.ports[0]);
    Some(Bench { demo, _cluster: cluster, collector, fronts, nats_url, dir })
}

impl Bench {
    async fn finish(self) {
        for f in &self.fronts {
            f.client.shutdown().await;
        }
        drop(self.collector);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontends_over_nats_equal_the_pbx_and_hear_each_change_once() {
    let changes = knob("AMI_PARKING_NATS_CHANGES", 300);
    let rate = knob("AMI_PARKING_NATS_RATE_PER_MIN", 6000) as f64;
    let Some(b) = bench(rate, 2, &[]).await else { return };
    let start = Instant::now();
    let from = b.demo.changes_made();
    poll("the demo's changes", Duration::from_secs(120), || async {
        (b.demo.changes_made() >= from + changes).then_some(())
    })
    .await;
    b.demo.pause(true);
    let made = b.demo.changes_made() - from;
    let secs = start.elapsed().as_secs_f64();
    let truth = b.demo.truth();
    let mut behind = Duration::ZERO;
    for f in &b.fronts {
        behind = behind.max(until_equal(f, &truth, TAKEOVER).await);
        each_change_once(f);
    }
    let heard = b.fronts[0].events.lock().unwrap().len();
    eprintln!(
        "nats: {made} changes in {secs:.1} s ({:.0}/s) through one collector; frontend 1 heard {heard} events; \
         every frontend equal {behind:?} after the last change",
        made as f64 / secs
    );
    b.finish().await;
}

/// A collector that falls behind Asterisk's events skips them and publishes a resync
/// snapshot instead. The snapshot (the AMI client's store) is ahead of the skipped
/// stream's rest: before the messages were numbered, the collector then replayed those
/// older parks and retrieves over it, and a frontend heard a call parked twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_falls_behind_resyncs_and_no_frontend_hears_a_change_twice() {
    // 1,000 changes a second against a queue of 4 messages: it falls behind over and
    // over, at a rate a debug build keeps up with on a busy machine.
    let Some(mut b) = bench(60_000.0, 2, &["--events-queue", "4"]).await else { return };
    let from = b.demo.changes_made();
    poll("the demo's changes", Duration::from_secs(120), || async {
        (b.demo.changes_made() >= from + 3_000).then_some(())
    })
    .await;
    b.demo.pause(true);
    b.collector
        .line("a resync after falling behind", Duration::from_secs(10), |l| l.contains("fell behind"))
        .await;
    let truth = b.demo.truth();
    for f in &b.fronts {
        until_equal(f, &truth, TAKEOVER).await;
        each_change_once(f);
    }
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_or_garbage_on_nats_ends_neither_a_frontend_nor_the_collector() {
    let Some(b) = bench(600.0, 1, &[]).await else { return };
    let nc = async_nats::connect(b.nats_url.as_str()).await.expect("a NATS client of the test");
    let s = Subjects::new("t1", "demo").unwrap();
    // No headers; headers and a body of garbage; a change far ahead of the frontend
    // (a gap); requests of garbage to the collector.
    nc.publish(s.events("default"), "garbage".into()).await.unwrap();
    let ahead = protocol::headers(u64::MAX, 1, Kind::Event);
    nc.publish_with_headers(s.events("default"), ahead, "\u{0}\r\n\r\n::".into()).await.unwrap();
    let gap = protocol::headers(0, u64::MAX, Kind::Resync);
    nc.publish_with_headers(s.control(), gap, "{".into()).await.unwrap();
    let answer = nc.request(s.action(), "{\"op\":\"explode\"}".into()).await.expect("the collector answers");
    let answer = protocol::ActionReply::from_json(&answer.payload).expect("an answer it can read");
    assert!(matches!(answer, protocol::ActionReply::Error { .. }), "{answer:?}");
    let snap = nc.request(s.snapshot(), "whatever".into()).await.expect("a snapshot");
    protocol::Snapshot::from_json(&snap.payload).expect("a snapshot it can read");
    // The frontend still follows, and the collector still acts.
    b.demo.pause(true);
    let truth = b.demo.truth();
    until_equal(&b.fronts[0], &truth, TAKEOVER).await;
    let err = b.fronts[0].client.retrieve_call(Some("default"), 719, "Local/s@hold").await;
    let truth_has_719 = truth.iter().any(|(l, s, _)| l == "default" && *s == 719);
    assert!(truth_has_719 || err.is_err(), "retrieving an empty space is refused: {err:?}");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_within_5_s_when_the_active_collector_and_a_nats_node_are_killed() {
    let Some(bin) = nats::require() else { return };
    let mut cluster = Cluster::start(&bin, 3, "").await;
    let demo = DemoPbx::start(1200.0).await.expect("the demo PBX");
    let dir = std::env::temp_dir().join(format!("ami-parking-collector-failover-{}", cluster.ports[0]));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = secret_file(&dir);
    let ami = demo.addr().to_string();
    let mut c1 = collector(&ami, &cluster.url(0, "t1", "demo"), &secret, "c1", ELECTED);
    let mut c2 = collector(&ami, &cluster.url(1, "t1", "demo"), &secret, "c2", ELECTED);
    let active_line = |l: &str| l.contains("is now the active collector");
    tokio::select! {
        _ = c1.line("an active collector", Duration::from_secs(30), active_line) => {}
        _ = c2.line("an active collector", Duration::from_secs(30), active_line) => {}
    };
    let node2 = format!("127.0.0.1:{}", cluster.ports[2]);
    let fronts = [frontend(&cluster.url(0, "t1", "demo")), frontend(&cluster.url(2, "t1", "demo"))];
    for f in &fronts {
        f.client.wait_logged_in(Duration::from_secs(20)).await.expect("a snapshot from the collector");
    }
    let from = demo.changes_made();
    poll("traffic", Duration::from_secs(60), || async { (demo.changes_made() >= from + 20).then_some(()) })
        .await;
    // kill -9 the active collector and NATS node 0 (the first node of frontend 1 and
    // collector 1); the traffic goes on.
    let first = active_collector(&node2, "t1", "demo").await;
    let killed_at = Instant::now();
    if first == "c1" {
        c1.signal("KILL");
    } else {
        c2.signal("KILL");
    }
    cluster.kill9(0).await;
    poll("the standby active", TAKEOVER, || {
        let (node2, first) = (node2.clone(), first.clone());
        async move { (active_collector(&node2, "t1", "demo").await != first).then_some(()) }
    })
    .await;
    let took_over = killed_at.elapsed();
    demo.pause(true);
    let truth = demo.truth();
    for f in &fronts {
        until_equal(f, &truth, TAKEOVER.saturating_sub(killed_at.elapsed()).max(Duration::from_millis(500)))
            .await;
        each_change_once(f);
    }
    let equal = killed_at.elapsed();
    eprintln!(
        "failover: the standby was active {took_over:?} and every frontend equal {equal:?} after the kill -9"
    );
    assert!(equal <= TAKEOVER + Duration::from_millis(500), "{equal:?}");
    for f in &fronts {
        f.client.shutdown().await;
    }
    drop((c1, c2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Subject permissions as docs/nats.md gives them: tenant `acme`'s collector and
/// board, and a board of tenant `other` that tries to read `acme`.
const TENANTS: &str = r#"
authorization {
  users = [
    { user: collector_acme, password: "c-acme-pw",
      permissions: { publish: ["parking.acme.>"], subscribe: ["parking.acme.>"], allow_responses: true } }
    { user: board_acme, password: "b-acme-pw",
      permissions: { publish: ["parking.acme.*.snapshot", "parking.acme.*.action"],
                     subscribe: ["parking.acme.*.*.events", "_INBOX_acme.>"] } }
    { user: board_other, password: "b-other-pw",
      permissions: { publish: ["parking.other.*.snapshot", "parking.other.*.action"],
                     subscribe: ["parking.other.*.*.events", "_INBOX_other.>"] } }
  ]
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_sees_only_its_own_subjects_with_credentials_from_files() {
    let Some(bin) = nats::require() else { return };
    let cluster = Cluster::start(&bin, 1, TENANTS).await;
    let demo = DemoPbx::start(600.0).await.expect("the demo PBX");
    let dir = std::env::temp_dir().join(format!("ami-parking-collector-tenants-{}", cluster.ports[0]));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = secret_file(&dir);
    let pw = |name: &str, pw: &str| {
        let p = dir.join(name);
        std::fs::write(&p, format!("{pw}\n")).unwrap();
        p
    };
    let (c_pw, b_pw, o_pw) = (pw("c", "c-acme-pw"), pw("b", "b-acme-pw"), pw("o", "b-other-pw"));
    let mut c = collector(
        &demo.addr().to_string(),
        &cluster.url_as(0, "collector_acme", &c_pw, "acme", "pbx1"),
        &secret,
        "acme",
        &[],
    );
    c.line("the collector active", Duration::from_secs(20), |l| l.contains("is now the active collector"))
        .await;
    let mine = frontend(&cluster.url_as(0, "board_acme", &b_pw, "acme", "pbx1"));
    let theirs = frontend(&cluster.url_as(0, "board_other", &o_pw, "acme", "pbx1"));
    mine.client.wait_logged_in(Duration::from_secs(20)).await.expect("acme's board gets acme's snapshot");
    demo.pause(true);
    let truth = demo.truth();
    assert!(!truth.is_empty(), "the demo parks calls from the start");
    until_equal(&mine, &truth, TAKEOVER).await;
    // The other tenant's board is refused: its snapshot request is not allowed, so it
    // never logs in, and it holds nothing of acme's.
    let refused = theirs.client.wait_logged_in(Duration::from_secs(5)).await;
    assert!(refused.is_err(), "the other tenant must not get acme's snapshot");
    assert_eq!(theirs.client.store().total_parked_calls_now(), 0);
    // A password that is wrong is refused too (and never shown).
    let wrong = pw("w", "not-the-password");
    let bad = frontend(&cluster.url_as(0, "board_acme", &wrong, "acme", "pbx1"));
    let err = bad.client.wait_logged_in(Duration::from_secs(5)).await.unwrap_err().to_string();
    assert!(!err.contains("not-the-password") && !err.contains("b-acme-pw"), "{err}");
    // The server's secret in the options (a board's `secret_file`) is the user's NATS
    // password when the URL names none.
    let plain = cluster.url(0, "acme", "pbx1");
    let user_url = plain.replacen("nats://", "nats://board_acme@", 1);
    let mut o = ClientOptions::new(user_url.parse().unwrap());
    o.secret = Some(ami_parking::Secret::new("b-acme-pw"));
    let by_secret = Client::connect(o);
    by_secret.wait_logged_in(Duration::from_secs(20)).await.expect("the options' secret logs the user in");
    // A password without a user would be dropped by NATS: the link refuses it, and says so.
    let sep = if plain.contains('?') { '&' } else { '?' };
    let no_user = format!("{plain}{sep}password_file={}", b_pw.display());
    let lone = Client::connect(ClientOptions::new(no_user.parse().unwrap()));
    let err = lone.wait_logged_in(Duration::from_secs(5)).await.unwrap_err().to_string();
    assert!(err.contains("a NATS password was given but no user"), "{err}");
    for f in [mine, theirs, bad] {
        f.client.shutdown().await;
    }
    by_secret.shutdown().await;
    lone.shutdown().await;
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CA and a certificate for 127.0.0.1 (made with openssl, as the transport's TLS
/// tests make theirs).
fn certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out =
            std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=nats", "-keyout", "srv.key", "-out", "srv.csr",
    ]);
    std::fs::write(
        dir.join("srv.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "srv.ext",
        "-out",
        "srv.pem",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_nats_with_the_ca_given_and_refused_without_it() {
    let Some(bin) = nats::require() else { return };
    let dir = std::env::temp_dir().join(format!("ami-parking-collector-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let tls = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\" }}",
        dir.join("srv.pem").display(),
        dir.join("srv.key").display()
    );
    let cluster = Cluster::start(&bin, 1, &tls).await;
    let demo = DemoPbx::start(600.0).await.expect("the demo PBX");
    let secret = secret_file(&dir);
    let url = format!("{}?tls=1", cluster.url(0, "t1", "demo"));
    let ca = dir.join("ca.pem").to_string_lossy().into_owned();
    let mut c = collector(&demo.addr().to_string(), &url, &secret, "c1", &["--tls-ca-file", &ca]);
    c.line("the collector active", Duration::from_secs(20), |l| l.contains("is now the active collector"))
        .await;
    let with_ca = {
        let mut o = ami_parking_transport::ClientOptions::new(url.parse().unwrap());
        o.tls_ca_file = Some(dir.join("ca.pem"));
        ami_parking_transport::Client::connect_all(vec![o], Default::default()).unwrap()
    };
    with_ca.wait_logged_in(Duration::from_secs(20)).await.expect("a snapshot over TLS");
    demo.pause(true);
    let truth = demo.truth();
    poll("the store over TLS", TAKEOVER, || async {
        (ami_parking_tests::live::truth_of(with_ca.store(), 1) == truth).then_some(())
    })
    .await;
    // Without the CA the server's certificate is not trusted: no snapshot.
    let without = frontend(&url);
    assert!(without.client.wait_logged_in(Duration::from_secs(5)).await.is_err());
    assert_eq!(without.client.store().total_parked_calls_now(), 0);
    with_ca.shutdown().await;
    without.client.shutdown().await;
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}
