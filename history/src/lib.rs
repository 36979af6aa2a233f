//! Parking history for `ami-parking`: what happened to every parked caller, in a real
//! database.
//!
//! A [`History`] follows a store's events (through a bounded queue: a slow database
//! never slows the store) and writes one row per parking episode ([`Episode`]): who
//! was parked, where, by whom, when, and how it ended ([`Outcome`]): retrieved (by
//! whom, to where), timed out, the caller hung up, swapped or moved (a step, linked to
//! the next row), or ended while not watching (closed by a resync rather than
//! guessed).
//!
//! The database is SQLite in a file (no setup) or in memory, or PostgreSQL by URL:
//! one schema with migrations ([`Db::open`]). [`Reports`] are computed by the
//! database: per lot and hour or day, the count, median, p90 and longest wait,
//! timeouts, hang-ups, retrieves by user, a search by caller number, CSV.
//!
//! Durability: each event is written (committed) by the writer task as soon as it
//! comes off the queue; [`History::flush`] waits for that. There is no journal: an
//! event still in the queue when the process is killed is not replayed, but its
//! episode's row is there (open) and the next start's [`History::resync`] closes it
//! as [`Outcome::Unwatched`] rather than losing it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ami_parking::ParkingClient;
//! use ami_parking_history::{History, HistoryOptions, DAY_MS};
//! let client = ami_parking_transport::Client::connect(
//!     ami_parking_transport::ClientOptions::new("tcp://amiuser@127.0.0.1:5038".parse()?));
//! let history = History::open("sqlite:parking-history.db", HistoryOptions::default()).await?;
//! let _following = history.follow(client.store());
//! client.wait_logged_in(std::time::Duration::from_secs(5)).await?;
//! client.get_parked_calls(None).await?;
//! history.resync(client.store());
//! // ... later:
//! for row in history.reports().day_report(0, i64::MAX / 2, 0).await? {
//!     println!("{} parked {} median {:?} ms", row.lot, row.parked, row.median_wait_ms);
//! }
//! # let _ = DAY_MS; Ok(()) }
//! ```

#![doc(test(attr(deny(unused_imports, unused_variables))))]
/// The README's example, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

mod db;
mod error;
mod model;
mod recorder;
mod reports;

pub use db::{redact_url, Db};
pub use error::HistoryError;
pub use model::{csv_field, Episode, Outcome};
pub use recorder::{History, HistoryOptions, HistoryStats};
pub use reports::{ReportRow, Reports, UserCount, DAY_MS, HOUR_MS};
