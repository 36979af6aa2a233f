//! Caps on connections: a listener that holds at most [`MAX_CONNECTIONS`] open at once
//! (more wait in the kernel's backlog) and at most [`PER_ADDRESS`] from one address
//! (more are closed at once), so sockets that never finish a request cannot use up
//! the board's descriptors.

use axum::serve::Listener;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections open at once, at most.
pub const MAX_CONNECTIONS: usize = 2_048;
/// Connections from one address at once, at most (a reverse proxy counts as one
/// address: raise it there).
pub const PER_ADDRESS: usize = 256;

/// A listener with the caps above.
pub struct Capped<L> {
    inner: L,
    slots: Arc<Semaphore>,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl<L> Capped<L> {
    /// `inner`, capped.
    pub fn new(inner: L) -> Capped<L> {
        Capped { inner, slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)), per_address: Arc::default() }
    }
}

/// A connection that gives its place back when it closes.
pub struct CappedIo<T> {
    io: T,
    _slot: OwnedSemaphorePermit,
    _seat: AddressSeat,
}

struct AddressSeat {
    map: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Drop for AddressSeat {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl<L> Listener for Capped<L>
where
    L: Listener<Addr = SocketAddr>,
    L::Io: Unpin,
{
    type Io = CappedIo<L::Io>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok(slot) = self.slots.clone().acquire_owned().await else {
                return std::future::pending().await;
            };
            let (io, peer) = self.inner.accept().await;
            let ip = peer.ip();
            {
                let mut map = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
                let n = map.entry(ip).or_default();
                if *n >= PER_ADDRESS {
                    tracing::warn!(%ip, "refused a connection: {PER_ADDRESS} open from this address");
                    drop(io);
                    continue;
                }
                *n += 1;
            }
            let seat = AddressSeat { map: self.per_address.clone(), ip };
            return (CappedIo { io, _slot: slot, _seat: seat }, peer);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CappedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CappedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
