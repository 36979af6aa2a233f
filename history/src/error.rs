//! What can go wrong, with a message a person can act on.

/// An error of the history. Messages never show a database password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The database URL is not one the history understands.
    #[error("the history database URL {url} is not usable: {why} (use sqlite:PATH, sqlite::memory: or postgres://USER@HOST[:PORT]/DB with the password in PGPASSWORD)")]
    BadUrl {
        /// The URL, password hidden.
        url: String,
        /// Why.
        why: String,
    },
    /// The database could not be opened.
    #[error("cannot open the history database {url}: {source} (is the database server running and reachable, and may this user log in?)")]
    Connect {
        /// The URL, password hidden.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// [`Db::open_existing`](crate::Db::open_existing): there is no such SQLite
    /// database.
    #[error("there is no history database at {url}: `parkwatch record` or parkboard writes one")]
    Missing {
        /// The URL.
        url: String,
    },
    /// The schema could not be brought up to date.
    #[error("cannot bring the history database {url} to the current schema: {source}")]
    Migrate {
        /// The URL, password hidden.
        url: String,
        /// The migration's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A statement failed.
    #[error("a history database statement failed: {0}")]
    Query(#[from] sqlx::Error),
    /// The writer task has stopped (its runtime shut down).
    #[error("the history writer has stopped")]
    WriterGone,
    /// An argument is out of range.
    #[error("{0}")]
    BadInput(String),
}
