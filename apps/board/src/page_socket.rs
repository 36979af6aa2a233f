//! The page's side of a liveview socket: a [`Stream`] of what the browser sent and a
//! [`Sink`] of edits for it, the two ends [`LiveViewPool::launch_with_props`] runs a
//! page on. The board puts a channel between the page and the browser's socket so it
//! can read and write the socket itself (close codes, pings, one render for several
//! screens).
//!
//! [`LiveViewPool::launch_with_props`]: dioxus_liveview::LiveViewPool::launch_with_props

use dioxus_liveview::LiveViewError;
use futures_channel::mpsc;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The page's side of a socket: what the browser sent, and the way to it.
pub(crate) struct PageSocket {
    pub(crate) from_browser: mpsc::Receiver<Vec<u8>>,
    pub(crate) to_browser: mpsc::Sender<Vec<u8>>,
}

impl Stream for PageSocket {
    type Item = Result<Vec<u8>, LiveViewError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.from_browser.poll_next_unpin(cx).map(|m| m.map(Ok))
    }
}

impl Sink<Vec<u8>> for PageSocket {
    type Error = LiveViewError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.to_browser.poll_ready_unpin(cx).map_err(gone)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Vec<u8>) -> Result<(), Self::Error> {
        self.to_browser.start_send_unpin(item).map_err(gone)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.to_browser.poll_flush_unpin(cx).map_err(gone)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.to_browser.poll_close_unpin(cx).map_err(gone)
    }
}

fn gone(_: mpsc::SendError) -> LiveViewError {
    LiveViewError::SendingFailed
}
