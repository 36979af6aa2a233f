//! The History page (`/history`) and its CSV export (`/history.csv`): a day's figures
//! at a glance, waits by hour as a server-rendered SVG chart, each lot's line,
//! retrieves by user. Every figure is computed by the history database. Operators
//! see it; viewers when the config says so (`history_viewers = true`); a user
//! limited to some lots sees only those lots' lines and rows.

use crate::state::Board;
use crate::users::{Principal, Role};
use ami_parking_history::{ReportRow, DAY_MS, HOUR_MS};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

/// The page's query: `?day=YYYY-MM-DD` (default: today, the board's local time).
#[derive(Debug, Default, Deserialize)]
pub struct DayQuery {
    /// The day.
    pub day: Option<String>,
}

use crate::assets::html_escape as esc;

/// The local time's offset from UTC, in ms.
fn local_offset_ms() -> i64 {
    i64::from(chrono::Local::now().offset().local_minus_utc()) * 1000
}

/// The day asked for: its name and its `[from, to)` in ms.
pub fn day_bounds(day: Option<&str>, offset_ms: i64) -> Result<(String, i64, i64), String> {
    let name = match day {
        Some(d) => d.to_string(),
        None => {
            (chrono::Utc::now() + chrono::Duration::milliseconds(offset_ms)).format("%Y-%m-%d").to_string()
        }
    };
    // Exactly YYYY-MM-DD (chrono alone takes blanks, control characters and a sign):
    // the name goes on into a header and links, so it is the parsed date's own.
    let shaped = name.len() == 10
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    let date =
        chrono::NaiveDate::parse_from_str(&name, "%Y-%m-%d").ok().filter(|_| shaped).ok_or_else(|| {
            format!("{:?} is not a day: write ?day=YYYY-MM-DD", name.chars().take(40).collect::<String>())
        })?;
    let from = date.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or(0) - offset_ms;
    Ok((date.format("%Y-%m-%d").to_string(), from, from + DAY_MS))
}

/// Who may see the history: `None` when allowed, else the refusal.
fn refused(board: &Board, who: &Principal) -> Option<Response> {
    if board.history.is_none() {
        return Some((StatusCode::NOT_FOUND, "the parking history is off on this board\n").into_response());
    }
    if who.role == Role::Viewer && !board.history_viewers {
        return Some(
            (
                StatusCode::FORBIDDEN,
                "the parking history is for operators (history_viewers = true opens it to viewers)\n",
            )
                .into_response(),
        );
    }
    None
}

fn secs(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => format!("{:.1} s", ms as f64 / 1000.0),
        None => "–".into(),
    }
}

/// `/history`.
pub async fn page(State(board): State<Board>, headers: HeaderMap, Query(q): Query<DayQuery>) -> Response {
    let Some((who, _, _)) = board.who(&headers) else { return Redirect::to("/login").into_response() };
    if let Some(r) = refused(&board, &who) {
        return r;
    }
    let Some(history) = board.history.clone() else { return StatusCode::NOT_FOUND.into_response() };
    let offset = local_offset_ms();
    let (day, from, to) = match day_bounds(q.day.as_deref(), offset) {
        Ok(d) => d,
        Err(why) => return (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
    };
    let reports = history.reports();
    let scoped = who.lots.is_some();
    let fetched = async {
        let lots = reports.day_report(from, to, offset).await?;
        let all = if scoped { Vec::new() } else { reports.report_all_lots(from, to, DAY_MS, offset).await? };
        let hours =
            if scoped { Vec::new() } else { reports.report_all_lots(from, to, HOUR_MS, offset).await? };
        let users = if scoped { Vec::new() } else { reports.retrieves_by_user(from, to).await? };
        Ok::<_, ami_parking_history::HistoryError>((lots, all, hours, users))
    };
    let (lots, all, hours, users) = match fetched.await {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!("history page: {e}");
            return (StatusCode::SERVICE_UNAVAILABLE, "the history database did not answer; try again\n")
                .into_response();
        }
    };
    let lots: Vec<ReportRow> = lots.into_iter().filter(|r| who.sees(&r.lot)).collect();
    Html(render(&day, &lots, all.first(), &hours, &users, scoped, from, offset)).into_response()
}

/// `/history.csv?day=...`: the day's rows (steps included) as CSV.
pub async fn csv(State(board): State<Board>, headers: HeaderMap, Query(q): Query<DayQuery>) -> Response {
    let Some((who, _, _)) = board.who(&headers) else { return Redirect::to("/login").into_response() };
    if let Some(r) = refused(&board, &who) {
        return r;
    }
    let Some(history) = board.history.clone() else { return StatusCode::NOT_FOUND.into_response() };
    let (day, from, to) = match day_bounds(q.day.as_deref(), local_offset_ms()) {
        Ok(d) => d,
        Err(why) => return (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
    };
    let rows = match history.reports().episodes(from, to).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("history csv: {e}");
            return (StatusCode::SERVICE_UNAVAILABLE, "the history database did not answer; try again\n")
                .into_response();
        }
    };
    let mut out = String::from(ami_parking_history::Episode::CSV_HEADER);
    out.push_str("\r\n");
    for e in rows.iter().filter(|e| who.sees(&e.lot)) {
        out.push_str(&e.csv_row());
        out.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"parking-history-{day}.csv\"")),
        ],
        out,
    )
        .into_response()
}

/// Waits by hour: median and p90 bars, in seconds, one pair per hour of the day.
pub fn chart(hours: &[ReportRow], day_start: i64) -> String {
    let (w, h, left, bottom, top) = (720.0, 220.0, 40.0, 24.0, 10.0);
    let plot_h = h - bottom - top;
    let max =
        hours.iter().filter_map(|r| r.p90_wait_ms.or(r.median_wait_ms)).max().unwrap_or(0).max(1000) as f64;
    let slot = (w - left) / 24.0;
    let mut svg = format!(
        "<svg class=\"waits\" role=\"img\" aria-label=\"waits by hour\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    // Axis and scale.
    svg += &format!("<line x1=\"{left}\" y1=\"{y}\" x2=\"{w}\" y2=\"{y}\" stroke=\"#888\"/>", y = h - bottom);
    for frac in [0.5, 1.0] {
        let y = h - bottom - plot_h * frac;
        svg += &format!(
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{w}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"2\" y=\"{ty:.1}\" font-size=\"10\">{s:.1}s</text>",
            ty = y + 4.0,
            s = max * frac / 1000.0
        );
    }
    for hour in (0..24).step_by(3) {
        let x = left + slot * hour as f64;
        svg += &format!("<text x=\"{x:.1}\" y=\"{y}\" font-size=\"10\">{hour:02}h</text>", y = h - 8.0);
    }
    for r in hours {
        let hour = ((r.period_start - day_start) / HOUR_MS).clamp(0, 23) as f64;
        let x = left + slot * hour;
        let bar = |v: Option<i64>, dx: f64, color: &str, what: &str| -> String {
            let Some(v) = v else { return String::new() };
            let bh = plot_h * v as f64 / max;
            format!(
                "<rect class=\"{what}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{hour:02}h {what} {s:.1} s ({n} parked)</title></rect>",
                x = x + dx,
                y = h - bottom - bh,
                bw = slot * 0.4,
                s = v as f64 / 1000.0,
                n = r.parked
            )
        };
        svg += &bar(r.median_wait_ms, slot * 0.1, "#3b7dd8", "median");
        svg += &bar(r.p90_wait_ms, slot * 0.5, "#e39b2b", "p90");
    }
    svg += "</svg>";
    svg
}

#[allow(clippy::too_many_arguments)]
fn render(
    day: &str,
    lots: &[ReportRow],
    all: Option<&ReportRow>,
    hours: &[ReportRow],
    users: &[ami_parking_history::UserCount],
    scoped: bool,
    day_start: i64,
    offset: i64,
) -> String {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok();
    let prev = date.and_then(|d| d.pred_opt()).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let next = date.and_then(|d| d.succ_opt()).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let day = esc(day);
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Parking history {day}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"stylesheet\" href=\"/board.css\"></head><body class=\"history\">\
         <nav><a href=\"/\">← Board</a> · <a href=\"/history?day={prev}\">← {prev}</a> · <a href=\"/history?day={next}\">{next} →</a> · \
         <a id=\"csv\" href=\"/history.csv?day={day}\" download>Export CSV</a></nav>\
         <h1>Parking history — {day}</h1>"
    );
    if let Some(a) = all {
        html += "<section class=\"glance\" id=\"glance\">";
        for (label, value, id) in [
            ("Parked", a.parked.to_string(), "parked"),
            ("Retrieved", a.retrieved.to_string(), "retrieved"),
            ("Timed out", a.timeouts.to_string(), "timeouts"),
            ("Hung up", a.hangups.to_string(), "hangups"),
            ("Not watched", a.unwatched.to_string(), "unwatched"),
            ("Median wait", secs(a.median_wait_ms), "median"),
            ("p90 wait", secs(a.p90_wait_ms), "p90"),
            ("Longest", secs(a.longest_wait_ms), "longest"),
        ] {
            html += &format!("<div><b id=\"glance-{id}\">{value}</b>{label}</div>");
        }
        html += "</section>";
    } else if scoped {
        html += "<p>Figures of your lots only.</p>";
    } else {
        html += "<p id=\"glance-none\">No parking on this day.</p>";
    }
    if !scoped {
        html += "<h2>Waits by hour</h2><p class=\"legend\"><span class=\"swatch median\"></span>median<span class=\"swatch p90\"></span>p90</p>";
        html += &chart(hours, day_start);
    }
    html += "<h2>By lot</h2><table id=\"lots\"><tr><th>Lot</th><th>Parked</th><th>Median</th><th>p90</th><th>Longest</th><th>Retrieved</th><th>Timed out</th><th>Hung up</th><th>Not watched</th><th>Still parked</th></tr>";
    for r in lots {
        html += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.lot),
            r.parked,
            secs(r.median_wait_ms),
            secs(r.p90_wait_ms),
            secs(r.longest_wait_ms),
            r.retrieved,
            r.timeouts,
            r.hangups,
            r.unwatched,
            r.open
        );
    }
    html += "</table>";
    if !scoped {
        html += "<h2>Retrieves by user</h2><table id=\"users\"><tr><th>User</th><th>Retrieves</th></tr>";
        for u in users {
            let name = if u.user.is_empty() { "(unknown)".to_string() } else { esc(&u.user) };
            html += &format!("<tr><td>{name}</td><td>{}</td></tr>", u.retrieved);
        }
        html += "</table>";
    }
    let tz = offset / 60_000;
    html += &format!(
        "<p><small>Times are the board's local time (UTC{:+}:{:02}).</small></p></body></html>",
        tz / 60,
        (tz % 60).abs()
    );
    html
}

/// Once every server of `client` has its first list, adopts what is parked and
/// closes what ended while the board was not running (the first list sends no
/// events). Later reconnects resync by themselves.
pub async fn resync_when_synced(
    history: ami_parking_history::History,
    client: ami_parking_transport::Client,
) {
    use ami_parking::futures_signals::signal::SignalExt;
    use ami_parking::ParkingClient;
    use futures_util::StreamExt;
    let servers = client.links_now().len() as u32;
    let store = client.store().clone();
    // Re-checked whenever the store's loading flag changes (the first lists end it).
    let mut loading = store.is_loading().to_stream();
    let synced = |s: &ami_parking::ParkingStore| (1..=servers.max(1)).any(|id| s.is_synced(id));
    while !synced(&store) {
        if loading.next().await.is_none() {
            return;
        }
    }
    history.resync(&store);
    match history.flush().await {
        Ok(()) => tracing::info!("history: resynced with the servers' lists"),
        Err(e) => tracing::warn!("history: {e}"),
    }
}

#[cfg(test)]
mod day_tests {
    use super::day_bounds;

    #[test]
    fn a_day_is_exactly_yyyy_mm_dd() {
        let (name, from, to) = day_bounds(Some("2026-12-02"), 0).unwrap();
        assert_eq!((name.as_str(), to - from), ("2026-12-02", 86_400_000));
        for bad in [
            " 2026-12-02",
            "\t2026-12-02",
            "\n2026-12-02",
            "+2026-12-02",
            "2026-12-2",
            "2026-13-01",
            "2026-12-02x",
            "",
        ] {
            let e = day_bounds(Some(bad), 0).unwrap_err();
            assert!(e.ends_with("is not a day: write ?day=YYYY-MM-DD"), "{bad:?}: {e}");
        }
    }
}
