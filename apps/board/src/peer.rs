//! The address a request came from, for the login throttle, over plain TCP or TLS.

use crate::limits::Capped;
use crate::tls::TlsListener;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// The client's address (axum's `ConnectInfo<Peer>`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl<L> Connected<IncomingStream<'_, Capped<L>>> for Peer
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: Unpin,
{
    fn connect_info(stream: IncomingStream<'_, Capped<L>>) -> Self {
        Peer(*stream.remote_addr())
    }
}
