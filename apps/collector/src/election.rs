//! Leader election through a JetStream KV bucket: the active collector of a server
//! holds the key `TENANT.SERVER` of bucket [`BUCKET`], whose entries expire after
//! the lease (the bucket's `max_age`). The holder renews it every third of the
//! lease with a compare-and-set `update` on the revision it last wrote; a standby
//! tries `create` (which succeeds only when no live entry is there) every sixth of
//! the lease. The holder's term is the revision its `create` got: the bucket's
//! sequence only grows, so a later term has a larger number, and frontends follow
//! the largest they see.

use async_nats::jetstream::{self, kv};
use std::time::Duration;
use tokio::sync::watch;

/// The bucket the leader keys live in.
pub const BUCKET: &str = "ami_parking_leaders";

/// What the election reports: `Some(term)` while this collector is the active one.
pub type Leadership = watch::Receiver<Option<u64>>;

/// How the election is run.
#[derive(Debug, Clone)]
pub struct Lease {
    /// How long a key outlives its last renewal.
    pub ttl: Duration,
    /// The bucket's replicas (3 on a three-node cluster, so it survives a node).
    pub replicas: usize,
}

/// Runs the election for `key` (as `who`) until the receiver is dropped.
pub async fn run(
    nc: async_nats::Client,
    key: String,
    who: String,
    lease: Lease,
    tx: watch::Sender<Option<u64>>,
) {
    let js = jetstream::new(nc);
    let store = loop {
        let made = js
            .create_key_value(kv::Config {
                bucket: BUCKET.into(),
                history: 1,
                max_age: lease.ttl,
                num_replicas: lease.replicas,
                ..Default::default()
            })
            .await;
        match made {
            Ok(s) => break s,
            Err(e) => {
                match js.get_key_value(BUCKET).await {
                    Ok(s) => break s,
                    Err(_) => {
                        eprintln!("ami-parking-collector: election bucket {BUCKET} not available yet ({e}); retrying");
                        if tx.is_closed() {
                            return;
                        }
                        tokio::time::sleep(lease.ttl / 6).await;
                    }
                }
            }
        }
    };
    let mut held: Option<u64> = None;
    loop {
        if tx.is_closed() {
            if let Some(rev) = held {
                // Handing over at once rather than after the lease: delete only our own.
                if store.update(&key, who.clone().into(), rev).await.is_ok() {
                    let _ = store.delete(&key).await;
                }
            }
            return;
        }
        match held {
            None => match store.create(&key, who.clone().into()).await {
                Ok(rev) => {
                    held = Some(rev);
                    let _ = tx.send(Some(rev));
                }
                Err(_) => tokio::time::sleep(lease.ttl / 6).await,
            },
            Some(rev) => {
                tokio::time::sleep(lease.ttl / 3).await;
                match tokio::time::timeout(lease.ttl / 3, store.update(&key, who.clone().into(), rev)).await {
                    Ok(Ok(next)) => held = Some(next),
                    Ok(Err(e)) => {
                        eprintln!("ami-parking-collector: {who} lost the lead of {key}: {e}");
                        held = None;
                        let _ = tx.send(None);
                    }
                    Err(_) => {
                        eprintln!("ami-parking-collector: {who} could not renew the lead of {key} in time; standing down");
                        held = None;
                        let _ = tx.send(None);
                    }
                }
            }
        }
    }
}
