//! # ami-parking-collector
//!
//! Holds the AMI connection to one Asterisk (the core's `Connection` through the
//! tokio transport: login, resync, keep-alive, reconnect) and publishes its parking
//! state to NATS, so that any number of frontends (`nats://` endpoints of the
//! transport: the board, parkwatch, any app) follow it with no AMI session of their
//! own. See [`ami_parking_transport::nats::protocol`] for the subjects.
//!
//! - **Events**: every live AMI parking event, as its AMI text, on
//!   `parking.TENANT.SERVER.<lot>.events`, numbered (`Parking-Seq`) within the
//!   collector's term (`Parking-Epoch`).
//! - **Snapshot**: request/reply on `parking.TENANT.SERVER.snapshot`: the lots and
//!   calls, and the number of the last event they hold. The snapshot is made from a
//!   *mirror* store that only the published events change, in the task that
//!   publishes them, so snapshot and numbering agree exactly.
//! - **Resync**: after each login to Asterisk, and whenever the mirror and the AMI
//!   client's own store (which Asterisk's `ParkedCalls` answers reconcile) differ on
//!   two ticks in a row, or its lots changed (Asterisk made a dynamic lot at a
//!   `Park`, a reload changed a range), the mirror takes the client's state and the
//!   whole snapshot is published as a numbered `resync` message; the last two at most
//!   once every 5 s between them.
//! - **Heartbeat**: every second, the number of the last event, so a frontend that
//!   missed the last one finds the gap.
//! - **Actions**: park, retrieve, move as requests on `parking.TENANT.SERVER.action`.
//! - **Election**: with several collectors of one server, the active one
//!   ([`election`]) publishes and answers; the others keep their AMI session and
//!   mirror warm and take over a lease after its last claim.

#![forbid(unsafe_code)]

pub mod election;

use ami_parking::wire::inbound::{Inbound, Shape};
use ami_parking::{
    ConnectionState, Message, Park, ParkingClient, ParkingError, ParkingOptions, ParkingStore, Reply,
    Request, Target,
};
use ami_parking_transport::nats::protocol::{self, ActionReply, ActionRequest, Kind, Snapshot, Subjects};
use ami_parking_transport::nats::{CallData, LotData, NatsTarget};
use ami_parking_transport::{now, Client};
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The server id of the one AMI link (the client's first).
const SERVER: ami_parking::ServerId = 1;

/// The least time between two resyncs the collector decides on its own (a drift of
/// the mirror, a change of the lots): a whole snapshot goes to every frontend, and a
/// server whose state flaps (lists that disagree with its events, lots that change at
/// each park into a new dynamic lot; a hostile one) would otherwise have one sent
/// every heartbeat or two. The resync after a login is never held back.
const RESYNC_EVERY: Duration = Duration::from_secs(5);

/// What a collector needs.
pub struct Config {
    /// The AMI client (one server; `forward_events` is turned on here).
    pub ami: ami_parking_transport::ClientOptions,
    /// Where to publish: NATS servers, credentials, tenant and server.
    pub nats: NatsTarget,
    /// Extra CA for TLS to NATS.
    pub nats_ca_file: Option<std::path::PathBuf>,
    /// Leader election (`None`: this collector is always the active one).
    pub election: Option<election::Lease>,
    /// This collector's name (logs, the leader key's value).
    pub name: String,
    /// How often the heartbeat goes out.
    pub heartbeat: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("ami", &self.ami.endpoint)
            .field("nats", &self.nats)
            .field("election", &self.election)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// NATS could not be set up.
    #[error(transparent)]
    Nats(#[from] ami_parking_transport::nats::NatsError),
    /// A subscription was refused (permissions?).
    #[error("cannot subscribe to {subject} on NATS: {reason} (does this NATS user may subscribe there?)")]
    Subscribe {
        /// The subject.
        subject: String,
        /// Why.
        reason: String,
    },
}

/// The state the published events describe, and their numbering.
struct Publisher {
    nc: async_nats::Client,
    subjects: Subjects,
    mirror: ParkingStore,
    client: Client,
    /// The term while active.
    term: Option<u64>,
    seq: u64,
    /// The mirror and the client's store differed at the last tick.
    differed: bool,
    /// A login happened; resync once the client's refresh is done.
    resync_pending: bool,
    /// The number of the last message (of [`Client::messages`]) the last resync held.
    resynced_through: u64,
    /// The last resync said the AMI link was up.
    live: bool,
    /// The lots the last resync published: when the client's lots change (Asterisk
    /// made a dynamic lot, a reload changed a range), a resync publishes them.
    lots_sent: Vec<LotData>,
    /// When the last resync for a drift or a change of the lots went out.
    resynced_at: Option<Instant>,
    /// This collector's name.
    name: String,
}

/// Runs a collector until `stop` resolves.
pub async fn run(cfg: Config, stop: impl Future<Output = ()>) -> Result<(), CollectorError> {
    let mut ami = cfg.ami.clone();
    ami.forward_events = true;
    let client = Client::connect_with_store(ami, ParkingStore::default());
    let mut messages = client.messages();
    let nc =
        cfg.nats.connect(cfg.nats_ca_file.clone(), &format!("ami-parking-collector {}", cfg.name)).await?;
    let subjects = cfg.nats.subjects.clone();
    let (lead_tx, mut lead) = watch::channel(None);
    // Without an election the sender stays here, unchanged, for the collector's life.
    let mut _always = None;
    match &cfg.election {
        Some(lease) => {
            let subject = subjects.election();
            tokio::spawn(election::run(nc.clone(), subject, cfg.name.clone(), lease.clone(), lead_tx));
        }
        None => {
            let term = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(1);
            let _ = lead_tx.send(Some(term));
            _always = Some(lead_tx);
        }
    }
    let mut p = Publisher {
        nc: nc.clone(),
        subjects: subjects.clone(),
        mirror: ParkingStore::new(ParkingOptions::default().auto_refresh(false)),
        client: client.clone(),
        term: None,
        seq: 0,
        differed: false,
        resync_pending: false,
        resynced_through: 0,
        live: false,
        lots_sent: Vec::new(),
        resynced_at: None,
        name: cfg.name.clone(),
    };
    let mut states = {
        use ami_parking::futures_signals::signal::SignalExt;
        client.connection_state().to_stream().boxed()
    };
    let mut snapshots: Option<async_nats::Subscriber> = None;
    let mut actions: Option<async_nats::Subscriber> = None;
    let mut tick = tokio::time::interval(cfg.heartbeat);
    tokio::pin!(stop);
    let mut lost = 0;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            m = messages.next() => {
                let Some((server, m)) = m else { break };
                if messages.lost() != lost {
                    lost = messages.lost();
                    eprintln!("ami-parking-collector: fell behind Asterisk's events ({lost} lost so far); resyncing");
                    p.resync().await;
                }
                // What the last resync took from the client's store is not published again.
                if server == SERVER && messages.number() > p.resynced_through {
                    p.on_message(&m).await;
                }
            }
            changed = lead.changed() => {
                if changed.is_err() { break }
                let term = *lead.borrow_and_update();
                p.term = term;
                p.seq = 0;
                if let Some(term) = term {
                    snapshots = Some(subscribe(&nc, subjects.snapshot()).await?);
                    actions = Some(subscribe(&nc, subjects.action()).await?);
                    // Once NATS has the subscriptions, requests reach this collector.
                    let _ = nc.flush().await;
                    eprintln!("ami-parking-collector: {} is now the active collector of {} (term {term})", cfg.name, subjects.prefix());
                    p.heartbeat().await;
                } else {
                    eprintln!("ami-parking-collector: {} is a standby of {}", cfg.name, subjects.prefix());
                    snapshots = None;
                    actions = None;
                }
            }
            Some(req) = next(&mut snapshots) => p.answer_snapshot(req).await,
            Some(req) = next(&mut actions) => p.answer_action(req),
            Some(state) = states.next() => {
                if state == ConnectionState::LoggedIn {
                    p.resync_pending = true;
                } else if std::mem::take(&mut p.live) {
                    // Asterisk is gone: the frontends are told (their calls are now the
                    // last known) by a resync that says so.
                    eprintln!("ami-parking-collector: lost Asterisk ({state:?}); the frontends are told");
                    p.resync().await;
                }
            }
            _ = tick.tick() => p.tick().await,
        }
    }
    drop(lead);
    let _ = tokio::time::timeout(Duration::from_secs(1), nc.flush()).await;
    client.shutdown().await;
    Ok(())
}

async fn subscribe(
    nc: &async_nats::Client,
    subject: String,
) -> Result<async_nats::Subscriber, CollectorError> {
    nc.subscribe(subject.clone())
        .await
        .map_err(|e| CollectorError::Subscribe { subject, reason: e.to_string() })
}

/// The next message of an optional subscription (pending while there is none).
async fn next(sub: &mut Option<async_nats::Subscriber>) -> Option<async_nats::Message> {
    match sub {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

impl Publisher {
    /// A message from Asterisk: a live parking event changes the mirror and is
    /// published, numbered.
    async fn on_message(&mut self, m: &Message) {
        let ev = match Inbound::of_message(SERVER, m, now(), Shape::Messages) {
            Inbound::Live(ev) => ev,
            _ => return,
        };
        let c = &ev.call;
        let holds = self
            .mirror
            .parked_call_on_now(SERVER, &c.parking_lot, c.parking_space)
            .is_some_and(|held| held.unique_id() == c.unique_id());
        // Only what changes the mirror is published: a park of a call the mirror holds
        // there, or a leave of one it does not, would reach the frontends as a change
        // they already have.
        if holds != ev.kind.is_leave() {
            return;
        }
        let lot = c.parking_lot.to_string();
        self.mirror.apply_message(now(), SERVER, m);
        self.publish(&self.subjects.events(&lot), Kind::Event, protocol::message_body(m)).await;
    }

    /// Publishes one change (numbered) when active.
    async fn publish(&mut self, subject: &str, kind: Kind, body: Vec<u8>) {
        let Some(term) = self.term else { return };
        self.seq += 1;
        let h = protocol::headers(term, self.seq, kind);
        if let Err(e) = self.nc.publish_with_headers(subject.to_owned(), h, body.into()).await {
            eprintln!("ami-parking-collector: cannot publish on {subject}: {e}");
        }
    }

    async fn heartbeat(&mut self) {
        let Some(term) = self.term else { return };
        let h = protocol::headers(term, self.seq, Kind::Heartbeat);
        let _ = self.nc.publish_with_headers(self.subjects.control(), h, Vec::new().into()).await;
    }

    fn snapshot(&self) -> Snapshot {
        let store = self.client.store();
        Snapshot {
            epoch: self.term.unwrap_or(0),
            seq: self.seq,
            live: self.client.connection_state_now() == ConnectionState::LoggedIn,
            collector: self.name.clone(),
            lots: lots_of(store),
            calls: self.mirror.parked_calls_now().iter().map(|c| CallData::of(c)).collect(),
        }
    }

    /// The mirror takes the client's state (which Asterisk's answers reconcile), and
    /// the whole of it is published as one numbered change. The client's store runs
    /// ahead of its message stream (a read of messages is applied before their copies
    /// are sent): the calls come with the number of the last message they hold, and
    /// the messages up to it are not published again (they would replay older parks
    /// and retrieves over the newer state).
    async fn resync(&mut self) {
        let Some(at) = self.client.calls_through(SERVER).await else { return };
        self.resynced_through = at.number;
        self.mirror.apply_snapshot(now(), SERVER, None, at.calls);
        self.differed = false;
        let snapshot = self.snapshot();
        self.live = snapshot.live;
        self.lots_sent = snapshot.lots.clone();
        let body = snapshot.to_json();
        let subject = self.subjects.control();
        self.publish(&subject, Kind::Resync, body).await;
    }

    /// Every heartbeat: a pending resync after a login, a mirror that drifted from
    /// the client's store (on two ticks in a row: one may be an event in flight), or
    /// lots that changed since the last resync (these two at most every
    /// `RESYNC_EVERY`).
    async fn tick(&mut self) {
        let store = self.client.store();
        if !store.is_loading_now() && store.is_synced(SERVER) {
            if self.resync_pending {
                self.resync_pending = false;
                self.resync().await;
                eprintln!(
                    "ami-parking-collector: logged in to Asterisk ({} calls parked)",
                    self.mirror.total_parked_calls_now()
                );
            } else if places(store) != places(&self.mirror) {
                if self.differed && resync_due(self.resynced_at, Instant::now()) {
                    eprintln!(
                        "ami-parking-collector: the published state drifted from Asterisk's; resyncing"
                    );
                    self.resynced_at = Some(Instant::now());
                    self.resync().await;
                } else {
                    self.differed = true;
                }
            } else if lots_of(store) != self.lots_sent && resync_due(self.resynced_at, Instant::now()) {
                // A list of lots the client took (its answers apply at once): Asterisk
                // made a lot at a `Park` (dynamic lots), or a reload changed them.
                self.resynced_at = Some(Instant::now());
                self.resync().await;
            } else {
                self.differed = false;
            }
        }
        self.heartbeat().await;
    }

    async fn answer_snapshot(&self, req: async_nats::Message) {
        let Some(reply) = req.reply else { return };
        let _ = self.nc.publish(reply, self.snapshot().to_json().into()).await;
    }

    fn answer_action(&self, req: async_nats::Message) {
        let Some(reply) = req.reply else { return };
        let (nc, client) = (self.nc.clone(), self.client.clone());
        tokio::spawn(async move {
            let answer = match ActionRequest::from_json(&req.payload) {
                Ok(a) => act(&client, a).await,
                Err(e) => ActionReply::Error { action: "the request".into(), message: e.to_string() },
            };
            let _ = nc.publish(reply, answer.to_json().into()).await;
        });
    }
}

/// The lots a snapshot carries: those whose range is known (a frontend makes a lot
/// of unknown range from its calls, as the collector's own store did).
fn lots_of(store: &ParkingStore) -> Vec<LotData> {
    store.parking_lots_now().iter().filter(|l| l.range_known).map(LotData::of).collect()
}

/// Whether a resync for a drift or a change of the lots may go out now: not within
/// [`RESYNC_EVERY`] of the last such resync (`last`).
fn resync_due(last: Option<Instant>, now: Instant) -> bool {
    last.is_none_or(|t| now.saturating_duration_since(t) >= RESYNC_EVERY)
}

/// Where every call is, and which: what two stores must agree on.
fn places(store: &ParkingStore) -> BTreeSet<(String, u32, String)> {
    store
        .parked_calls_now()
        .iter()
        .filter(|c| c.server_id == SERVER)
        .map(|c| (c.parking_lot.to_string(), c.parking_space, c.unique_id().to_owned()))
        .collect()
}

/// Carries out one action on Asterisk.
async fn act(client: &Client, a: ActionRequest) -> ActionReply {
    let req = match a {
        ActionRequest::Park { channel, lot, space, timeout_ms } => {
            Request::Park { channel, park: Park { lot, space, timeout: protocol::park_timeout(timeout_ms) } }
        }
        ActionRequest::Retrieve { lot, space, to_channel } => Request::Retrieve { space, to_channel, lot },
        ActionRequest::Move { lot, space, to_lot, to_space, timeout_ms } => Request::Move {
            space,
            lot,
            to: Park { lot: to_lot, space: to_space, timeout: protocol::park_timeout(timeout_ms) },
        },
    };
    let action = req.name();
    match client.request(req, Target::Server(SERVER)).await {
        Ok(Reply::Parked { lot, space, call, .. } | Reply::Moved { lot, space, call, .. }) => {
            ActionReply::Parked { lot, space, call: Some(CallData::of(&call)) }
        }
        Ok(Reply::Retrieved { lot, space, retriever, .. }) => {
            ActionReply::Retrieved { lot, space, retriever: protocol::RetrieverData::of(&retriever) }
        }
        Ok(other) => ActionReply::Error { action, message: format!("unexpected answer {other:?}") },
        // Not the server's other lots: a frontend may show this to a user of some lots.
        Err(ParkingError::UnknownLot { lot, .. }) => {
            ActionReply::Error { action, message: format!("there is no parking lot {lot}") }
        }
        Err(e) => ActionReply::Error { action, message: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server whose lots or lists flap gets at most one resync every
    /// `RESYNC_EVERY`, whatever the heartbeat.
    #[test]
    fn a_drift_or_a_change_of_the_lots_is_published_at_most_every_five_seconds() {
        let t0 = Instant::now();
        assert!(resync_due(None, t0), "the first change goes out at once");
        assert!(!resync_due(Some(t0), t0 + Duration::from_secs(1)));
        assert!(!resync_due(Some(t0), t0 + RESYNC_EVERY - Duration::from_millis(1)));
        assert!(resync_due(Some(t0), t0 + RESYNC_EVERY));
        let heartbeats = (0..60).map(|s| t0 + Duration::from_secs(s));
        let mut last = None;
        let sent =
            heartbeats.filter(|&now| resync_due(last, now).then(|| last = Some(now)).is_some()).count();
        assert_eq!(sent, 12, "a minute of flapping: one resync every five seconds");
    }
}
