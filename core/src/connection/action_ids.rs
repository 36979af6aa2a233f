//! ActionIDs and correlation: each action we send carries `<prefix>-<n>`, unique to
//! this instance (so that behind amiws other clients' answers are told apart), and
//! every answer finds its request through its ActionID.

use super::request::RequestId;
use std::sync::atomic::{AtomicU64, Ordering};

static INSTANCE_COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
pub(super) struct ActionIds {
    prefix: String,
    counter: u64,
    /// A hash map, not a sorted table: the keys are text (`<prefix>-<n>`, or the
    /// caller's own), and a sorted table would move half its entries on each insert.
    /// Only lookups come from the server (an answer's ActionID); inserts are ours or
    /// the caller's.
    owners: foldhash::HashMap<String, RequestId>,
}

impl ActionIds {
    /// ActionIDs for `instance` (`None`: derived from `seed` and a process-wide counter).
    pub(super) fn new(instance: Option<u64>, seed: u64) -> Self {
        let instance = instance.unwrap_or_else(|| {
            let n = INSTANCE_COUNTER.fetch_add(1, Ordering::Relaxed);
            (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n.wrapping_mul(0xBF58_476D_1CE4_E5B9)).rotate_left(17)
        });
        Self {
            prefix: format!("{:08x}", instance as u32 ^ (instance >> 32) as u32),
            counter: 0,
            owners: foldhash::HashMap::default(),
        }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A fresh ActionID.
    pub(super) fn next(&mut self) -> String {
        self.counter += 1;
        format!("{}-{}", self.prefix, self.counter)
    }

    /// `action_id` now answers to request `id`.
    pub(super) fn bind(&mut self, action_id: String, id: RequestId) {
        self.owners.insert(action_id, id);
    }

    pub(super) fn unbind(&mut self, action_id: &str) {
        self.owners.remove(action_id);
    }

    /// The request an ActionID belongs to, if it is one of ours.
    pub(super) fn owner(&self, action_id: &[u8]) -> Option<RequestId> {
        std::str::from_utf8(action_id).ok().and_then(|a| self.owners.get(a)).copied()
    }

    /// True when `action_id` is one this instance makes (`<prefix>-...`), bound or not.
    pub(super) fn is_ours(&self, action_id: &[u8]) -> bool {
        action_id.strip_prefix(self.prefix.as_bytes()).is_some_and(|rest| rest.first() == Some(&b'-'))
    }

    /// How many ActionIDs are bound to a request.
    pub(super) fn bound(&self) -> usize {
        self.owners.len()
    }

    /// True while no request waits for an answer (then only live events matter).
    #[cfg(feature = "raw-ami")]
    pub(super) fn is_idle(&self) -> bool {
        self.owners.is_empty()
    }
}
