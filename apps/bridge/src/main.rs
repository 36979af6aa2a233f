//! `ami-ws-bridge`: an amiws-compatible WebSocket bridge in front of Asterisk AMI.
//! See the crate docs for what it promises; `--help` for the options.

use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::{shutdown_signal, ClientOptions, Endpoint};
use ami_ws_bridge::{serve_until, start_upstreams, tls_config, Config, Tokens};
use clap::Parser;
use std::path::PathBuf;

/// An amiws-compatible WebSocket bridge in front of Asterisk AMI: tokens, an action
/// allowlist, replies only to their client, bounded per-client queues.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8088")]
    listen: String,
    /// An Asterisk AMI server (tcp://user:secret@host:5038 or tls://...); repeat for
    /// several (AMIServerID 1, 2, ... in order). None: the embedded demo PBX.
    #[arg(long = "upstream")]
    upstreams: Vec<String>,
    /// Events a minute the demo PBX makes (without --upstream).
    #[arg(long, default_value_t = 30.0)]
    demo_rate: f64,
    /// An accepted token (repeatable). Prefer --token-file: a command line is visible to other users.
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// A file of accepted tokens, one per line.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Accept clients without a token (loopback demos only).
    #[arg(long)]
    no_auth: bool,
    /// Also allow this action (repeatable). `Originate*` allows any Originate (toll fraud risk).
    #[arg(long = "allow")]
    allow: Vec<String>,
    /// Actions a second per client.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Frames queued per client before a slow client is cut off.
    #[arg(long, default_value_t = 4096)]
    queue: usize,
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

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let stop = shutdown_signal();
    let mut tokens = cli.tokens.clone();
    if let Some(f) = &cli.token_file {
        let text = std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        tokens.extend(
            text.lines().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty() && !l.starts_with('#')),
        );
    }
    let mut servers = Vec::new();
    for u in &cli.upstreams {
        let o = ClientOptions::new(u.parse()?);
        if o.endpoint.scheme.is_websocket() {
            return Err(
                format!("{}: an upstream is an Asterisk AMI server (tcp:// or tls://)", o.endpoint).into()
            );
        }
        servers.push(o);
    }
    let (servers, demo) = DemoPbx::unless_servers(servers, cli.demo_rate).await?;
    if let Some(pbx) = &demo {
        eprintln!("ami-ws-bridge: no --upstream: using the embedded demo PBX at {}", pbx.addr());
    }
    let upstreams: Vec<Endpoint> = servers.into_iter().map(|o| o.endpoint).collect();
    let mut cfg = Config::new(upstreams, Tokens::new(tokens));
    cfg.no_auth = cli.no_auth;
    cfg.allow.extend(cli.allow.iter().cloned());
    cfg.rate = (cli.rate.max(1), cli.rate.max(1) * 2);
    cfg.queue = cli.queue;
    cfg.ca_file = cli.tls_ca_file.clone();
    if let (Some(c), Some(k)) = (&cli.tls_cert, &cli.tls_key) {
        cfg.tls = Some(tls_config(c, k)?);
    }
    let listener = tokio::net::TcpListener::bind(&cli.listen)
        .await
        .map_err(|e| format!("cannot listen on {} (--listen): {e}", cli.listen))?;
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
