//! The byte stream under every link: plain TCP or TLS, boxed.

use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream: plain TCP or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A boxed byte stream to Asterisk (TCP or TLS), as [`connect_ami`](crate::connect_ami) opens it.
pub type BoxIo = Box<dyn Io>;
