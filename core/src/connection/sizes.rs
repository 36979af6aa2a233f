//! How much a connection holds, container by container, beside its store's sizes.

use super::pending::Acc;
use super::Connection;
use crate::store::StoreSizes;

/// The size of every container a [`Connection`] keeps for as long as it lives, from
/// [`Connection::debug_sizes`], with its store's ([`StoreSizes`]).
///
/// What bounds each (checked by `sim::check_connection`, with the feature
/// `sim`): `bound_action_ids` and `request_deadlines` at most one per request in
/// flight (`pending_requests`, keep-alive Pings, polls and refreshes included);
/// `collection_windows` one per `ParkedCalls` request in flight; `known_servers` at
/// most `max_servers`. `transmit_queue` and `output_queue` hold what the driver has
/// not taken yet (`poll_transmit`, `poll_output`).
///
/// ```
/// use ami_parking::{Connection, ConnectionConfig, Timestamp};
/// let conn = Connection::new(ConnectionConfig::amiws(), Timestamp::ZERO);
/// let sizes = conn.debug_sizes();
/// assert_eq!((sizes.pending_requests, sizes.bound_action_ids), (0, 0));
/// assert_eq!(sizes.store.collection_windows, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConnectionSizes {
    /// Requests in flight (also those the connection started itself, and fan-out
    /// lists lingering for late servers).
    pub pending_requests: usize,
    /// ActionIDs bound to a request in flight.
    pub bound_action_ids: usize,
    /// Request deadlines in the timer table.
    pub request_deadlines: usize,
    /// Collection windows this connection's `ParkedCalls` requests hold open.
    pub collection_windows: usize,
    /// Servers followed.
    pub known_servers: usize,
    /// Writes not taken by `poll_transmit` yet.
    pub transmit_queue: usize,
    /// Outputs not taken by `poll_output` yet.
    pub output_queue: usize,
    /// The store's sizes (shared with every connection writing into it).
    pub store: StoreSizes,
}

impl Connection {
    /// The size of each container the connection keeps, and its store's (see
    /// [`ConnectionSizes`]): for tests and long-running processes that watch for
    /// leaks. Cheap: a few lengths.
    pub fn debug_sizes(&self) -> ConnectionSizes {
        ConnectionSizes {
            pending_requests: self.pending.len(),
            bound_action_ids: self.ids.bound(),
            request_deadlines: self.timers.requests(),
            collection_windows: self.pending.values().filter(|p| matches!(p.acc, Acc::Calls { .. })).count(),
            known_servers: self.known_servers.len(),
            transmit_queue: self.transmit.len(),
            output_queue: self.outputs.len(),
            store: self.store.debug_sizes(),
        }
    }
}
