//! The recorder: follows a store's events off the event path (a bounded queue) and
//! writes one row per parking episode.

use crate::db::{Db, End};
use crate::error::HistoryError;
use crate::model::{Episode, Outcome};
use ami_parking::{
    ParkedCall, ParkingEvent, ParkingStore, ResyncChange, Retriever, ServerId, Subscription, Timestamp,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How the recorder runs.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    /// Events the queue holds between the store and the writer (default 4096). When
    /// the database falls that far behind, events are dropped (counted in
    /// [`HistoryStats::dropped`]) and the writer resyncs with the store once it
    /// catches up: episodes whose end it missed are closed as
    /// [`Outcome::Unwatched`].
    pub queue: usize,
    /// Days of history kept (`None`: forever). Episodes that ended earlier are
    /// deleted at start and then every hour.
    pub history_days: Option<u32>,
    /// How long a board user's note (who parks, who retrieves) waits for its event.
    pub note_ttl: Duration,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        Self { queue: 4096, history_days: None, note_ttl: Duration::from_secs(30) }
    }
}

/// Counters of the recorder.
#[derive(Debug, Default)]
pub struct HistoryStats {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

impl HistoryStats {
    /// Rows inserted or closed.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
    /// Events dropped because the queue was full (each followed by a resync).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    /// Writes the database refused (each is logged to stderr once, then retried by
    /// the next resync).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// What the writer is asked to do.
enum Op {
    Event(ParkingEvent, Timestamp),
    Note(Note, Timestamp),
    /// Compare the open episodes with the store's calls as they were when asked
    /// (servers it has synced): events queued after it are newer than the snapshot.
    Resync(ParkingStore, Vec<Arc<ParkedCall>>, Timestamp),
    /// Keep this store, to resync with it after an overflow.
    Follow(ParkingStore),
    Flush(oneshot::Sender<()>),
}

/// Who did something on the board, for the event that follows.
#[derive(Debug, Clone)]
enum Note {
    Park { server_id: ServerId, channel: String, user: String },
    Retrieve { server_id: ServerId, lot: String, space: u32, user: String },
}

/// The parking history: a database and a writer task that follows stores.
///
/// ```no_run
/// # async fn demo(store: ami_parking::ParkingStore) -> Result<(), ami_parking_history::HistoryError> {
/// use ami_parking_history::{History, HistoryOptions};
/// let history = History::open("sqlite:parking-history.db", HistoryOptions::default()).await?;
/// let _follow = history.follow(&store); // keep it: dropping it stops following
/// history.resync(&store);               // once the store is synced: adopt what is parked now
/// // ... later, the report of the day that starts at `midnight` (ms since the epoch):
/// # let midnight = 1_796_601_600_000;
/// for row in history.reports().day_report(midnight, midnight + 86_400_000, 0).await? {
///     println!("{}: {} parked, {} retrieved", row.lot, row.parked, row.retrieved);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct History {
    db: Db,
    tx: mpsc::Sender<Op>,
    stats: Arc<HistoryStats>,
    overflow: Arc<AtomicBool>,
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

impl History {
    /// Opens the database at `url` (see [`Db::open`]) and starts the writer (on the
    /// current tokio runtime).
    pub async fn open(url: &str, options: HistoryOptions) -> Result<History, HistoryError> {
        let db = Db::open(url).await?;
        Self::start(db, options).await
    }

    /// Starts the writer on an open database: loads its open episodes (left by a
    /// previous run; the first [`History::resync`] closes those no longer parked)
    /// and applies retention.
    pub async fn start(db: Db, options: HistoryOptions) -> Result<History, HistoryError> {
        let open = db.open_episodes().await?;
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let stats = Arc::new(HistoryStats::default());
        let overflow = Arc::new(AtomicBool::new(false));
        let mut writer = Writer {
            db: db.clone(),
            open: HashMap::new(),
            notes: Vec::new(),
            stats: stats.clone(),
            options: options.clone(),
            stores: Vec::new(),
            overflow: overflow.clone(),
        };
        for e in open {
            writer.open.insert(Key::of_episode(&e), e);
        }
        writer.purge().await;
        tokio::spawn(writer.run(rx));
        Ok(History { db, tx, stats, overflow })
    }

    /// The database (for reports and exports).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The reports on this history.
    pub fn reports(&self) -> crate::Reports {
        crate::Reports::new(self.db.clone())
    }

    /// The recorder's counters.
    pub fn stats(&self) -> &HistoryStats {
        &self.stats
    }

    /// Follows `store`'s events until the returned guard is dropped. The listener
    /// only puts the event in the queue: a slow database never slows the store.
    pub fn follow(&self, store: &ParkingStore) -> Subscription {
        let tx = self.tx.clone();
        let stats = self.stats.clone();
        let overflow = self.overflow.clone();
        // The writer keeps a handle on the store to resync after an overflow.
        if self.tx.try_send(Op::Follow(store.clone())).is_err() {
            self.overflow.store(true, Ordering::Release);
        }
        store.on_parking_event(move |e| {
            if matches!(e, ParkingEvent::NearTimeout { .. }) {
                return;
            }
            if tx.try_send(Op::Event(e.clone(), now())).is_err() {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                overflow.store(true, Ordering::Release);
            }
        })
    }

    /// Compares the open episodes with what `store` shows parked now, for every
    /// server the store has synced: an open episode whose call is gone is closed as
    /// [`Outcome::Unwatched`], a parked call without an episode opens one (marked
    /// `seen_late`). Call it once the store has its first list (the initial list
    /// sends no events); reconnects resync by themselves (the store's `resync`
    /// events).
    pub fn resync(&self, store: &ParkingStore) {
        // The calls now, in queue order: an event after this call is newer.
        let calls = store.parked_calls_now();
        if self.tx.try_send(Op::Resync(store.clone(), calls, now())).is_err() {
            self.overflow.store(true, Ordering::Release);
        }
    }

    /// Says that board user `user` parks `channel` on `server_id`: the park's row
    /// names them (if the park comes within [`HistoryOptions::note_ttl`]).
    pub fn note_park(&self, server_id: ServerId, channel: &str, user: &str) {
        let note = Note::Park { server_id, channel: channel.to_owned(), user: user.to_owned() };
        let _ = self.tx.try_send(Op::Note(note, now()));
    }

    /// Says that board user `user` retrieves the call in `lot`/`space` on
    /// `server_id`: the retrieve's row names them.
    pub fn note_retrieve(&self, server_id: ServerId, lot: &str, space: u32, user: &str) {
        let note = Note::Retrieve { server_id, lot: lot.to_owned(), space, user: user.to_owned() };
        let _ = self.tx.try_send(Op::Note(note, now()));
    }

    /// Waits until everything queued before this call is written (committed).
    pub async fn flush(&self) -> Result<(), HistoryError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Op::Flush(tx)).await.map_err(|_| HistoryError::WriterGone)?;
        rx.await.map_err(|_| HistoryError::WriterGone)
    }
}

/// An open episode's key: server and unique id (the channel when Asterisk gives no
/// unique id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key(u32, String);

impl Key {
    fn of_call(c: &ParkedCall) -> Key {
        let id = if c.unique_id().is_empty() { c.channel() } else { c.unique_id() };
        Key(c.server_id, id.to_owned())
    }
    fn of_episode(e: &Episode) -> Key {
        let id = if e.unique_id.is_empty() { &e.channel } else { &e.unique_id };
        Key(e.server_id, id.clone())
    }
}

struct Writer {
    db: Db,
    /// Open episodes by key, as in the database.
    open: HashMap<Key, Episode>,
    notes: Vec<(Note, Timestamp)>,
    stats: Arc<HistoryStats>,
    options: HistoryOptions,
    stores: Vec<ParkingStore>,
    overflow: Arc<AtomicBool>,
}

fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_unix_millis()).unwrap_or(i64::MAX)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty() && s != "<unknown>").then(|| s.to_owned())
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Op>) {
        let mut retention = tokio::time::interval(Duration::from_secs(3600));
        retention.tick().await;
        loop {
            let op = tokio::select! {
                op = rx.recv() => op,
                _ = retention.tick() => { self.purge().await; continue; }
            };
            let Some(op) = op else { break };
            self.apply(op).await;
            if self.overflow.swap(false, Ordering::AcqRel) {
                // Events were dropped: catch up with what is parked now.
                for store in self.stores.clone() {
                    let calls = store.parked_calls_now();
                    self.resync(&store, calls, now()).await;
                }
            }
        }
    }

    async fn purge(&self) {
        if let Some(days) = self.options.history_days {
            let cutoff = ms(now()) - i64::from(days) * 86_400_000;
            if let Err(e) = self.db.purge_ended_before(cutoff).await {
                eprintln!("history: retention failed: {e}");
            }
        }
    }

    async fn apply(&mut self, op: Op) {
        let r = match op {
            Op::Event(e, at) => self.event(&e, ms(at)).await,
            Op::Note(n, at) => {
                self.notes.push((n, at));
                Ok(())
            }
            Op::Resync(store, calls, at) => {
                self.resync(&store, calls, at).await;
                Ok(())
            }
            Op::Follow(store) => {
                self.stores.push(store);
                Ok(())
            }
            Op::Flush(done) => {
                let _ = done.send(());
                Ok(())
            }
        };
        if let Err(e) = r {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            eprintln!("history: a write failed: {e}");
        }
    }

    /// The note for `pred`, taken (and stale notes dropped).
    fn take_note(&mut self, at: i64, pred: impl Fn(&Note) -> bool) -> Option<String> {
        let ttl = i64::try_from(self.options.note_ttl.as_millis()).unwrap_or(i64::MAX);
        self.notes.retain(|(_, t)| at - ms(*t) <= ttl);
        let i = self.notes.iter().position(|(n, _)| pred(n))?;
        let (note, _) = self.notes.remove(i);
        match note {
            Note::Park { user, .. } | Note::Retrieve { user, .. } => Some(user),
        }
    }

    fn new_episode(&mut self, c: &ParkedCall, parked_at: i64, at: i64) -> Episode {
        let chan = c.channel().to_owned();
        let server = c.server_id;
        let user = self.take_note(at, |n| matches!(n, Note::Park { server_id, channel, .. } if *server_id == server && *channel == chan));
        Episode {
            id: 0,
            server_id: c.server_id,
            lot: c.parking_lot.to_string(),
            space: c.parking_space,
            channel: c.channel().to_owned(),
            unique_id: c.unique_id().to_owned(),
            linked_id: c.linked_id().to_owned(),
            caller_num: non_empty(c.caller_id_num()).unwrap_or_default(),
            caller_name: non_empty(c.caller_id_name()).unwrap_or_default(),
            parker: c.parker_dial_string().to_owned(),
            parked_by_user: user,
            parked_at,
            first_parked_at: parked_at,
            ended_at: None,
            outcome: Outcome::Open,
            retrieved_by: None,
            retrieved_to: None,
            returned_to: None,
            previous_id: None,
            seen_late: false,
            wait_ms: None,
        }
    }

    async fn insert(&mut self, mut e: Episode) -> Result<Episode, HistoryError> {
        e.id = self.db.insert(&e).await?;
        self.stats.written.fetch_add(1, Ordering::Relaxed);
        if e.outcome == Outcome::Open {
            self.open.insert(Key::of_episode(&e), e.clone());
        }
        Ok(e)
    }

    /// Closes the open episode of `call` (one is opened, closed, if the park was
    /// never seen) and returns it.
    async fn close(&mut self, call: &ParkedCall, end: End) -> Result<Episode, HistoryError> {
        let mut ep = match self.open.remove(&Key::of_call(call)) {
            Some(ep) => ep,
            None => {
                let mut ep = self.new_episode(call, ms(call.parked_at).min(end.at), end.at);
                ep.seen_late = true;
                self.insert(ep).await?
            }
        };
        self.db.close(ep.id, &end).await?;
        self.stats.written.fetch_add(1, Ordering::Relaxed);
        ep.ended_at = Some(end.at);
        ep.outcome = end.outcome;
        ep.wait_ms = Some(end.at - ep.first_parked_at);
        Ok(ep)
    }

    fn end(at: i64, outcome: Outcome) -> End {
        End { at, outcome, retrieved_by: None, retrieved_to: None, returned_to: None }
    }

    async fn event(&mut self, e: &ParkingEvent, at: i64) -> Result<(), HistoryError> {
        match e {
            ParkingEvent::Parked { call } => {
                if !self.open.contains_key(&Key::of_call(call)) {
                    let ep = self.new_episode(call, ms(call.parked_at).min(at), at);
                    self.insert(ep).await?;
                }
            }
            ParkingEvent::Retrieved { call, retriever } => {
                let end = self.retrieved(call, retriever, at);
                self.close(call, end).await?;
            }
            ParkingEvent::TimedOut { call } => {
                let mut end = Self::end(at, Outcome::TimedOut);
                end.returned_to = non_empty(call.parker_dial_string());
                self.close(call, end).await?;
            }
            ParkingEvent::GaveUp { call } => {
                self.close(call, Self::end(at, Outcome::HungUp)).await?;
            }
            ParkingEvent::Swapped { call, previous } => {
                let before = match previous {
                    Some(p) => Some(p.clone()),
                    // The store did not know the parkee swapped out: the one open in that space.
                    None => self
                        .open
                        .values()
                        .find(|o| {
                            o.server_id == call.server_id
                                && o.lot == *call.parking_lot
                                && o.space == call.parking_space
                        })
                        .map(|o| {
                            let mut c = ParkedCall::default();
                            c.server_id = o.server_id;
                            c.set_unique_id(&o.unique_id);
                            c.set_channel(&o.channel);
                            Arc::new(c)
                        }),
                };
                self.step(before.as_deref(), call, Outcome::Swapped, at).await?;
            }
            ParkingEvent::Moved { call, from } => {
                self.step(Some(from), call, Outcome::Moved, at).await?;
            }
            ParkingEvent::Resync { call, change: ResyncChange::Appeared } => {
                if !self.open.contains_key(&Key::of_call(call)) {
                    let mut ep = self.new_episode(call, ms(call.parked_at).min(at), at);
                    ep.seen_late = true;
                    self.insert(ep).await?;
                }
            }
            ParkingEvent::Resync { call, change: ResyncChange::Vanished } => {
                if self.open.contains_key(&Key::of_call(call)) {
                    self.close(call, Self::end(at, Outcome::Unwatched)).await?;
                }
            }
            ParkingEvent::NearTimeout { .. } => {}
        }
        Ok(())
    }

    /// A move or swap: closes `before`'s step (if known) and opens the next, linked.
    async fn step(
        &mut self,
        before: Option<&ParkedCall>,
        call: &ParkedCall,
        how: Outcome,
        at: i64,
    ) -> Result<(), HistoryError> {
        let prev = match before {
            Some(b) if self.open.contains_key(&Key::of_call(b)) => {
                Some(self.close(b, Self::end(at, how)).await?)
            }
            _ => None,
        };
        let mut ep = self.new_episode(call, at, at);
        if let Some(p) = prev {
            ep.previous_id = Some(p.id);
            ep.first_parked_at = p.first_parked_at;
            ep.parked_by_user = ep.parked_by_user.or(p.parked_by_user);
        } else {
            ep.parked_at = ms(call.parked_at).min(at);
            ep.first_parked_at = ep.parked_at;
            ep.seen_late = true;
        }
        self.insert(ep).await?;
        Ok(())
    }

    fn retrieved(&mut self, call: &ParkedCall, r: &Retriever, at: i64) -> End {
        let (server, lot, space) = (call.server_id, call.parking_lot.to_string(), call.parking_space);
        let user = self.take_note(at, |n| {
            matches!(n, Note::Retrieve { server_id, lot: l, space: s, .. } if *server_id == server && *l == lot && *s == space)
        });
        let by = user.or_else(|| non_empty(&r.caller_id_num)).or_else(|| non_empty(&r.channel));
        End {
            at,
            outcome: Outcome::Retrieved,
            retrieved_by: by,
            retrieved_to: non_empty(&r.channel),
            returned_to: None,
        }
    }

    /// Open episodes against the store's calls, for the servers it has synced.
    async fn resync(&mut self, store: &ParkingStore, calls: Vec<Arc<ParkedCall>>, at: Timestamp) {
        let at = ms(at);
        let mut parked: HashMap<Key, Arc<ParkedCall>> = HashMap::new();
        for c in calls {
            if store.is_synced(c.server_id) {
                parked.insert(Key::of_call(&c), c);
            }
        }
        let gone: Vec<Episode> = self
            .open
            .iter()
            .filter(|(k, ep)| {
                store.is_synced(ep.server_id)
                    && match parked.get(k) {
                        None => true,
                        // The same unique id on another channel (ids start over after
                        // an Asterisk restart): not the same call.
                        Some(c) => c.channel() != ep.channel,
                    }
            })
            .map(|(_, ep)| ep.clone())
            .collect();
        for ep in gone {
            let mut c = ParkedCall::default();
            c.server_id = ep.server_id;
            c.set_unique_id(&ep.unique_id);
            c.set_channel(&ep.channel);
            if let Err(e) = self.close(&c, Self::end(at, Outcome::Unwatched)).await {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                eprintln!("history: a write failed: {e}");
            }
        }
        for (k, c) in parked {
            if !self.open.contains_key(&k) {
                let mut ep = self.new_episode(&c, ms(c.parked_at).min(at), at);
                ep.seen_late = true;
                if let Err(e) = self.insert(ep).await {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("history: a write failed: {e}");
                }
            }
        }
    }
}
