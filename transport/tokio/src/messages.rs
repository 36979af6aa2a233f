//! For programs that pass a server's traffic on (the WebSocket bridge): the
//! server's messages as a stream ([`Client::messages`](crate::Client::messages), with
//! [`ClientOptions::forward_events`](crate::ClientOptions::forward_events)), and
//! requests that never wait for room in the client's queue
//! ([`Client::try_request`](crate::Client::try_request)).

use ami_parking::{Message, ServerId};
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::broadcast;

/// Messages kept for each [`Client::messages`](crate::Client::messages) subscriber; one that falls further
/// behind loses the oldest (and can read how many: [`MessageStream::lost`]).
pub const MESSAGES_QUEUE: usize = 4096;

/// The longest queue [`ClientOptions::messages_queue`](crate::ClientOptions::messages_queue)
/// gets (a larger one is cut to this): the queue's slots are allocated up front.
pub const MESSAGES_QUEUE_MAX: usize = 1 << 20;

/// One message from a server: which one, and the message.
pub type ServerMessage = (ServerId, Arc<Message>);

/// A message as the client's task sends it: its number within its link (from 1),
/// then the message.
pub(crate) type Numbered = (u64, ServerMessage);

/// A server's parked calls in the client's store at one moment, and the number of the
/// last message its link had reported then: what
/// [`Client::calls_through`](crate::Client::calls_through) answers. A message of
/// that link numbered at most `number` ([`MessageStream::number`]) is already in
/// `calls`; one numbered higher came after.
#[derive(Debug, Clone, Default)]
pub struct CallsThrough {
    /// The number of the link's last reported message at that moment (0: none yet).
    pub number: u64,
    /// The server's parked calls at that moment.
    pub calls: Vec<ami_parking::ParkedCall>,
}

impl CallsThrough {
    /// The calls of `server` in `store` now, after message `number`.
    pub(crate) fn of(store: &ami_parking::ParkingStore, server: ServerId, number: u64) -> Self {
        let calls = store
            .parked_calls_now()
            .iter()
            .filter(|c| c.server_id == server)
            .map(|c| ami_parking::ParkedCall::clone(c))
            .collect();
        CallsThrough { number, calls }
    }
}

/// The sending side the client's tasks write into, keeping `queue` messages for each
/// subscriber (at least one, at most [`MESSAGES_QUEUE_MAX`]).
pub(crate) fn channel(queue: usize) -> broadcast::Sender<Numbered> {
    broadcast::channel(queue.clamp(1, MESSAGES_QUEUE_MAX)).0
}

type Next = Pin<Box<dyn Future<Output = (Result<Numbered, broadcast::error::RecvError>, Rx)> + Send>>;
type Rx = broadcast::Receiver<Numbered>;

/// The server's messages that are not answers of the client's own, from the moment
/// of [`Client::messages`](crate::Client::messages) on (nothing unless
/// [`ClientOptions::forward_events`](crate::ClientOptions::forward_events) is on). A
/// subscriber that falls more than [`MESSAGES_QUEUE`] messages behind loses the
/// oldest ones instead of slowing the link; [`MessageStream::lost`] counts them. The
/// stream ends when the client stops.
pub struct MessageStream {
    rx: Option<Rx>,
    next: Option<Next>,
    lost: u64,
    number: u64,
}

impl std::fmt::Debug for MessageStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStream")
            .field("lost", &self.lost)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

impl MessageStream {
    pub(crate) fn new(rx: Rx) -> Self {
        MessageStream { rx: Some(rx), next: None, lost: 0, number: 0 }
    }

    /// How many messages this subscriber lost so far by falling behind.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// The number of the message this stream yielded last (0 before the first): each
    /// link numbers the messages it reports from 1 on, for its life. With
    /// [`Client::calls_through`](crate::Client::calls_through) it tells a message the
    /// client's store already held at a moment (its number is at most that moment's)
    /// from one that came after it: what a program needs that passes the store's
    /// state on and then the messages after it, with none twice.
    pub fn number(&self) -> u64 {
        self.number
    }
}

impl Stream for MessageStream {
    type Item = ServerMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ServerMessage>> {
        loop {
            if self.next.is_none() {
                let Some(mut rx) = self.rx.take() else { return Poll::Ready(None) };
                self.next = Some(Box::pin(async move { (rx.recv().await, rx) }));
            }
            let Some(next) = self.next.as_mut() else { return Poll::Ready(None) };
            let (r, rx) = match next.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(done) => done,
            };
            self.next = None;
            match r {
                Ok((number, m)) => {
                    self.rx = Some(rx);
                    self.number = number;
                    return Poll::Ready(Some(m));
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    self.lost += n;
                    self.rx = Some(rx);
                }
                Err(broadcast::error::RecvError::Closed) => return Poll::Ready(None),
            }
        }
    }
}
