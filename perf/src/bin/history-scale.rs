//! `history-scale`: the parking history at a year of a busy site. Loads `--rows`
//! episodes (default 730,000: 2,000 parks a day for 365 days, three lots, ten users)
//! into a fresh SQLite file and a fresh PostgreSQL, then times the day's report (per
//! lot, and every lot by hour, and retrieves by user: what the History page asks)
//! on a day in the middle of the year. Prints one JSON object.
//!
//! ```text
//! cargo run --release -p ami-parking-perf --bin history-scale              # 730k rows
//! cargo run -p ami-parking-perf --bin history-scale -- --rows 20000        # quick
//! cargo run --release -p ami-parking-perf --bin history-scale -- --postgres-url postgres://me@db/scratch
//! ```
//!
//! Without `--postgres-url` it starts a private PostgreSQL (Debian's package,
//! `scripts/postgres-tools`), as the history tests do.

use ami_parking_history::{Db, Episode, Outcome, Reports, DAY_MS, HOUR_MS};
use serde_json::json;
use std::time::Instant;

const LOTS: [&str; 3] = ["default", "vip", "sales"];
const USERS: [&str; 10] =
    ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"];
/// 2026-01-01T00:00:00Z.
const YEAR_START: i64 = 1_767_225_600_000;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn episodes(rows: usize, per_day: usize) -> Vec<Episode> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..rows)
        .map(|i| {
            let day = (i / per_day) as i64;
            // Office hours, 08:00 to 18:00.
            let at = YEAR_START + day * DAY_MS + 8 * HOUR_MS + rng.below(10 * HOUR_MS as u64) as i64;
            let wait = 5_000 + rng.below(120_000) as i64;
            let roll = rng.below(100);
            let outcome = match roll {
                0..=79 => Outcome::Retrieved,
                80..=89 => Outcome::TimedOut,
                _ => Outcome::HungUp,
            };
            let lot = LOTS[rng.below(3) as usize];
            Episode {
                id: 0,
                server_id: 1,
                lot: lot.into(),
                space: 701 + rng.below(20) as u32,
                channel: format!("PJSIP/trunk-{i:08x}"),
                unique_id: format!("{}.{i}", at / 1000),
                linked_id: format!("{}.{i}", at / 1000),
                caller_num: format!("555{:07}", rng.below(10_000_000)),
                caller_name: "Caller".into(),
                parker: "PJSIP/1001".into(),
                parked_by_user: None,
                parked_at: at,
                first_parked_at: at,
                ended_at: Some(at + wait),
                outcome,
                retrieved_by: (outcome == Outcome::Retrieved)
                    .then(|| USERS[rng.below(10) as usize].to_string()),
                retrieved_to: (outcome == Outcome::Retrieved).then(|| "PJSIP/1002-00000001".to_string()),
                returned_to: None,
                previous_id: None,
                seen_late: false,
                wait_ms: Some(wait),
            }
        })
        .collect()
}

/// Loads the rows, then times the day's report: best of 5 (ms), and the first run.
async fn measure(db: &Db, rows: &[Episode], day: i64) -> serde_json::Value {
    let t = Instant::now();
    for chunk in rows.chunks(50_000) {
        db.insert_many(chunk).await.expect("load");
    }
    db.analyze().await.expect("analyze");
    let load_s = t.elapsed().as_secs_f64();
    let reports = Reports::new(db.clone());
    let from = YEAR_START + day * DAY_MS;
    let mut times = Vec::new();
    let mut parked = 0;
    for _ in 0..6 {
        let t = Instant::now();
        let lots = reports.day_report(from, from + DAY_MS, 0).await.expect("day report");
        let hours = reports.report_all_lots(from, from + DAY_MS, HOUR_MS, 0).await.expect("hours");
        let users = reports.retrieves_by_user(from, from + DAY_MS).await.expect("users");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        parked = lots.iter().map(|r| r.parked).sum::<i64>();
        assert!(!hours.is_empty() && !users.is_empty());
    }
    let first = times[0];
    let best = times[1..].iter().cloned().fold(f64::INFINITY, f64::min);
    let search = Instant::now();
    let found = reports.search_caller("5551234", 50).await.expect("search").len();
    let search_ms = search.elapsed().as_secs_f64() * 1000.0;
    json!({
        "load_s": (load_s * 10.0).round() / 10.0,
        "day_report_ms": (best * 10.0).round() / 10.0,
        "day_report_first_ms": (first * 10.0).round() / 10.0,
        "day_parked": parked,
        "caller_search_ms": (search_ms * 10.0).round() / 10.0,
        "caller_search_found": found,
    })
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: usize = match arg("--rows").map(|r| r.parse()) {
        None => 730_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("history-scale: --rows takes a positive number of rows, e.g. --rows 730000");
            std::process::exit(2);
        }
    };
    let per_day = 2_000.min(rows);
    let days = rows.div_ceil(per_day) as i64;
    let day = days / 2;
    let data = episodes(rows, per_day);
    let dir = std::env::temp_dir().join(format!("history-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let lite = Db::open(&format!("sqlite:{}", dir.join("scale.db").display())).await.expect("sqlite");
    let sqlite = measure(&lite, &data, day).await;
    lite.close_pool().await;
    let _ = std::fs::remove_dir_all(&dir);
    // PostgreSQL: the URL given, or a private one (kept until the end of main).
    let mut private = None;
    let url = match arg("--postgres-url").or_else(|| std::env::var("AMI_PARKING_PERF_POSTGRES_URL").ok()) {
        Some(u) => Some(u),
        None => {
            private = ami_parking_tests::postgres::Postgres::start();
            private.as_ref().map(|pg| pg.create_db("scale"))
        }
    };
    let postgres = match url {
        Some(u) => match Db::open(&u).await {
            Ok(db) => {
                let v = measure(&db, &data, day).await;
                db.close_pool().await;
                v
            }
            Err(e) => {
                // The private server stops before the exit.
                drop(private);
                eprintln!("history-scale: {e}");
                std::process::exit(1);
            }
        },
        None => serde_json::Value::Null,
    };
    drop(private);
    println!(
        "{}",
        json!({
            "history_rows": rows,
            "history_days": days,
            "sqlite": sqlite,
            "postgres": postgres,
        })
    );
}
