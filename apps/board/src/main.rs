//! `parkboard`: the live parking board on http://127.0.0.1:8080. Without `--url` it
//! runs on the embedded demo PBX; `--url` (repeatable) points it at Asterisk servers
//! (tcp://, tls://) or an amiws or ami-ws-bridge (ws://, wss://).

use ami_parking::ParkingStore;
use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::{Client, ClientOptions};
use clap::Parser;
use parkboard::shutdown::Sockets;
use std::path::PathBuf;

/// A live parking board in the browser.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// An Asterisk server (tcp://user:secret@host:5038, tls://...) or an amiws /
    /// ami-ws-bridge (ws://host:port/?token=T); repeat for several. None: the demo PBX.
    #[arg(long = "url")]
    urls: Vec<String>,
    /// Address to serve the board on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The channel retrieves ring by default (changeable on the page).
    #[arg(long, default_value = "PJSIP/1002")]
    retrieve_to: String,
    /// Events a minute the demo PBX makes.
    #[arg(long, default_value_t = 30.0)]
    demo_rate: f64,
    /// Extra CA certificates (PEM) for tls:// and wss://.
    #[arg(long)]
    tls_ca_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("parkboard: {e}");
        std::process::exit(2);
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let stop = ami_parking_transport::shutdown_signal();
    // The address first: a busy or invalid --listen starts nothing.
    let listener = tokio::net::TcpListener::bind(&cli.listen)
        .await
        .map_err(|e| format!("cannot listen on {} (--listen): {e}", cli.listen))?;
    let mut servers = Vec::new();
    for u in &cli.urls {
        let mut o = ClientOptions::new(u.parse()?);
        o.tls_ca_file = cli.tls_ca_file.clone();
        servers.push(o);
    }
    let (servers, demo) = DemoPbx::unless_servers(servers, cli.demo_rate).await?;
    if let Some(pbx) = &demo {
        eprintln!("parkboard: no --url given: using the embedded demo PBX at {}", pbx.addr());
    }
    let client = Client::connect_all(servers, ParkingStore::default())?;
    let sockets = Sockets::new();
    let app = parkboard::web::router_with(client.clone(), cli.retrieve_to.clone(), sockets.clone());
    eprintln!("parkboard: the board is on http://{}", listener.local_addr()?);
    let stop = async { eprintln!("parkboard: {}: stopping", stop.await) };
    parkboard::shutdown::serve(listener, app, sockets, client, stop).await?;
    Ok(())
}
