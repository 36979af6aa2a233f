//! What the bridge does ([`Config`]), and the checks it must pass before anything
//! starts ([`Config::check`]): tokens (or `--no-auth` on loopback only), tokens
//! long enough.

use crate::limits::{
    DEFAULT_MAX_CLIENTS, DEFAULT_MAX_PER_PRINCIPAL, DEFAULT_MAX_UNAUTHENTICATED, DEFAULT_RATE,
};
use crate::policy::Rules;
use crate::tokens::{Tokens, MIN_TOKEN_LEN};
use ami_parking_transport::Endpoint;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Which of the servers' messages that answer no client's action leave the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Events {
    /// Parking events (to the clients whose token sees their lot), `FullyBooted`,
    /// `Shutdown`.
    #[default]
    Parking,
    /// Everything the AMI user reads (`read=call` is the whole PBX's call stream,
    /// with numbers), to clients of every lot.
    All,
}

/// What the bridge does.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Asterisk servers (`tcp://` or `tls://`), `AMIServerID` 1, 2, ... in order.
    pub upstreams: Vec<Endpoint>,
    /// Their `server_name`s, in the same order (amiws's `name:`); a missing one is
    /// `host:port`.
    pub names: Vec<String>,
    /// Extra CA certificates for `tls://` upstreams.
    pub ca_file: Option<PathBuf>,
    /// Accepted tokens and their grants.
    pub tokens: Tokens,
    /// Accept clients without a token (a loopback listener only).
    pub no_auth: bool,
    /// The actions allowed and where a retrieve may ring.
    pub rules: Rules,
    /// Which messages that answer no client's action leave the bridge.
    pub events: Events,
    /// Actions a second per token (per address without tokens), and its burst.
    pub rate: (u32, u32),
    /// Frames queued per client before it is cut off.
    pub queue: usize,
    /// Sockets connected at once, upgrading or not (`--max-clients`).
    pub max_clients: usize,
    /// Sockets that have not finished their upgrade, at once.
    pub max_unauthenticated: usize,
    /// Sockets one token (one address without tokens) keeps connected at once
    /// (`--max-clients-per-token`).
    pub max_per_token: usize,
    /// Web origins allowed to connect (`--allow-origin`), besides loopback ones on a
    /// loopback listener and the web root's own.
    pub allow_origins: Vec<String>,
    /// A directory of static files served from the bridge's own origin.
    pub web_root: Option<PathBuf>,
    /// TLS for the listener.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

/// A configuration the bridge will not start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No token and no `--no-auth`.
    #[error("no token configured: give --token-file (or --token), or --no-auth on a loopback address")]
    NoToken,
    /// A token shorter than [`MIN_TOKEN_LEN`].
    #[error(
        "a token is {len} bytes long: tokens must be at least {MIN_TOKEN_LEN} (e.g. `openssl rand -hex 16`)"
    )]
    ShortToken {
        /// The shortest token's length.
        len: usize,
    },
    /// `--no-auth` on an address other machines reach.
    #[error("--no-auth is for loopback demos: listen on 127.0.0.1 or ::1, not {addr}, or give tokens")]
    NoAuthNotLoopback {
        /// The address listened on.
        addr: SocketAddr,
    },
    /// A cap of zero.
    #[error("{what} must be at least 1")]
    ZeroCap {
        /// Which cap.
        what: &'static str,
    },
}

impl Config {
    /// The defaults: the parking set, parking events only, 20 actions/s per token
    /// (bursts of 40), 4096 queued frames, 1,000 clients, 100 of one token.
    pub fn new(upstreams: Vec<Endpoint>, tokens: Tokens) -> Self {
        Config {
            upstreams,
            names: Vec::new(),
            ca_file: None,
            tokens,
            no_auth: false,
            rules: Rules::default(),
            events: Events::Parking,
            rate: DEFAULT_RATE,
            queue: 4096,
            max_clients: DEFAULT_MAX_CLIENTS,
            max_unauthenticated: DEFAULT_MAX_UNAUTHENTICATED,
            max_per_token: DEFAULT_MAX_PER_PRINCIPAL,
            allow_origins: Vec::new(),
            web_root: None,
            tls: None,
        }
    }

    /// Whether the bridge may start listening on `listen`.
    pub fn check(&self, listen: SocketAddr) -> Result<(), ConfigError> {
        if self.no_auth {
            if !listen.ip().is_loopback() {
                return Err(ConfigError::NoAuthNotLoopback { addr: listen });
            }
        } else if self.tokens.is_empty() {
            return Err(ConfigError::NoToken);
        }
        if let Some(len) = self.tokens.shortest().filter(|&l| l < MIN_TOKEN_LEN) {
            return Err(ConfigError::ShortToken { len });
        }
        if self.max_clients == 0 {
            return Err(ConfigError::ZeroCap { what: "--max-clients" });
        }
        if self.max_unauthenticated == 0 {
            return Err(ConfigError::ZeroCap { what: "--max-unauthenticated" });
        }
        if self.max_per_token == 0 {
            return Err(ConfigError::ZeroCap { what: "--max-clients-per-token" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_without_safe_defaults_does_not_start() {
        let lo: SocketAddr = "127.0.0.1:8088".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8088".parse().unwrap();
        let mut c = Config::new(Vec::new(), Tokens::default());
        assert_eq!(c.check(lo), Err(ConfigError::NoToken));
        c.no_auth = true;
        assert_eq!(c.check(lo), Ok(()));
        assert_eq!(c.check(any), Err(ConfigError::NoAuthNotLoopback { addr: any }));
        let c = Config::new(Vec::new(), Tokens::new(["short".to_string()]));
        assert_eq!(c.check(lo), Err(ConfigError::ShortToken { len: 5 }));
        let c = Config::new(Vec::new(), Tokens::new(["0123456789abcdef".to_string()]));
        assert_eq!(c.check(any), Ok(()));
    }
}
