//! `ami-parking-collector`: one Asterisk's parking state, published to NATS.

use ami_parking::{AuthMethod, Secret};
use ami_parking_collector::{election::Lease, Config};
use ami_parking_transport::nats::NatsTarget;
use ami_parking_transport::{ClientOptions, Endpoint};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// Holds the AMI connection to one Asterisk and publishes its parking state to NATS
/// (snapshot, numbered events, actions as requests). Run two per server (with
/// --elect) for a standby that takes over within the lease.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// The Asterisk: tcp://USER@HOST[:5038] or tls://USER@HOST[:5039]. The secret comes
    /// from --ami-secret-file or AMI_SECRET (never from the command line).
    #[arg(long)]
    ami: String,
    /// A file whose first line is the AMI secret.
    #[arg(long)]
    ami_secret_file: Option<PathBuf>,
    /// Where to publish: nats://[USER@]HOST[:4222]/TENANT/SERVER[?also=HOST:PORT,...&tls=1&password_file=PATH].
    /// The NATS password (for USER) comes from password_file or NATS_PASSWORD, never
    /// from the command line.
    #[arg(long)]
    nats: String,
    /// Extra CA certificates (PEM) for TLS to NATS (and to Asterisk over tls://).
    #[arg(long)]
    tls_ca_file: Option<PathBuf>,
    /// Elect the active one among this server's collectors (claims on
    /// parking.TENANT.SERVER.election); without it this collector is always active.
    #[arg(long)]
    elect: bool,
    /// How long an active collector counts as alive after its last claim (with
    /// --elect): a standby takes over about this long after the active one died.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    lease: Duration,
    /// This collector's name in logs and in the election (give each collector of a
    /// server its own, e.g. the host's name).
    #[arg(long, default_value = "collector")]
    name: String,
    /// How many of Asterisk's messages the publishing may fall behind the AMI link
    /// before it skips them and publishes a resync snapshot instead.
    #[arg(long, default_value_t = ami_parking_transport::MESSAGES_QUEUE)]
    events_queue: usize,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    match start().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ami-parking-collector: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn start() -> Result<(), String> {
    let cli = Cli::parse();
    let ami: Endpoint = cli.ami.parse().map_err(|e| format!("--ami: {e}"))?;
    if ami.scheme.is_websocket() || ami.scheme.is_nats() {
        return Err(format!("--ami: {ami} is not raw AMI; give tcp://USER@HOST:PORT or tls://"));
    }
    let nats: Endpoint = cli.nats.parse().map_err(|e| format!("--nats: {e}"))?;
    if !nats.scheme.is_nats() {
        return Err(format!("--nats: {nats} is not a nats:// URL"));
    }
    // A command line is readable by every user of the machine (ps, /proc).
    if ami.secret.is_some() {
        return Err(format!(
            "--ami: {ami} has the AMI secret in it, and every user of this machine can read a command line; give it with --ami-secret-file or AMI_SECRET"
        ));
    }
    if nats.secret.is_some() {
        return Err(format!(
            "--nats: {nats} has the NATS password in it, and every user of this machine can read a command line; give it with ?password_file=PATH or NATS_PASSWORD"
        ));
    }
    let nats = NatsTarget::of(&nats).map_err(|e| format!("--nats: {e}"))?;
    let mut o = ClientOptions::new(ami);
    o.auth = AuthMethod::Md5;
    o.tls_ca_file = cli.tls_ca_file.clone();
    o.messages_queue = cli.events_queue;
    if let Some(path) = &cli.ami_secret_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the AMI secret file {}: {e}", path.display()))?;
        o.secret = Some(Secret::new(text.lines().next().unwrap_or("").trim_end()));
    }
    let election = cli.elect.then_some(Lease { ttl: cli.lease.max(Duration::from_millis(200)) });
    let cfg = Config {
        ami: o,
        nats,
        nats_ca_file: cli.tls_ca_file,
        election,
        name: cli.name,
        heartbeat: Duration::from_secs(1),
    };
    eprintln!("ami-parking-collector: {cfg:?}");
    let stop = ami_parking_transport::shutdown_signal();
    ami_parking_collector::run(cfg, async {
        let why = stop.await;
        eprintln!("ami-parking-collector: {why}: stopping");
    })
    .await
    .map_err(|e| e.to_string())
}
