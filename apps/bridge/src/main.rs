//! `ami-ws-bridge`: an amiws-compatible WebSocket bridge in front of Asterisk AMI.
//! See the crate docs for what it promises; `--help` for the options.

use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::{shutdown_signal, ClientOptions};
use ami_ws_bridge::{serve_until, start_upstreams, tls_config, Config, Events, Tokens};
use clap::Parser;
use std::path::PathBuf;

/// An amiws-compatible WebSocket bridge in front of Asterisk AMI: scoped tokens, strict
/// action shapes, only parking out, replies only to their client, bounded cost.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8088")]
    listen: String,
    /// An Asterisk AMI server ([NAME=]tcp://user@host:5038 or tls://...; NAME is its
    /// server_name, host:port by default), or with the `nats` feature a collector's
    /// server over NATS (nats://host:4222/TENANT/SERVER, see docs/nats.md); repeat for
    /// several (AMIServerID 1, 2, ... in order). None: the embedded demo PBX.
    #[arg(long = "upstream")]
    upstreams: Vec<String>,
    /// Events a minute the demo PBX makes (without --upstream; 1 to 1000000).
    #[arg(long, default_value_t = 30.0, value_parser = ami_parking_transport::demo::parse_rate)]
    demo_rate: f64,
    /// An accepted token (repeatable; at least 16 bytes). Prefer --token-file: a
    /// command line is visible to other users.
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// A file of accepted tokens, one a line: TOKEN [role=viewer|operator] [lots=a,b]
    /// [retrieve-to=PATTERN,...].
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Accept clients without a token (a loopback --listen only).
    #[arg(long)]
    no_auth: bool,
    /// Also allow this action (repeatable). `Originate*` allows any Originate (toll fraud risk).
    #[arg(long = "allow")]
    allow: Vec<String>,
    /// Where a retrieve may ring (repeatable glob, e.g. 'PJSIP/1???'; `?` and `*`
    /// never match `/`, `@` or `&`). None: endpoint channels TECH/name, never Local/.
    #[arg(long = "retrieve-to")]
    retrieve_to: Vec<String>,
    /// Which server messages leave the bridge: `parking` (parking events, FullyBooted,
    /// Shutdown) or `all` (the whole PBX's events the AMI user reads: a privacy risk).
    #[arg(long, default_value = "parking", value_parser = ["parking", "all"])]
    events: String,
    /// Actions a second per token.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Frames queued per client before a slow client is cut off.
    #[arg(long, default_value_t = 4096)]
    queue: usize,
    /// Sockets connected at once (more are closed at once).
    #[arg(long, default_value_t = ami_ws_bridge::limits::DEFAULT_MAX_CLIENTS)]
    max_clients: usize,
    /// Sockets one token (one address under --no-auth) keeps connected at once.
    #[arg(long, default_value_t = ami_ws_bridge::limits::DEFAULT_MAX_PER_PRINCIPAL)]
    max_clients_per_token: usize,
    /// Sockets still upgrading (no token checked yet) at once.
    #[arg(long, default_value_t = ami_ws_bridge::limits::DEFAULT_MAX_UNAUTHENTICATED)]
    max_unauthenticated: usize,
    /// A web origin allowed to connect (repeatable, e.g. https://board.example:8443).
    /// Loopback origins are allowed on a loopback --listen; the web root's own always.
    #[arg(long = "allow-origin")]
    allow_origins: Vec<String>,
    /// Serve the static files of this directory to requests that are not WebSocket
    /// upgrades (`/` is index.html), from the bridge's own origin.
    #[arg(long)]
    web_root: Option<PathBuf>,
    /// TLS certificate chain (PEM) for the listener.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for the listener.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Extra CA certificates (PEM) for tls:// upstreams.
    #[arg(long)]
    tls_ca_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("ami-ws-bridge: {e}");
        std::process::exit(2);
    }
}

/// `NAME=URL` or `URL`.
fn named(upstream: &str) -> (Option<&str>, &str) {
    match upstream.split_once('=') {
        Some((name, url)) if !name.contains("://") && !name.is_empty() => (Some(name), url),
        _ => (None, upstream),
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let stop = shutdown_signal();
    let mut tokens = Tokens::new(cli.tokens.clone());
    if let Some(f) = &cli.token_file {
        let text = std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        tokens.extend_from(&text).map_err(|e| format!("{}: {e}", f.display()))?;
    }
    let mut servers = Vec::new();
    let mut names = Vec::new();
    for u in &cli.upstreams {
        let (name, url) = named(u);
        let o = ClientOptions::new(url.parse()?);
        if o.endpoint.scheme.is_websocket() {
            return Err(format!(
                "{}: an upstream is an Asterisk AMI server (tcp:// or tls://) or a collector (nats://)",
                o.endpoint
            )
            .into());
        }
        if o.endpoint.scheme.is_nats() && !cfg!(feature = "nats") {
            return Err(format!("{}: this bridge was built without the `nats` feature", o.endpoint).into());
        }
        names.push(name.map_or_else(|| format!("{}:{}", o.endpoint.host, o.endpoint.port), str::to_owned));
        servers.push(o);
    }
    let mut cfg = Config::new(Vec::new(), tokens);
    cfg.no_auth = cli.no_auth;
    cfg.rules.allow.extend(cli.allow.iter().cloned());
    cfg.rules.retrieve_to = cli.retrieve_to.clone();
    cfg.events = if cli.events == "all" { Events::All } else { Events::Parking };
    cfg.rate = (cli.rate.max(1), cli.rate.max(1) * 2);
    cfg.queue = cli.queue;
    cfg.max_clients = cli.max_clients;
    cfg.max_per_token = cli.max_clients_per_token;
    cfg.max_unauthenticated = cli.max_unauthenticated;
    cfg.allow_origins = cli.allow_origins.clone();
    cfg.ca_file = cli.tls_ca_file.clone();
    if let Some(root) = &cli.web_root {
        if !root.is_dir() {
            return Err(format!("--web-root {}: not a directory", root.display()).into());
        }
        cfg.web_root = Some(root.clone());
    }
    if let (Some(c), Some(k)) = (&cli.tls_cert, &cli.tls_key) {
        cfg.tls = Some(tls_config(c, k)?);
    }
    let listener = tokio::net::TcpListener::bind(&cli.listen)
        .await
        .map_err(|e| format!("cannot listen on {} (--listen): {e}", cli.listen))?;
    // Nothing connects upstream (nor starts the demo) before the configuration holds.
    cfg.check(listener.local_addr()?)?;
    let (servers, demo) = DemoPbx::unless_servers(servers, cli.demo_rate).await?;
    if let Some(pbx) = &demo {
        eprintln!("ami-ws-bridge: no --upstream: using the embedded demo PBX at {}", pbx.addr());
    }
    cfg.upstreams = servers.into_iter().map(|o| o.endpoint).collect();
    cfg.names = names;
    let scheme = if cfg.tls.is_some() { "wss" } else { "ws" };
    eprintln!(
        "ami-ws-bridge: listening on {scheme}://{} ({}; {} server(s))",
        listener.local_addr()?,
        if cfg.no_auth { "no token required".to_string() } else { format!("{} token(s)", cfg.tokens.len()) },
        cfg.upstreams.len()
    );
    let hub = start_upstreams(&cfg)?;
    serve_until(listener, hub, cfg, async { eprintln!("ami-ws-bridge: {}: stopping", stop.await) }).await?;
    Ok(())
}
