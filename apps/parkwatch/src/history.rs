//! `parkwatch history` (reports from the history database) and `parkwatch record`
//! (follow the servers and write the history).

use crate::{any_logged_in, load, logged_in, print_line, Failure};
use ami_parking::ParkingClient;
use ami_parking_history::{redact_url, Episode, History, HistoryOptions, ReportRow, DAY_MS, HOUR_MS};
use ami_parking_transport::Client;
use chrono::NaiveDate;
use serde_json::json;
use std::time::Duration;

/// `YYYY-MM-DD` to the ms of its midnight at `offset_min` minutes east of UTC.
pub(crate) fn day_start(day: &str, offset_min: i64) -> Result<i64, Failure> {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|_| Failure(format!("`{day}` is not a date: write it YYYY-MM-DD, e.g. 2026-12-02"), 2))?;
    let midnight = d.and_hms_opt(0, 0, 0).ok_or_else(|| Failure(format!("`{day}` has no midnight"), 2))?;
    Ok(midnight.and_utc().timestamp_millis() - offset_min * 60_000)
}

/// Today's date at `offset_min` minutes east of UTC.
pub(crate) fn today(offset_min: i64) -> String {
    let now = chrono::Utc::now() + chrono::Duration::minutes(offset_min);
    now.format("%Y-%m-%d").to_string()
}

fn ms_text(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => format!("{:.1}s", ms as f64 / 1000.0),
        None => "-".into(),
    }
}

fn period_text(start: i64, offset_min: i64, by_day: bool) -> String {
    let t = chrono::DateTime::from_timestamp_millis(start + offset_min * 60_000).unwrap_or_default();
    if by_day {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%d %H:00").to_string()
    }
}

/// The report options of `parkwatch history`.
pub(crate) struct Ask<'a> {
    pub db: &'a str,
    pub day: Option<&'a str>,
    pub days: u32,
    pub by_day: bool,
    pub utc_offset: i64,
    pub caller: Option<&'a str>,
    pub json: bool,
}

pub(crate) async fn report(ask: Ask<'_>) -> Result<(), Failure> {
    if ask.days == 0 || ask.days > 3660 {
        return Err(Failure(format!("--days {} is out of range: 1 to 3660", ask.days), 2));
    }
    if ask.utc_offset.abs() > 18 * 60 {
        return Err(Failure(
            format!("--utc-offset {} minutes is out of range: -1080 to 1080", ask.utc_offset),
            2,
        ));
    }
    // Every argument is checked before the database is opened.
    let day = ask.day.map(str::to_owned).unwrap_or_else(|| today(ask.utc_offset));
    let from = day_start(&day, ask.utc_offset)?;
    // A report reads: it never creates the database it was pointed at.
    let db = ami_parking_history::Db::open_existing(ask.db).await.map_err(|e| match e {
        ami_parking_history::HistoryError::Missing { .. } => Failure(format!("{e} (--db names another)"), 2),
        e => Failure(e.to_string(), 1),
    })?;
    let reports = ami_parking_history::Reports::new(db.clone());
    if let Some(digits) = ask.caller {
        let found = reports.search_caller(digits, 200).await.map_err(|e| Failure(e.to_string(), 1))?;
        if ask.json {
            print_line(&json!({"type": "history_search", "caller": digits, "episodes": found}));
        } else {
            println!("{}", Episode::CSV_HEADER);
            for e in &found {
                println!("{}", e.csv_row());
            }
        }
        db.close_pool().await;
        return Ok(());
    }
    let to = from + i64::from(ask.days) * DAY_MS;
    let bucket = if ask.by_day { DAY_MS } else { HOUR_MS };
    let rows = reports
        .report(from, to, bucket, ask.utc_offset * 60_000)
        .await
        .map_err(|e| Failure(e.to_string(), 1))?;
    let users = reports.retrieves_by_user(from, to).await.map_err(|e| Failure(e.to_string(), 1))?;
    if ask.json {
        print_line(&json!({
            "type": "history_report",
            "from": from,
            "to": to,
            "by": if ask.by_day { "day" } else { "hour" },
            "rows": rows,
            "retrieves_by_user": users,
        }));
    } else {
        print!("{}", table(&rows, ask.utc_offset, ask.by_day));
        println!("retrieves by user:");
        for u in &users {
            println!("  {:<20} {}", if u.user.is_empty() { "(unknown)" } else { &u.user }, u.retrieved);
        }
    }
    db.close_pool().await;
    Ok(())
}

fn table(rows: &[ReportRow], offset_min: i64, by_day: bool) -> String {
    let mut out = format!(
        "{:<16} {:<12} {:>6} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9}\n",
        "PERIOD",
        "LOT",
        "PARKED",
        "MEDIAN",
        "P90",
        "LONGEST",
        "RETRIEVED",
        "TIMEOUTS",
        "HANGUPS",
        "UNWATCHED"
    );
    for r in rows {
        out += &format!(
            "{:<16} {:<12} {:>6} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9}\n",
            period_text(r.period_start, offset_min, by_day),
            r.lot,
            r.parked,
            ms_text(r.median_wait_ms),
            ms_text(r.p90_wait_ms),
            ms_text(r.longest_wait_ms),
            r.retrieved,
            r.timeouts,
            r.hangups,
            r.unwatched
        );
    }
    if rows.is_empty() {
        out += "(no parking in this period)\n";
    }
    out
}

/// `parkwatch record`: follows every server and writes the history until stopped.
pub(crate) async fn record(
    client: &Client,
    db: &str,
    history_days: Option<u32>,
    json: bool,
) -> Result<(), Failure> {
    let options = HistoryOptions { history_days, ..HistoryOptions::default() };
    let history = History::open(db, options).await.map_err(|e| Failure(e.to_string(), 1))?;
    let _following = history.follow(client.store());
    logged_in(client).await;
    while let Err(Failure(why, _)) = load(client, None).await {
        eprintln!("parkwatch: listing failed: {why}; trying again");
        tokio::time::sleep(Duration::from_secs(1)).await;
        while !any_logged_in(client) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // The first list sends no events: adopt what is parked, close what ended unwatched.
    history.resync(client.store());
    history.flush().await.map_err(|e| Failure(e.to_string(), 1))?;
    if json {
        print_line(&json!({"type": "recording", "db": redact_url(db)}));
    } else {
        eprintln!("parkwatch: recording the parking history into {}", redact_url(db));
    }
    // Until stopped (the caller's shutdown ends this future).
    std::future::pending::<()>().await;
    Ok(())
}
