//! Reports, computed by the database (one SQL text for SQLite and PostgreSQL).

use crate::db::{Arg, Db, RowRead};
use crate::error::HistoryError;
use crate::model::Episode;
use serde::Serialize;

/// An hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// A day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// One line of a report: one lot in one hour or day.
///
/// Episodes are counted once, in the lot where they ended and the period where they
/// began (a moved call counts in its last lot). Waits are from the first park to the
/// end; ends not watched ([`crate::Outcome::Unwatched`]) and open episodes count in
/// `parked` but not in the wait figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    /// The lot.
    pub lot: String,
    /// The period's start, ms since the epoch (UTC).
    pub period_start: i64,
    /// Episodes that began in the period.
    pub parked: i64,
    /// Median wait, ms (nearest rank), over the episodes whose end was seen.
    pub median_wait_ms: Option<i64>,
    /// 90th percentile wait, ms (nearest rank).
    pub p90_wait_ms: Option<i64>,
    /// Longest wait, ms.
    pub longest_wait_ms: Option<i64>,
    /// Picked up.
    pub retrieved: i64,
    /// Timed out.
    pub timeouts: i64,
    /// The caller hung up while parked.
    pub hangups: i64,
    /// Ended while not watching.
    pub unwatched: i64,
    /// Still parked.
    pub open: i64,
}

/// Retrieves by one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserCount {
    /// The board user, or the retrieving phone's number.
    pub user: String,
    /// Retrieves.
    pub retrieved: i64,
}

/// Reports on a history database.
///
/// Periods are `[from, to)` in ms since the epoch; `offset_ms` shifts the hour and
/// day boundaries to local time (e.g. `3_600_000` for UTC+1).
#[derive(Debug, Clone)]
pub struct Reports {
    db: Db,
}

const REPORT: &str = "
WITH f AS (
    SELECT CASE WHEN $5 = 1 THEN '(all lots)' ELSE lot END AS lot, (first_parked_at + $4) / $3 AS b, outcome, wait_ms
    FROM episodes
    WHERE first_parked_at >= $1 AND first_parked_at < $2 AND outcome NOT IN ('moved', 'swapped')
),
r AS (
    SELECT lot, b, wait_ms,
        ROW_NUMBER() OVER (PARTITION BY lot, b ORDER BY wait_ms) AS rn,
        COUNT(*) OVER (PARTITION BY lot, b) AS n
    FROM f
    WHERE wait_ms IS NOT NULL AND outcome NOT IN ('ended_unwatched', 'open')
),
s AS (
    SELECT lot, b,
        MAX(wait_ms) AS longest,
        MAX(CASE WHEN rn = (n * 50 + 99) / 100 THEN wait_ms END) AS median,
        MAX(CASE WHEN rn = (n * 90 + 99) / 100 THEN wait_ms END) AS p90
    FROM r GROUP BY lot, b
),
c AS (
    SELECT lot, b, COUNT(*) AS parked,
        SUM(CASE WHEN outcome = 'retrieved' THEN 1 ELSE 0 END) AS retrieved,
        SUM(CASE WHEN outcome = 'timeout' THEN 1 ELSE 0 END) AS timeouts,
        SUM(CASE WHEN outcome = 'hangup' THEN 1 ELSE 0 END) AS hangups,
        SUM(CASE WHEN outcome = 'ended_unwatched' THEN 1 ELSE 0 END) AS unwatched,
        SUM(CASE WHEN outcome = 'open' THEN 1 ELSE 0 END) AS open
    FROM f GROUP BY lot, b
)
SELECT c.lot AS lot, c.b * $3 - $4 AS period_start, c.parked AS parked, c.retrieved AS retrieved,
    c.timeouts AS timeouts, c.hangups AS hangups, c.unwatched AS unwatched, c.open AS open,
    s.median AS median, s.p90 AS p90, s.longest AS longest
FROM c LEFT JOIN s ON s.lot = c.lot AND s.b = c.b
ORDER BY c.lot, c.b";

const BY_USER: &str = "
SELECT COALESCE(retrieved_by, '') AS who, COUNT(*) AS n
FROM episodes
WHERE outcome = 'retrieved' AND first_parked_at >= $1 AND first_parked_at < $2
GROUP BY COALESCE(retrieved_by, '')
ORDER BY COUNT(*) DESC, COALESCE(retrieved_by, '')";

fn report_row(r: &dyn RowRead) -> Result<ReportRow, sqlx::Error> {
    Ok(ReportRow {
        lot: r.text("lot")?,
        period_start: r.int("period_start")?,
        parked: r.int("parked")?,
        median_wait_ms: r.opt_int("median")?,
        p90_wait_ms: r.opt_int("p90")?,
        longest_wait_ms: r.opt_int("longest")?,
        retrieved: r.opt_int("retrieved")?.unwrap_or(0),
        timeouts: r.opt_int("timeouts")?.unwrap_or(0),
        hangups: r.opt_int("hangups")?.unwrap_or(0),
        unwatched: r.opt_int("unwatched")?.unwrap_or(0),
        open: r.opt_int("open")?.unwrap_or(0),
    })
}

impl Reports {
    /// Reports on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Per lot and period of `bucket_ms` (e.g. [`HOUR_MS`], [`DAY_MS`]).
    pub async fn report(
        &self,
        from: i64,
        to: i64,
        bucket_ms: i64,
        offset_ms: i64,
    ) -> Result<Vec<ReportRow>, HistoryError> {
        self.run_report(from, to, bucket_ms, offset_ms, false).await
    }

    /// Like [`Reports::report`] with every lot together: one row per period, whose
    /// `lot` is `(all lots)`.
    pub async fn report_all_lots(
        &self,
        from: i64,
        to: i64,
        bucket_ms: i64,
        offset_ms: i64,
    ) -> Result<Vec<ReportRow>, HistoryError> {
        self.run_report(from, to, bucket_ms, offset_ms, true).await
    }

    async fn run_report(
        &self,
        from: i64,
        to: i64,
        bucket_ms: i64,
        offset_ms: i64,
        all: bool,
    ) -> Result<Vec<ReportRow>, HistoryError> {
        if bucket_ms <= 0 {
            return Err(HistoryError::BadInput(format!(
                "a report period must be positive, not {bucket_ms} ms"
            )));
        }
        let args = [
            Arg::Int(from),
            Arg::Int(to),
            Arg::Int(bucket_ms),
            Arg::Int(offset_ms),
            Arg::Int(i64::from(all)),
        ];
        self.db.rows(REPORT, &args, report_row).await
    }

    /// Per lot and hour.
    pub async fn hourly_report(
        &self,
        from: i64,
        to: i64,
        offset_ms: i64,
    ) -> Result<Vec<ReportRow>, HistoryError> {
        self.report(from, to, HOUR_MS, offset_ms).await
    }

    /// Per lot and day.
    pub async fn day_report(
        &self,
        from: i64,
        to: i64,
        offset_ms: i64,
    ) -> Result<Vec<ReportRow>, HistoryError> {
        self.report(from, to, DAY_MS, offset_ms).await
    }

    /// Retrieves per user among the episodes that began in `[from, to)`, most first.
    pub async fn retrieves_by_user(&self, from: i64, to: i64) -> Result<Vec<UserCount>, HistoryError> {
        let args = [Arg::Int(from), Arg::Int(to)];
        self.db.rows(BY_USER, &args, |r| Ok(UserCount { user: r.text("who")?, retrieved: r.int("n")? })).await
    }

    /// Episodes whose caller number contains `digits`, newest first.
    pub async fn search_caller(&self, digits: &str, limit: u32) -> Result<Vec<Episode>, HistoryError> {
        self.db.search_caller(digits, limit).await
    }

    /// Every row (steps included) of the episodes that began in `[from, to)`.
    pub async fn episodes(&self, from: i64, to: i64) -> Result<Vec<Episode>, HistoryError> {
        self.db.episodes_between(from, to).await
    }

    /// The episodes of `[from, to)` as CSV (header line first, CRLF line ends).
    pub async fn csv(&self, from: i64, to: i64) -> Result<String, HistoryError> {
        let mut out = String::from(Episode::CSV_HEADER);
        out.push_str("\r\n");
        for e in self.episodes(from, to).await? {
            out.push_str(&e.csv_row());
            out.push_str("\r\n");
        }
        Ok(out)
    }
}
