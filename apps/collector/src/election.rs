//! Which of a server's collectors is the active one, agreed over core NATS.
//!
//! Every collector of a server publishes a claim on `parking.TENANT.SERVER.election`
//! every quarter of the lease: its instance id and, while active, its term. A
//! standby that has heard no active collector for a whole lease becomes active with
//! a term larger than any it has heard (and not below the wall clock in
//! milliseconds), so a later term is always larger. An active collector that hears
//! another active one with a larger term (two standbys promoted at once, or a
//! network split healed) stands down. Frontends follow the largest term they see,
//! so during such a moment they never mix two collectors' numbering.
//!
//! Why not a JetStream KV key with a TTL: the KV bucket needs a replicated stream,
//! and when the NATS node leading it dies, nats-server (2.9, Debian 12's) takes
//! longer than the 5 s allowed to elect a new stream leader (measured: the standby
//! was not active within 5 s in two runs of two; see docs/nats.md). Claims on core
//! NATS need no Raft group: a takeover is one lease plus a claim interval, whatever
//! node died.

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What the election reports: `Some(term)` while this collector is the active one.
pub type Leadership = watch::Receiver<Option<u64>>;

/// How the election is run.
#[derive(Debug, Clone)]
pub struct Lease {
    /// How long an active collector counts as alive after its last claim.
    pub ttl: Duration,
}

/// One collector's claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claim {
    /// The instance (random per process).
    id: u64,
    /// Its name, for logs.
    name: String,
    /// Its term while active.
    term: Option<u64>,
}

/// Another collector as last heard.
struct Peer {
    term: Option<u64>,
    heard: Instant,
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs the election on `subject` (as `name`) until the receiver is dropped.
pub async fn run(
    nc: async_nats::Client,
    subject: String,
    name: String,
    lease: Lease,
    tx: watch::Sender<Option<u64>>,
) {
    let id: u64 = rand::random();
    let mut claims = loop {
        match nc.subscribe(subject.clone()).await {
            Ok(s) => break s,
            Err(e) => {
                eprintln!(
                    "ami-parking-collector: cannot subscribe to {subject} for the election: {e}; retrying"
                );
                tokio::time::sleep(lease.ttl / 4).await;
            }
        }
    };
    // A standby waits a lease (to hear an active one) and a random part of a claim
    // interval, so that collectors started together rarely promote themselves at once.
    let started = Instant::now() + lease.ttl.mul_f64(rand::random::<f64>() / 4.0);
    let mut peers: HashMap<u64, Peer> = HashMap::new();
    let mut term: Option<u64> = None;
    let mut highest = 0u64;
    let mut tick = tokio::time::interval(lease.ttl / 4);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if tx.is_closed() {
                    return;
                }
                peers.retain(|_, p| p.heard.elapsed() < lease.ttl);
                let someone_active = peers.values().any(|p| p.term.is_some());
                if term.is_none() && !someone_active && Instant::now() >= started + lease.ttl {
                    let t = wall_ms().max(highest + 1);
                    highest = t;
                    term = Some(t);
                    let _ = tx.send(term);
                }
                let claim = Claim { id, name: name.clone(), term };
                if let Ok(body) = serde_json::to_vec(&claim) {
                    let _ = nc.publish(subject.clone(), body.into()).await;
                }
            }
            m = claims.next() => {
                let Some(m) = m else { return };
                // A malformed claim is dropped: it never ends the election.
                let Ok(c) = serde_json::from_slice::<Claim>(&m.payload) else { continue };
                if c.id == id {
                    continue;
                }
                if let Some(t) = c.term {
                    highest = highest.max(t);
                    if let Some(mine) = term {
                        if (t, c.id) > (mine, id) {
                            eprintln!("ami-parking-collector: {name} stands down: {} is active with a later term", c.name);
                            term = None;
                            let _ = tx.send(None);
                        }
                    }
                }
                peers.insert(c.id, Peer { term: c.term, heard: Instant::now() });
            }
        }
    }
}
