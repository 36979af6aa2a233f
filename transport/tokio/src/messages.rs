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

/// One message from a server: which one, and the message.
pub type ServerMessage = (ServerId, Arc<Message>);

/// The sending side the client's task writes into.
pub(crate) fn channel() -> broadcast::Sender<ServerMessage> {
    broadcast::channel(MESSAGES_QUEUE).0
}

type Next = Pin<Box<dyn Future<Output = (Result<ServerMessage, broadcast::error::RecvError>, Rx)> + Send>>;
type Rx = broadcast::Receiver<ServerMessage>;

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
}

impl std::fmt::Debug for MessageStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStream").field("lost", &self.lost).finish_non_exhaustive()
    }
}

impl MessageStream {
    pub(crate) fn new(rx: Rx) -> Self {
        MessageStream { rx: Some(rx), next: None, lost: 0 }
    }

    /// How many messages this subscriber lost so far by falling behind.
    pub fn lost(&self) -> u64 {
        self.lost
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
                Ok(m) => {
                    self.rx = Some(rx);
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
