//! The board's settings: the TOML file of `--config` (everything an office sets
//! once), the quick flags over it, and the checks that run before anything listens.
//!
//! ```toml
//! listen = "0.0.0.0:8443"
//! allowed_hosts = ["parkboard.office.example"]
//! [tls]
//! cert = "/etc/parkboard/cert.pem"
//! key = "/etc/parkboard/key.pem"
//! [[server]]
//! url = "tcp://amiuser@pbx1.example:5038"
//! secret_file = "/etc/parkboard/pbx1.secret"
//! [[user]]
//! name = "reception"
//! password_hash = "$argon2id$v=19$..."
//! role = "operator"
//! phone = "PJSIP/1002"
//! lots = ["default"]
//! ```
//!
//! Every error names the file and the key, and the board exits with code 2 before it
//! binds a socket or dials a server.

use crate::users::{Role, User, Users};
use ami_parking::Secret;
use ami_parking_transport::ClientOptions;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default address: loopback, where the board runs without logins.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Where retrieves ring by default when there are no logins (changeable on the page).
pub const DEFAULT_RETRIEVE_TO: &str = "PJSIP/1002";
/// Events a minute the demo PBX makes by default.
pub const DEFAULT_DEMO_RATE: f64 = 30.0;
/// How long a login lasts by default.
pub const DEFAULT_SESSION_HOURS: u64 = 12;
/// Where the parking history goes by default: a SQLite file in the working directory.
pub const DEFAULT_HISTORY_DB: &str = "sqlite:parkboard-history.db";

/// Why the settings cannot be used; each names the file (or flag) and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the config file {file}: {source}")]
    Read {
        /// The config file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key or a value of the wrong type (toml's message names
    /// the key, line and column).
    #[error("{file}: {message}")]
    Parse {
        /// The config file.
        file: PathBuf,
        /// toml's message.
        message: String,
    },
    /// A key's value cannot be used.
    #[error("{origin}: {key}: {why}")]
    Invalid {
        /// The config file, or "the command line".
        origin: String,
        /// The key (e.g. `server[2].secret_file`, `user "reception".password_hash`).
        key: String,
        /// What is wrong and what to write instead.
        why: String,
    },
}

/// The config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    metrics_listen: Option<String>,
    audit_log: Option<PathBuf>,
    session_hours: Option<u64>,
    retrieve_to: Option<String>,
    demo_rate: Option<f64>,
    tls_ca_file: Option<PathBuf>,
    tls: Option<TlsFile>,
    history_db: Option<String>,
    history_days: Option<u32>,
    history_viewers: Option<bool>,
    #[serde(default)]
    server: Vec<ServerFile>,
    #[serde(default)]
    user: Vec<UserFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    url: String,
    secret_file: Option<PathBuf>,
    secret_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    name: String,
    password_hash: String,
    role: Role,
    phone: Option<String>,
    lots: Option<Vec<String>>,
}

/// The quick flags, each overriding the file's key of the same name.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--url` (repeatable): replaces the file's `[[server]]` list.
    pub urls: Vec<String>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--retrieve-to`.
    pub retrieve_to: Option<String>,
    /// `--demo-rate`.
    pub demo_rate: Option<f64>,
    /// `--tls-ca-file`.
    pub tls_ca_file: Option<PathBuf>,
    /// `--audit-log`.
    pub audit_log: Option<PathBuf>,
    /// `--metrics-listen`.
    pub metrics_listen: Option<String>,
    /// `--history-db`.
    pub history_db: Option<String>,
}

/// The page's certificate and key.
#[derive(Debug, Clone)]
pub struct TlsPaths {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Validated settings: what the board runs with.
#[derive(Debug)]
pub struct Settings {
    /// Where the board is served.
    pub listen: SocketAddr,
    /// https and wss for the page, when set.
    pub tls: Option<TlsPaths>,
    /// The Asterisk servers (none: the demo PBX).
    pub servers: Vec<ClientOptions>,
    /// Who may log in (none: no login, loopback only).
    pub users: Users,
    /// Host names the board answers to besides its listen address and localhost.
    pub allowed_hosts: Vec<String>,
    /// Origins allowed to open the live socket besides the board's own.
    pub allowed_origins: Vec<String>,
    /// Where the Prometheus metrics are served (off when `None`).
    pub metrics_listen: Option<SocketAddr>,
    /// The JSON-lines audit file, when set.
    pub audit_log: Option<PathBuf>,
    /// How long a login lasts.
    pub session_ttl: Duration,
    /// Where retrieves ring by default without logins.
    pub retrieve_to: String,
    /// Events a minute of the demo PBX.
    pub demo_rate: f64,
    /// The parking history's database URL (`off`: no history).
    pub history_db: Option<String>,
    /// Days of history kept (`None`: all).
    pub history_days: Option<u32>,
    /// Whether viewers see the History page.
    pub history_viewers: bool,
}

impl Settings {
    /// Reads `flags.config` (when given), applies the flags over it, and checks it
    /// all: secrets read, hashes parsed, and the board refuses to listen off loopback
    /// without logins.
    pub fn load(flags: Flags) -> Result<Settings, ConfigError> {
        let (file, origin) = match &flags.config {
            Some(path) => (read_file(path)?, path.display().to_string()),
            None => (FileConfig::default(), "the command line".to_string()),
        };
        Settings::from_parts(file, flags, &origin)
    }

    /// Parses a config text as if read from `file` (for tests and tools).
    pub fn from_toml(text: &str, file: &Path, flags: Flags) -> Result<Settings, ConfigError> {
        let parsed = toml::from_str::<FileConfig>(text)
            .map_err(|e| ConfigError::Parse { file: file.to_path_buf(), message: parse_message(&e, text) })?;
        Settings::from_parts(parsed, flags, &file.display().to_string())
    }

    fn from_parts(file: FileConfig, flags: Flags, origin: &str) -> Result<Settings, ConfigError> {
        let invalid = |key: &str, why: String| ConfigError::Invalid {
            origin: origin.to_string(),
            key: key.into(),
            why,
        };
        let listen_text = flags.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid("listen", format!("{listen_text:?} is not an address like 127.0.0.1:8080 or [::1]:8080"))
        })?;
        let metrics_listen = match flags.metrics_listen.or(file.metrics_listen) {
            None => None,
            Some(m) => Some(m.parse::<SocketAddr>().map_err(|_| {
                invalid("metrics_listen", format!("{m:?} is not an address like 127.0.0.1:9090"))
            })?),
        };
        let tls = file.tls.map(|t| TlsPaths { cert: t.cert, key: t.key });
        if let Some(t) = &tls {
            for (key, path) in [("tls.cert", &t.cert), ("tls.key", &t.key)] {
                if let Err(e) = std::fs::metadata(path) {
                    return Err(invalid(key, format!("cannot read {}: {e}", path.display())));
                }
            }
        }
        let tls_ca_file = flags.tls_ca_file.or(file.tls_ca_file);
        let servers = if flags.urls.is_empty() {
            let mut servers = Vec::new();
            for (i, s) in file.server.into_iter().enumerate() {
                let key = format!("server[{}]", i + 1);
                servers.push(server_options(&s, tls_ca_file.clone()).map_err(|why| invalid(&key, why))?);
            }
            servers
        } else {
            let mut servers = Vec::new();
            for u in &flags.urls {
                let mut o = ClientOptions::new(u.parse().map_err(|e| invalid("--url", format!("{e}")))?);
                o.tls_ca_file = tls_ca_file.clone();
                servers.push(o);
            }
            servers
        };
        let mut users = Vec::new();
        for u in file.user {
            let key = format!("user {:?}", u.name);
            if users.iter().any(|x: &User| x.name == u.name) {
                return Err(invalid(&key, "the name is used twice".into()));
            }
            let user = User::new(u.name, &u.password_hash, u.role, u.phone, u.lots)
                .map_err(|(field, why)| invalid(&format!("{key}.{field}"), why))?;
            users.push(user);
        }
        let users = Users::new(users);
        let loopback = listen.ip().is_loopback();
        if !loopback && users.is_empty() {
            return Err(invalid(
                "user",
                format!(
                    "refusing to serve {listen} without logins: anyone on the network could park and \
                     retrieve calls. Add [[user]] entries to the config file (--config FILE; \
                     `parkboard hash-password` makes a password_hash), or listen on 127.0.0.1"
                ),
            ));
        }
        if listen.ip().is_unspecified() && file.allowed_hosts.is_empty() {
            return Err(invalid(
                "allowed_hosts",
                format!(
                    "listening on {listen} (every address), the board must know the names browsers \
                     reach it by: set allowed_hosts = [\"parkboard.example.com\"] (requests for \
                     other Host names are refused)"
                ),
            ));
        }
        for o in &file.allowed_origins {
            if !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/') {
                return Err(invalid(
                    "allowed_origins",
                    format!("{o:?} is not an origin like https://board.example.com:8443 (scheme, host, port; no path)"),
                ));
            }
        }
        if let Some(rate) = file.demo_rate {
            ami_parking_transport::demo::check_rate(rate).map_err(|why| invalid("demo_rate", why))?;
        }
        let session_hours = file.session_hours.unwrap_or(DEFAULT_SESSION_HOURS);
        if session_hours == 0 || session_hours > 24 * 31 {
            return Err(invalid("session_hours", format!("{session_hours}: between 1 and 744 hours")));
        }
        let history_db = match flags.history_db.or(file.history_db) {
            None => Some(DEFAULT_HISTORY_DB.to_string()),
            Some(off) if off == "off" => None,
            Some(url)
                if url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://") =>
            {
                Some(url)
            }
            Some(url) => {
                return Err(invalid(
                    "history_db",
                    format!(
                        "{} is not sqlite:PATH, postgres://USER@HOST/DB (password in PGPASSWORD) or off",
                        ami_parking_history::redact_url(&url)
                    ),
                ))
            }
        };
        if file.history_days == Some(0) {
            return Err(invalid(
                "history_days",
                "0 would keep nothing: leave it out to keep everything".into(),
            ));
        }
        Ok(Settings {
            history_db,
            history_days: file.history_days,
            history_viewers: file.history_viewers.unwrap_or(false),
            listen,
            tls,
            servers,
            users,
            allowed_hosts: file.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            allowed_origins: file.allowed_origins,
            metrics_listen,
            audit_log: flags.audit_log.or(file.audit_log),
            session_ttl: Duration::from_secs(session_hours * 3600),
            retrieve_to: flags.retrieve_to.or(file.retrieve_to).unwrap_or_else(|| DEFAULT_RETRIEVE_TO.into()),
            demo_rate: flags.demo_rate.or(file.demo_rate).unwrap_or(DEFAULT_DEMO_RATE),
        })
    }

    /// Whether users must log in (any `[[user]]` configured).
    pub fn logins(&self) -> bool {
        !self.users.is_empty()
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { file: path.to_path_buf(), source })?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::Parse { file: path.to_path_buf(), message: parse_message(&e, &text) })
}

/// toml's message with its line and column, without the source excerpt toml
/// prints (it may hold a secret or a hash) and with quoted values blanked (serde
/// quotes a value of the wrong type).
fn parse_message(e: &toml::de::Error, text: &str) -> String {
    let at = e.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("line {line}, column {column}: ")
    });
    let mut message = String::new();
    let mut quoted = false;
    for c in e.message().trim().chars() {
        match c {
            '"' if quoted => {
                message.push_str("…\"");
                quoted = false;
            }
            '"' => {
                message.push('"');
                quoted = true;
            }
            '\n' => message.push(' '),
            c if !quoted => message.push(c),
            _ => {}
        }
    }
    format!("{}{message}", at.unwrap_or_default())
}

fn server_options(s: &ServerFile, tls_ca_file: Option<PathBuf>) -> Result<ClientOptions, String> {
    let endpoint = s.url.parse().map_err(|e| format!("url: {e}"))?;
    let mut o = ClientOptions::new(endpoint);
    o.tls_ca_file = tls_ca_file;
    match (&s.secret_file, &s.secret_env) {
        (Some(_), Some(_)) => return Err("set secret_file or secret_env, not both".into()),
        (Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("secret_file: cannot read {}: {e}", path.display()))?;
            let secret = text.trim_end_matches(['\r', '\n']);
            if secret.is_empty() {
                return Err(format!("secret_file: {} is empty", path.display()));
            }
            o.secret = Some(Secret::new(secret));
        }
        (None, Some(var)) => {
            let secret = std::env::var(var)
                .map_err(|_| format!("secret_env: the environment variable {var} is not set"))?;
            o.secret = Some(Secret::new(secret));
        }
        (None, None) => {}
    }
    // A bridge's token goes in a header: refused here, not at each connect.
    if o.endpoint.scheme.is_websocket()
        && o.secret.as_ref().is_some_and(|t| !t.expose().bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(
            "the token (for a ws:// or wss:// url) has a space or a character a header cannot carry".into()
        );
    }
    Ok(o)
}
