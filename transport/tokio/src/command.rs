//! What a client's handles ask of its link's task.

use ami_parking::{ParkingError, Reply, Request, Target};
use tokio::sync::oneshot;

/// Requests queued for one link's task; past this, a request waits (backpressure)
/// and `try_request` is refused at once, instead of the queue growing without limit.
/// As many may be unanswered at a time; more are refused with
/// [`ParkingError::QueueFull`].
pub(crate) const COMMAND_QUEUE: usize = 1024;

/// One message from a handle to its link's task.
pub(crate) enum Command {
    /// Send a request; answer on the channel.
    Request(Request, Target, oneshot::Sender<Result<Reply, ParkingError>>),
    /// Log off, close the link, stop; say when done.
    Shutdown(oneshot::Sender<()>),
    /// The store's calls of a server and the number of the link's last message.
    Calls(ami_parking::ServerId, oneshot::Sender<crate::messages::CallsThrough>),
}
