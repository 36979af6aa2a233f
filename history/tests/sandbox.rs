//! Acceptance on the real Asterisk sandbox: a scripted morning (parks, retrieves by
//! two users, a timeout in the 5 s `vip` lot, a hang-up, a move, a swap, an Asterisk
//! restart with calls parked, Asterisk killed with a call parked) recorded at once into SQLite (a file) and into a
//! PostgreSQL started by the test gives exactly the expected rows in both, the same
//! reports in both; and the same script run twice gives the same reports.
//!
//! Run under the sandbox lock: `flock -o /var/tmp/ami-sandbox-tests.lock cargo test
//! -p ami-parking-history --test sandbox`.

use ami_parking::{Action, EventStream, Park, ParkingClient, ParkingEvent, Request, Target};
use ami_parking_history::{Episode, History, HistoryOptions, Outcome, ReportRow, HOUR_MS};
use ami_parking_tests::live::*;
use ami_parking_tests::postgres::Postgres;
use ami_parking_tests::sandbox::{self, parked_truth, PORT_A};
use ami_parking_transport::Client;

/// What a row must say (times and ids vary from run to run).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    caller: String,
    lot: String,
    outcome: Outcome,
    by: Option<String>,
    /// The caller number of the step it continues.
    after: Option<String>,
    seen_late: bool,
    ended: bool,
}

fn rows_of(eps: &[Episode]) -> Vec<Row> {
    eps.iter()
        .map(|e| Row {
            caller: e.caller_num.clone(),
            lot: e.lot.clone(),
            outcome: e.outcome,
            by: e.retrieved_by.clone(),
            after: e.previous_id.map(|p| {
                eps.iter()
                    .find(|x| x.id == p)
                    .map(|x| x.caller_num.clone())
                    .unwrap_or_else(|| format!("#{p}"))
            }),
            seen_late: e.seen_late,
            ended: e.ended_at.is_some(),
        })
        .collect()
}

fn row(caller: &str, lot: &str, outcome: Outcome, by: Option<&str>, after: Option<&str>) -> Row {
    Row {
        caller: caller.into(),
        lot: lot.into(),
        outcome,
        by: by.map(Into::into),
        after: after.map(Into::into),
        seen_late: false,
        ended: outcome != Outcome::Open,
    }
}

async fn parked(c: &Client, events: &mut EventStream, caller: &str, lot: &str) -> u32 {
    park_dialplan(c, caller, lot).await;
    next_event(events, "parked", |e| parked_event_for(e, caller)).await.call().parking_space
}

async fn retrieve(c: &Client, hs: &[&History], events: &mut EventStream, lot: &str, space: u32, user: &str) {
    for h in hs {
        h.note_retrieve(1, lot, space, user);
    }
    c.retrieve_call(Some(lot), space, "Local/s@hold").await.expect("retrieve");
    next_event(events, "retrieved", |e| {
        matches!(e, ParkingEvent::Retrieved { call, .. } if call.parking_space == space && *call.parking_lot == *lot)
    })
    .await;
}

/// The morning, followed by every history in `hs`.
async fn morning(c: &Client, hs: &[&History]) {
    let mut events = c.events();
    c.get_parking_lots().await.unwrap();
    // Two retrieves by two users.
    let s = parked(c, &mut events, "5550001", "default").await;
    retrieve(c, hs, &mut events, "default", s, "alice").await;
    let s = parked(c, &mut events, "5550002", "default").await;
    retrieve(c, hs, &mut events, "default", s, "bob").await;
    // A timeout: the vip lot's parking time is 5 s.
    parked(c, &mut events, "5550003", "vip").await;
    let end = next_event(&mut events, "the end of the vip park", |e| {
        e.call().caller_id_num() == "5550003" && !matches!(e.kind(), "parked" | "near_timeout")
    })
    .await;
    assert_eq!(end.kind(), "timeout", "the vip park ends by its 5 s timeout: {end:?}");
    // A hang-up while parked.
    park_dialplan(c, "5550004", "default").await;
    let call = next_event(&mut events, "parked", |e| parked_event_for(e, "5550004")).await.call().clone();
    let hang = Action::new("Hangup").header("Channel", call.channel());
    c.request(Request::Action(hang), Target::All).await.unwrap();
    next_event(&mut events, "giveup", |e| e.kind() == "giveup").await;
    // A move, then a retrieve from the new space.
    let s = parked(c, &mut events, "5550005", "default").await;
    c.move_call(None, s, Park::default().space(715)).await.expect("move");
    next_event(&mut events, "moved", |e| e.kind() == "moved").await;
    retrieve(c, hs, &mut events, "default", 715, "alice").await;
    // A swap (a parked Local channel optimizes away), then a retrieve of the new parkee.
    sandbox::originate(PORT_A, "Local/s@swap-park", "swap-dial", &[]);
    let swapped = next_event(&mut events, "swap", |e| e.kind() == "swap").await;
    retrieve(c, hs, &mut events, "default", swapped.call().parking_space, "bob").await;
    // An Asterisk restart with two calls parked.
    parked(c, &mut events, "5550007", "default").await;
    parked(c, &mut events, "5550008", "default").await;
    for h in hs {
        h.flush().await.unwrap();
    }
    restart_watched(c, "a").await;
    // The two calls left the store (announced or found gone by the resync).
    wait_state(c.store(), |s| s.total_parked_calls_now() == 0).await;
    assert!(parked_truth(PORT_A).is_empty());
    c.get_parked_calls(None).await.expect("a list after the restart");
    // After it: one more park and retrieve.
    let s = parked(c, &mut events, "5550009", "default").await;
    retrieve(c, hs, &mut events, "default", s, "alice").await;
    // Asterisk killed (-9) with a call parked: nothing is announced; the resync after
    // the reconnect finds it gone: ended while not watching.
    parked(c, &mut events, "5550010", "default").await;
    sandbox::run("a", &["crash"]).expect("kill the sandbox");
    sandbox::run("a", &["start"]).expect("start the sandbox");
    next_event(&mut events, "resync", |e| matches!(e, ParkingEvent::Resync { .. })).await;
    wait_state(c.store(), |s| {
        s.total_parked_calls_now() == 0
            && s.connection_state_now() == ami_parking::ConnectionState::LoggedIn
            && !s.is_loading_now()
    })
    .await;
    for h in hs {
        h.flush().await.unwrap();
    }
}

fn expected(restart: Outcome) -> Vec<Row> {
    use Outcome::*;
    vec![
        row("5550001", "default", Retrieved, Some("alice"), None),
        row("5550002", "default", Retrieved, Some("bob"), None),
        row("5550003", "vip", TimedOut, None, None),
        row("5550004", "default", HungUp, None, None),
        row("5550005", "default", Moved, None, None),
        row("5550005", "default", Retrieved, Some("alice"), Some("5550005")),
        row("", "default", Swapped, None, None),
        // Asterisk's caller number of the new parkee at the swap (the dialplan sets
        // 5559001 after it).
        row("s", "default", Retrieved, Some("bob"), Some("")),
        row("5550007", "default", restart, None, None),
        row("5550008", "default", restart, None, None),
        row("5550009", "default", Retrieved, Some("alice"), None),
        row("5550010", "default", Unwatched, None, None),
    ]
}

/// Reports without the figures that are times (the same script twice waits a few
/// ms more or less).
fn counts(r: &[ReportRow]) -> Vec<(String, i64, i64, i64, i64, i64, i64)> {
    let mut v: Vec<_> = r
        .iter()
        .map(|r| (r.lot.clone(), r.parked, r.retrieved, r.timeouts, r.hangups, r.unwatched, r.open))
        .collect();
    v.sort();
    v
}

async fn check(hs: &[&History], since: i64) -> (Vec<Row>, Vec<ReportRow>) {
    type Seen = (Vec<Row>, Vec<ReportRow>, Vec<(String, i64)>);
    let mut first: Option<Seen> = None;
    for h in hs {
        let eps = h.db().all_episodes().await.unwrap();
        let got = rows_of(&eps);
        let restart = got.get(8).map(|r| r.outcome).unwrap_or(Outcome::Open);
        println!("{}: the restart ended the parked calls as {restart}", h.db().url());
        assert!(
            matches!(restart, Outcome::Unwatched | Outcome::HungUp),
            "a restart ends a parked call as a hang-up Asterisk announced or as ended unwatched: {got:#?}"
        );
        assert_eq!(got, expected(restart), "{}: {eps:#?}", h.db().url());
        assert!(eps.iter().all(|e| e.wait_ms.is_none_or(|w| w >= 0)));
        let timeout = &eps[2];
        let wait = timeout.wait_ms.unwrap();
        assert!((4_500..7_000).contains(&wait), "the vip timeout waited {wait} ms");
        let report = h.reports().hourly_report(since, since + 2 * HOUR_MS, 0).await.unwrap();
        let users: Vec<_> = h
            .reports()
            .retrieves_by_user(since, since + 2 * HOUR_MS)
            .await
            .unwrap()
            .into_iter()
            .map(|u| (u.user, u.retrieved))
            .collect();
        assert_eq!(users, [("alice".to_string(), 3), ("bob".to_string(), 2)]);
        let vip: Vec<_> = report.iter().filter(|r| r.lot == "vip").collect();
        assert_eq!(vip.iter().map(|r| r.timeouts).sum::<i64>(), 1);
        match &first {
            None => first = Some((got, report, users)),
            Some((g, r, u)) => {
                assert_eq!(&got, g, "the same rows in every database");
                // Each database has its own recorder, which stamps the times it sees
                // events itself: waits may differ by a millisecond or two (seen: a p90
                // of 1,713 and 1,714 ms); every count is the same.
                assert_eq!(counts(&report), counts(r), "the same counts from SQLite and PostgreSQL");
                let waits = |rows: &[ReportRow]| -> Vec<[Option<i64>; 3]> {
                    rows.iter().map(|x| [x.median_wait_ms, x.p90_wait_ms, x.longest_wait_ms]).collect()
                };
                for (a, b) in waits(&report).iter().zip(waits(r).iter()) {
                    for (x, y) in a.iter().zip(b) {
                        let close = match (x, y) {
                            (Some(x), Some(y)) => (x - y).abs() <= 5,
                            (x, y) => x == y,
                        };
                        assert!(
                            close,
                            "the same waits within 5 ms from SQLite and PostgreSQL: {report:?} vs {r:?}"
                        );
                    }
                }
                assert_eq!(&users, u);
            }
        }
    }
    let (g, r, _) = first.unwrap();
    (g, r)
}

fn now_ms() -> i64 {
    ami_parking_transport::now().as_unix_millis() as i64
}

#[tokio::test]
async fn a_scripted_morning_gives_the_expected_rows_on_sqlite_and_postgres_and_the_same_reports_twice() {
    let Some(pg) = Postgres::start() else { return };
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let dir = std::env::temp_dir().join(format!("history-morning-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut runs = Vec::new();
    for run in 0..2 {
        let since = now_ms() - 1;
        let lite = History::open(
            &format!("sqlite:{}", dir.join(format!("m{run}.db")).display()),
            HistoryOptions::default(),
        )
        .await
        .unwrap();
        let post =
            History::open(&pg.create_db(&format!("morning{run}")), HistoryOptions::default()).await.unwrap();
        let (_f1, _f2) = (lite.follow(c.store()), post.follow(c.store()));
        lite.resync(c.store());
        post.resync(c.store());
        morning(&c, &[&lite, &post]).await;
        runs.push(check(&[&lite, &post], since).await);
        assert_eq!((lite.stats().dropped(), lite.stats().failed()), (0, 0));
        assert_eq!((post.stats().dropped(), post.stats().failed()), (0, 0));
    }
    assert_eq!(runs[0].0, runs[1].0, "the same script twice: the same rows");
    assert_eq!(counts(&runs[0].1), counts(&runs[1].1), "the same script twice: the same reports");
    c.shutdown().await;
    clean(PORT_A).await;
    std::fs::remove_dir_all(&dir).ok();
}
