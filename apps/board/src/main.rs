//! `parkboard`: the live parking board on http://127.0.0.1:8080. Without a server it
//! runs on the embedded demo PBX, without logins, on loopback. An office runs it with
//! `--config FILE` (servers, users, TLS; see the README); `parkboard hash-password`
//! makes a user's password hash.

use ami_parking::{ParkingClient, ParkingStore};
use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::Client;
use clap::{Parser, Subcommand};
use parkboard::audit::Audit;
use parkboard::config::{Flags, Settings};
use parkboard::guard::Access;
use parkboard::limits::Capped;
use parkboard::state::Board;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

/// jemalloc, not the system's allocator, with its background threads: it gives the
/// memory of pages that closed back to the system within about 10 s (glibc's
/// per-thread arenas kept it for the next pages), and costs less CPU per viewer
/// (`cargo bench -p parkboard --bench viewer_cost`, perf/README.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A live parking board in the browser.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The config file (TOML): servers, users, TLS, addresses. Flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// An Asterisk server (tcp://user@host:5038, tls://...; the secret from
    /// AMI_SECRET), an amiws / ami-ws-bridge (ws://host:port/) or, built with the
    /// `nats` feature, a collector's server (nats://[USER@]host:4222/TENANT/SERVER;
    /// the password from ?password_file=PATH or NATS_PASSWORD); repeat for several.
    /// Replaces the config's [[server]] list. None anywhere: the demo PBX.
    #[arg(long = "url")]
    urls: Vec<String>,
    /// Address to serve the board on (default 127.0.0.1:8080). Off loopback the
    /// config must list users.
    #[arg(long)]
    listen: Option<String>,
    /// Without logins: the channel retrieves ring by default (changeable on the page).
    #[arg(long)]
    retrieve_to: Option<String>,
    /// Events a minute the demo PBX makes (default 30; 1 to 1000000).
    #[arg(long, value_parser = ami_parking_transport::demo::parse_rate)]
    demo_rate: Option<f64>,
    /// Extra CA certificates (PEM) for tls://, wss:// and nats://...?tls=1 servers.
    #[arg(long)]
    tls_ca_file: Option<PathBuf>,
    /// Also append every park, retrieve and move as a JSON line to this file.
    #[arg(long)]
    audit_log: Option<PathBuf>,
    /// Serve Prometheus metrics on this address (off by default).
    #[arg(long)]
    metrics_listen: Option<String>,
    /// The parking history's database: sqlite:PATH (default
    /// sqlite:parkboard-history.db), postgres://USER@HOST/DB (password in PGPASSWORD),
    /// or off.
    #[arg(long, env = "PARKBOARD_HISTORY_DB", hide_env_values = true)]
    history_db: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Reads a password on stdin and prints its argon2id hash for a [[user]]'s
    /// password_hash.
    HashPassword,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::HashPassword) => hash_password(),
        None => run(cli).await,
    };
    if let Err(e) = result {
        eprintln!("parkboard: {e}");
        std::process::exit(2);
    }
}

/// Says in the log when each server's link comes up and why it goes down (a refused
/// token, an unreachable host), once per change: otherwise a board whose server
/// refuses it only shows an empty page.
async fn log_links(client: Client) {
    use ami_parking::futures_signals::signal::SignalExt;
    use ami_parking::ConnectionState;
    let links = client.links_now();
    let each = links.into_iter().enumerate().filter_map(|(i, (endpoint, _))| {
        let states = client.link_state(i)?;
        let mut last = String::new();
        Some(states.for_each(move |state| {
            let n = i + 1;
            let line = state.to_string();
            let repeat = line == last;
            last = line;
            match &state {
                _ if repeat => {}
                ConnectionState::LoggedIn => tracing::info!("server {n} ({endpoint}): logged in"),
                ConnectionState::Reconnecting { .. } | ConnectionState::Disconnected => {
                    tracing::warn!("server {n} ({endpoint}): {state}")
                }
                _ => tracing::debug!("server {n} ({endpoint}): {state}"),
            }
            async {}
        }))
    });
    futures_util::future::join_all(each).await;
}

fn hash_password() -> Result<(), Box<dyn std::error::Error>> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let password = input.lines().next().unwrap_or("");
    if password.is_empty() {
        return Err(
            "no password on stdin: e.g. `read -rs PW; printf '%s\\n' \"$PW\" | parkboard hash-password`"
                .into(),
        );
    }
    println!("{}", parkboard::users::hash_password(password)?);
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing::level_filters::LevelFilter::INFO.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let stop = ami_parking_transport::shutdown_signal();
    let flags = Flags {
        config: cli.config,
        urls: cli.urls,
        listen: cli.listen,
        retrieve_to: cli.retrieve_to,
        demo_rate: cli.demo_rate,
        tls_ca_file: cli.tls_ca_file,
        audit_log: cli.audit_log,
        metrics_listen: cli.metrics_listen,
        history_db: cli.history_db,
    };
    // Everything checked before anything listens or dials.
    let settings = Settings::load(flags)?;
    let tls = match &settings.tls {
        Some(t) => Some(parkboard::tls::server_config(&t.cert, &t.key)?),
        None => None,
    };
    let audit = match &settings.audit_log {
        Some(path) => Audit::to_file(path)
            .map_err(|e| format!("cannot open the audit log {} (--audit-log): {e}", path.display()))?,
        None => Audit::to_log(),
    };
    // Every connection the cap lets in must have a descriptor.
    let open_files = parkboard::limits::raise_open_files();
    let cap = parkboard::limits::connection_cap(open_files);
    if cap < parkboard::limits::MAX_CONNECTIONS {
        tracing::warn!(
            open_files,
            cap,
            "the open-files limit holds the board to {cap} connections (raise it: LimitNOFILE= in a systemd unit, ulimit -n)"
        );
    }
    let listener = parkboard::limits::listen(settings.listen)
        .map_err(|e| format!("cannot listen on {} (listen): {e}", settings.listen))?;
    let local = listener.local_addr()?;
    let metrics_listener = match settings.metrics_listen {
        Some(m) => Some(
            tokio::net::TcpListener::bind(m)
                .await
                .map_err(|e| format!("cannot listen on {m} (metrics_listen): {e}"))?,
        ),
        None => None,
    };
    let (servers, demo) = DemoPbx::unless_servers(settings.servers, settings.demo_rate).await?;
    if let Some(pbx) = &demo {
        tracing::info!("no server configured: using the embedded demo PBX at {}", pbx.addr());
    }
    let client = Client::connect_all(servers, ParkingStore::default())?;
    let history = match &settings.history_db {
        Some(url) => {
            let options = ami_parking_history::HistoryOptions {
                history_days: settings.history_days,
                ..Default::default()
            };
            let h = ami_parking_history::History::open(url, options)
                .await
                .map_err(|e| format!("history_db: {e}"))?;
            tracing::info!("recording the parking history into {}", h.db().url());
            Some(h)
        }
        None => None,
    };
    // Keep following for the board's life.
    let _following = history.as_ref().map(|h| h.follow(client.store()));
    if let Some(h) = history.clone() {
        tokio::spawn(parkboard::history_page::resync_when_synced(h, client.clone()));
    }
    let https = tls.is_some();
    let access = Access::new(local, https, &settings.allowed_hosts, &settings.allowed_origins);
    let mut board = Board::new(client.clone(), settings.users, access, settings.session_ttl);
    board.audit = audit;
    board.retrieve_to = settings.retrieve_to;
    board.history = history;
    board.history_viewers = settings.history_viewers;
    if board.logins() {
        tracing::info!(
            "{} users may log in; sessions live in memory (a restart logs everyone out)",
            board.users.len()
        );
    } else {
        tracing::info!("no users configured: no login (loopback only)");
    }
    tokio::spawn(board.metrics.clone().follow(client.clone()));
    tokio::spawn(log_links(client.clone()));
    if let Some(m) = metrics_listener {
        tracing::info!("metrics on http://{}/metrics", m.local_addr()?);
        tokio::spawn(parkboard::metrics_http::serve(m, board.clone()));
    }
    let sockets = board.sockets.clone();
    let app = parkboard::web::router(board);
    let scheme = if https { "https" } else { "http" };
    tracing::info!("the board is on {scheme}://{local}");
    let stop = async { tracing::info!("{}: stopping", stop.await) };
    match tls {
        Some(config) => {
            let listener = Capped::with_max(parkboard::tls::TlsListener::new(listener, config)?, cap);
            parkboard::shutdown::serve(listener, app, sockets, client, stop).await?
        }
        None => {
            parkboard::shutdown::serve(Capped::with_max(listener, cap), app, sockets, client, stop).await?
        }
    }
    Ok(())
}
