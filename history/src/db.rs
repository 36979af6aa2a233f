//! The database: SQLite (a file, or memory) or PostgreSQL, one schema, its migrations,
//! and every statement the writer and the reports run.

use crate::error::HistoryError;
use crate::model::{Episode, Outcome};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How long opening a PostgreSQL database may wait on its server.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);

/// The schema's migrations, in order. One schema; the only difference between the
/// two dialects is how the id column counts.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[(
    1,
    "episodes",
    include_str!("../migrations/sqlite/0001_episodes.sql"),
    include_str!("../migrations/postgres/0001_episodes.sql"),
)];

/// A connection pool to the history database.
///
/// `Debug` shows the URL without its password.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    shown: String,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("url", &self.shown).finish_non_exhaustive()
    }
}

/// Runs `$body` with `$p` bound to the pool of whichever database it is (the body is
/// type-checked once per database).
macro_rules! on_pool {
    ($db:expr, |$p:ident, $pg:ident| $body:expr) => {
        match &$db.pool {
            Pool::Sqlite($p) => {
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
            Pool::Postgres($p) => {
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
        }
    };
}

/// An episode's columns, in the order `bind_episode!` binds them (its `id` is the
/// database's).
const EPISODE_COLUMNS: &str =
    "server_id, lot, space, channel, unique_id, linked_id, caller_num, caller_name, \
     parker, parked_by_user, parked_at, first_parked_at, ended_at, outcome, retrieved_by, retrieved_to, \
     returned_to, previous_id, seen_late, wait_ms";

/// Binds episode `$e`'s 20 values to `$query`, in `EPISODE_COLUMNS`' order (a macro:
/// each database's query is its own type).
macro_rules! bind_episode {
    ($query:expr, $e:expr) => {{
        let e = $e;
        $query
            .bind(i64::from(e.server_id))
            .bind(&e.lot)
            .bind(i64::from(e.space))
            .bind(&e.channel)
            .bind(&e.unique_id)
            .bind(&e.linked_id)
            .bind(&e.caller_num)
            .bind(&e.caller_name)
            .bind(&e.parker)
            .bind(&e.parked_by_user)
            .bind(e.parked_at)
            .bind(e.first_parked_at)
            .bind(e.ended_at)
            .bind(e.outcome.as_str())
            .bind(&e.retrieved_by)
            .bind(&e.retrieved_to)
            .bind(&e.returned_to)
            .bind(e.previous_id)
            .bind(e.seen_late)
            .bind(e.wait_ms)
    }};
}

/// `$1`, `$2`, ... as each dialect numbers parameters (`?1` for SQLite).
fn sql(text: &str, postgres: bool) -> Cow<'_, str> {
    if postgres {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.replace('$', "?"))
    }
}

/// `url` with any password replaced by `***`, for messages and logs.
///
/// ```
/// use ami_parking_history::redact_url;
/// assert_eq!(redact_url("postgres://board:s3cret@db.example/parking"), "postgres://board:***@db.example/parking");
/// assert_eq!(redact_url("sqlite:history.db"), "sqlite:history.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let mut shown = url.to_owned();
    if let Some((scheme, rest)) = url.split_once("://") {
        // user:password@host: a password may hold '/', '?', '#' or '@' unencoded, so
        // everything up to the last '@' is the user's part (more hidden than needed
        // when a query holds an '@': never less).
        if let Some(at) = rest.rfind('@') {
            let user = rest[..at].split(':').next().unwrap_or("");
            let user: String = user.chars().take_while(|c| !matches!(c, '/' | '?' | '#')).collect();
            shown = format!("{scheme}://{user}:***{}", &rest[at..]);
        }
    }
    // A password (or any secret) given as a query parameter: the key is compared
    // percent-decoded (`pass%77ord`) and by what it contains (`sslpassword`).
    if let Some(q) = shown.find('?') {
        let (head, query) = shown.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        shown = format!("{head}{}", query.join("&"));
    }
    shown
}

/// Whether a URL query key names a secret (`password`, `sslpassword`, `pass%77ord`,
/// `secret`, `token`, `key`...).
fn is_secret_key(k: &str) -> bool {
    let mut decoded = Vec::with_capacity(k.len());
    let b = k.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                decoded.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                decoded.push(c);
                i += 1;
            }
        }
    }
    let k = String::from_utf8_lossy(&decoded).to_ascii_lowercase();
    ["pass", "secret", "token", "key", "pwd"].iter().any(|w| k.contains(w))
}

/// Whether a `sqlite:` URL names SQLite in memory, as the database library reads it:
/// the name `:memory:` exactly, or `mode=memory` among its options.
fn sqlite_in_memory(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (name, query) = rest.split_once('?').unwrap_or((rest, ""));
    name == ":memory:" || query.split('&').any(|o| o == "mode=memory")
}

impl Db {
    /// Opens (and creates, for SQLite) the database at `url` and brings it to the
    /// current schema.
    ///
    /// URLs: `sqlite:PATH` (a file, created when missing), `sqlite::memory:` (one
    /// process's memory), `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (also
    /// `postgresql://`; `?host=/path/to/socket/dir` for a Unix socket). A password is
    /// better given in `PGPASSWORD` than in the URL; either way it never shows in a
    /// message.
    pub async fn open(url: &str) -> Result<Db, HistoryError> {
        Self::open_with(url, true).await
    }

    /// [`Db::open`] of a database that exists already, for a program that only reads
    /// it (a report): a SQLite file that is not there is [`HistoryError::Missing`],
    /// and nothing is created. Whether it is there is SQLite's own answer.
    pub async fn open_existing(url: &str) -> Result<Db, HistoryError> {
        Self::open_with(url, false).await
    }

    async fn open_with(url: &str, create: bool) -> Result<Db, HistoryError> {
        let shown = redact_url(url);
        let bad = |why: String| HistoryError::BadUrl { url: shown.clone(), why };
        let pool = if url.starts_with("sqlite:") {
            let memory = sqlite_in_memory(url);
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| bad(e.to_string()))?
                .create_if_missing(create)
                .busy_timeout(Duration::from_secs(5));
            if !memory && opts.get_filename().to_string_lossy().starts_with("file:") {
                // SQLite would read it as a URI and open another file than the one
                // made private below.
                return Err(bad(
                    "SQLite URI file names (file:...) are not supported: write sqlite:PATH".into()
                ));
            }
            let opts = if memory || !create {
                opts
            } else {
                // Callers' names and numbers: a new file is the process user's only
                // (0600); SQLite gives its -wal and -shm files the same mode.
                let file = opts.get_filename().to_path_buf();
                if !file.as_os_str().is_empty() && !file.exists() {
                    use std::os::unix::fs::OpenOptionsExt;
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .mode(0o600)
                        .open(&file)
                        .map_err(|e| bad(format!("cannot create {}: {e}", file.display())))?;
                }
                // WAL with NORMAL sync: a committed write survives the process being
                // killed; concurrent readers (the reports) do not block the writer.
                opts.journal_mode(SqliteJournalMode::Wal).synchronous(SqliteSynchronous::Normal)
            };
            // Memory: one connection kept forever (each connection is its own database).
            let pool = if memory {
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
            } else {
                SqlitePoolOptions::new().max_connections(4)
            };
            let cannot_open =
                |e: &sqlx::Error| e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "14");
            let pool = pool.connect_with(opts).await.map_err(|source| {
                if !create && cannot_open(&source) {
                    HistoryError::Missing { url: shown.clone() }
                } else {
                    HistoryError::Connect { url: shown.clone(), source }
                }
            })?;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url).map_err(|e| bad(e.to_string()))?;
            // One connection first, alone: its error is the server's (refused, no
            // such database, a wrong password), where the pool's would only be that
            // it timed out. A server that takes the connection and never answers
            // has as long as the pool would give it.
            let unanswered = || {
                let why = format!("no answer from the server within {} s", CONNECT_DEADLINE.as_secs());
                sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, why))
            };
            let first = tokio::time::timeout(CONNECT_DEADLINE, opts.connect())
                .await
                .unwrap_or_else(|_| Err(unanswered()))
                .map_err(|source| HistoryError::Connect { url: shown.clone(), source })?;
            let _ = first.close().await;
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(CONNECT_DEADLINE)
                .connect_with(opts)
                .await
                .map_err(|source| HistoryError::Connect { url: shown.clone(), source })?;
            Pool::Postgres(pool)
        } else {
            return Err(bad("it names neither sqlite: nor postgres://".into()));
        };
        let db = Db { pool, shown };
        db.migrate().await?;
        Ok(db)
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// True on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    async fn migrate(&self) -> Result<(), HistoryError> {
        let pg = self.is_postgres();
        let migrations: Vec<Migration> = MIGRATIONS
            .iter()
            .map(|&(version, name, lite, post)| {
                let text = if pg { post } else { lite };
                Migration::new(
                    version,
                    Cow::Borrowed(name),
                    MigrationType::Simple,
                    Cow::Borrowed(text),
                    false,
                )
            })
            .collect();
        let migrator = Migrator { migrations: Cow::Owned(migrations), ..Migrator::DEFAULT };
        let r = on_pool!(self, |p, _pg| migrator.run(p).await);
        r.map_err(|source| HistoryError::Migrate { url: self.shown.clone(), source })
    }

    /// Inserts an episode (its `id` is ignored) and returns the id it was given.
    pub(crate) async fn insert(&self, e: &Episode) -> Result<i64, HistoryError> {
        let q = format!(
            "INSERT INTO episodes ({EPISODE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
             RETURNING id"
        );
        let id = on_pool!(self, |p, pg| {
            bind_episode!(sqlx::query(&sql(&q, pg)), e).fetch_one(p).await?.try_get::<i64, _>("id")?
        });
        Ok(id)
    }

    /// Closes episode `id`: how and when it ended.
    pub(crate) async fn close(&self, id: i64, end: &End) -> Result<(), HistoryError> {
        const Q: &str =
            "UPDATE episodes SET ended_at = $1, outcome = $2, retrieved_by = $3, retrieved_to = $4, \
             returned_to = $5, wait_ms = $1 - first_parked_at WHERE id = $6 AND ended_at IS NULL";
        on_pool!(self, |p, pg| {
            sqlx::query(&sql(Q, pg))
                .bind(end.at)
                .bind(end.outcome.as_str())
                .bind(&end.retrieved_by)
                .bind(&end.retrieved_to)
                .bind(&end.returned_to)
                .bind(id)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Every episode still open (not ended), oldest first.
    pub async fn open_episodes(&self) -> Result<Vec<Episode>, HistoryError> {
        self.select("WHERE ended_at IS NULL ORDER BY id", &[]).await
    }

    /// Every episode that started in `[from, to)` (ms since the epoch), in id order.
    pub async fn episodes_between(&self, from: i64, to: i64) -> Result<Vec<Episode>, HistoryError> {
        self.select("WHERE first_parked_at >= $1 AND first_parked_at < $2 ORDER BY id", &[from, to]).await
    }

    /// Every episode, in id order (tests and exports of small databases).
    pub async fn all_episodes(&self) -> Result<Vec<Episode>, HistoryError> {
        self.select("ORDER BY id", &[]).await
    }

    /// Episodes whose caller number contains `digits`, newest first, at most `limit`.
    pub async fn search_caller(&self, digits: &str, limit: u32) -> Result<Vec<Episode>, HistoryError> {
        let escaped: String = digits
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = format!("%{escaped}%");
        const Q: &str = "SELECT * FROM episodes WHERE caller_num LIKE $1 ESCAPE '\\' ORDER BY first_parked_at DESC, id DESC LIMIT $2";
        let rows = on_pool!(self, |p, pg| {
            let rows = sqlx::query(&sql(Q, pg)).bind(&pattern).bind(i64::from(limit)).fetch_all(p).await?;
            rows.iter().map(episode_of).collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(rows)
    }

    async fn select(&self, tail: &str, args: &[i64]) -> Result<Vec<Episode>, HistoryError> {
        let q = format!("SELECT * FROM episodes {tail}");
        let rows = on_pool!(self, |p, pg| {
            let q = sql(&q, pg);
            let mut query = sqlx::query(&q);
            for a in args {
                query = query.bind(*a);
            }
            let rows = query.fetch_all(p).await?;
            rows.iter().map(episode_of).collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(rows)
    }

    /// Deletes episodes that ended before `before` (ms); returns how many.
    pub async fn purge_ended_before(&self, before: i64) -> Result<u64, HistoryError> {
        const Q: &str = "DELETE FROM episodes WHERE ended_at IS NOT NULL AND ended_at < $1";
        let n =
            on_pool!(self, |p, pg| sqlx::query(&sql(Q, pg)).bind(before).execute(p).await?.rows_affected());
        Ok(n)
    }

    /// Runs a report query: `q` with `$N` parameters, `args` bound in order; each row
    /// read by `read`.
    pub(crate) async fn rows<T>(
        &self,
        q: &str,
        args: &[Arg],
        read: impl Fn(&dyn RowRead) -> Result<T, sqlx::Error>,
    ) -> Result<Vec<T>, HistoryError> {
        let out = on_pool!(self, |p, pg| {
            let q = sql(q, pg);
            let mut query = sqlx::query(&q);
            for Arg::Int(i) in args {
                query = query.bind(*i);
            }
            let rows = query.fetch_all(p).await?;
            rows.iter().map(|r| read(r)).collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(out)
    }

    /// Inserts many finished episodes in one transaction (the scale benchmark's
    /// loader). Ids are the database's.
    pub async fn insert_many(&self, episodes: &[Episode]) -> Result<(), HistoryError> {
        on_pool!(self, |p, _pg| {
            let mut tx = p.begin().await?;
            for chunk in episodes.chunks(500) {
                let mut q = format!("INSERT INTO episodes ({EPISODE_COLUMNS}) VALUES ");
                for (i, _) in chunk.iter().enumerate() {
                    let b = i * 20;
                    let ps: Vec<String> = (1..=20).map(|k| format!("${}", b + k)).collect();
                    if i > 0 {
                        q.push(',');
                    }
                    q.push_str(&format!("({})", ps.join(",")));
                }
                let q = sql(&q, _pg);
                let mut query = sqlx::query(&q);
                for e in chunk {
                    query = bind_episode!(query, e);
                }
                query.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Gathers the planner's statistics (after a bulk load).
    pub async fn analyze(&self) -> Result<(), HistoryError> {
        on_pool!(self, |p, _pg| {
            sqlx::query("ANALYZE").execute(p).await?;
        });
        Ok(())
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close_pool(&self) {
        on_pool!(self, |p, _pg| p.close().await)
    }
}

/// A report parameter.
pub(crate) enum Arg {
    /// An integer.
    Int(i64),
}

/// Reads columns of one result row, whichever the database.
pub(crate) trait RowRead {
    /// An integer column (NULL is an error).
    fn int(&self, col: &str) -> Result<i64, sqlx::Error>;
    /// An integer column that may be NULL.
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error>;
    /// A text column that may be NULL.
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error>;
    /// A text column.
    fn text(&self, col: &str) -> Result<String, sqlx::Error> {
        Ok(self.opt_text(col)?.unwrap_or_default())
    }
    /// A boolean column.
    fn boolean(&self, col: &str) -> Result<bool, sqlx::Error>;
}

macro_rules! row_read {
    ($row:ty) => {
        impl RowRead for $row {
            fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
                self.try_get::<i64, _>(col)
            }
            fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get::<Option<i64>, _>(col)
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get::<Option<String>, _>(col)
            }
            fn boolean(&self, col: &str) -> Result<bool, sqlx::Error> {
                self.try_get::<bool, _>(col)
            }
        }
    };
}
row_read!(sqlx::sqlite::SqliteRow);
row_read!(sqlx::postgres::PgRow);

fn episode_of(r: &impl RowRead) -> Result<Episode, sqlx::Error> {
    let outcome = r.text("outcome")?;
    Ok(Episode {
        id: r.int("id")?,
        server_id: u32::try_from(r.int("server_id")?).unwrap_or(0),
        lot: r.text("lot")?,
        space: u32::try_from(r.int("space")?).unwrap_or(0),
        channel: r.text("channel")?,
        unique_id: r.text("unique_id")?,
        linked_id: r.text("linked_id")?,
        caller_num: r.text("caller_num")?,
        caller_name: r.text("caller_name")?,
        parker: r.text("parker")?,
        parked_by_user: r.opt_text("parked_by_user")?,
        parked_at: r.int("parked_at")?,
        first_parked_at: r.int("first_parked_at")?,
        ended_at: r.opt_int("ended_at")?,
        outcome: Outcome::parse(&outcome)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown outcome {outcome:?}").into()))?,
        retrieved_by: r.opt_text("retrieved_by")?,
        retrieved_to: r.opt_text("retrieved_to")?,
        returned_to: r.opt_text("returned_to")?,
        previous_id: r.opt_int("previous_id")?,
        seen_late: r.boolean("seen_late")?,
        wait_ms: r.opt_int("wait_ms")?,
    })
}

/// How an episode ended (what [`Db::close`] writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct End {
    pub at: i64,
    pub outcome: Outcome,
    pub retrieved_by: Option<String>,
    pub retrieved_to: Option<String>,
    pub returned_to: Option<String>,
}

#[cfg(test)]
mod redaction_tests {
    use super::redact_url;

    #[test]
    fn no_password_survives_redaction_whatever_it_holds() {
        for (url, secret) in [
            ("postgres://u:SEC/RET5@db:5432/p", "RET5"),
            ("postgres://u:SEC#RET8@db/p", "RET8"),
            ("postgres://u:SEC?RET9@db/p", "RET9"),
            ("postgres://u:p@ss@db/p", "ss@"),
            ("postgres://u@db/p?pass%77ord=SECRET2", "SECRET2"),
            ("postgres://u@db/p?sslmode=require&sslpassword=SECRET7", "SECRET7"),
            ("postgres://u@db/p?PASSWORD=SECRET3", "SECRET3"),
        ] {
            let shown = redact_url(url);
            assert!(!shown.contains(secret), "{url} shown as {shown}");
            assert!(shown.contains("***"), "{shown}");
        }
        assert_eq!(
            redact_url("postgres://u:pw@db/p?sslmode=require"),
            "postgres://u:***@db/p?sslmode=require"
        );
    }
}

#[cfg(test)]
mod file_mode_tests {
    use super::Db;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn a_new_history_file_is_readable_by_its_owner_only() {
        let dir = std::env::temp_dir().join(format!("history-mode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("h.db");
        let _ = std::fs::remove_file(&file);
        let db = Db::open(&format!("sqlite:{}", file.display())).await.expect("opens");
        drop(db);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
