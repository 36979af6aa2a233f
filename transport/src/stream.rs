//! The byte stream under every link: plain TCP or TLS, boxed.

use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream: plain TCP or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) type BoxIo = Box<dyn Io>;
