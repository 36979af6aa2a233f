//! The tokio transport on loopback: test servers in the process (hostile AMI servers,
//! a TLS acceptor, an amiws stand-in playing the real captures), no Asterisk. Needs
//! sockets on 127.0.0.1 and, for the TLS tests, the `openssl` command.
//!
//! `cargo test -p ami-parking-tests --test transport`.

mod backoff;
mod forward;
mod hostile;
mod servers;
mod tls;
mod websocket;
