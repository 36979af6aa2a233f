//! `parkwatch`: watch and drive Asterisk call parking from the command line.
//!
//! With no `--url` it runs against the embedded demo PBX (the reference model of
//! res_parking), so `parkwatch` alone shows live traffic.

mod actions;
mod history;
mod render;
mod shutdown;

use ami_parking::ParkingClient;
use ami_parking::{ConnectionState, Park, ParkTimeout, ParkingOptions, ParkingStore, ServerId, Target};
use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::{Client, ClientOptions};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(name = "parkwatch", version, about = "Watch and drive Asterisk call parking (AMI or amiws)")]
pub(crate) struct Cli {
    /// tcp://USER:SECRET@HOST:5038 (secret and port optional), tls://..., ws://HOST:PORT or wss://... (amiws).
    /// Repeat for several servers: each gets server id 1, 2, ... in order.
    /// Without --url the embedded demo PBX is used.
    #[arg(long, global = true)]
    url: Vec<String>,
    /// The AMI secret when the URL has none (also read from AMI_SECRET).
    #[arg(long, global = true, env = "AMI_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Use the embedded demo PBX even if --url is given.
    #[arg(long, global = true)]
    demo: bool,
    /// Demo traffic: parking changes per minute (1 to 1000000).
    #[arg(long, global = true, default_value_t = 30.0, value_parser = ami_parking_transport::demo::parse_rate)]
    demo_rate: f64,
    /// One JSON document per line instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Act on this server (park, retrieve; filters lots and calls).
    #[arg(long, global = true)]
    server: Option<ServerId>,
    /// Log in with an MD5 challenge instead of a plain secret.
    #[arg(long, global = true)]
    md5: bool,
    /// Extra CA certificate (PEM) for tls:// and wss://.
    #[arg(long = "tls-ca-file", visible_alias = "tls-ca", global = true)]
    tls_ca: Option<std::path::PathBuf>,
    /// Seconds a one-shot command waits for the login of its servers (it fails at once
    /// when one refuses or cannot be reached); in `watch`, how long to wait for the
    /// others once one server is in.
    #[arg(long, global = true, default_value_t = 10)]
    connect_timeout: u64,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List the parking lots.
    Lots,
    /// List the parked calls.
    Calls {
        /// Only this lot.
        #[arg(long)]
        lot: Option<String>,
    },
    /// Print the state, then every change as it happens (the default command).
    Watch {
        /// Resync every SECS seconds (0 = only on (re)connect).
        #[arg(long, default_value_t = 0)]
        poll: u64,
    },
    /// Park CHANNEL, or the caller on the line with a phone (--caller-of); prints the
    /// space Asterisk chose.
    Park {
        /// The channel to park, e.g. PJSIP/1001-00000001.
        #[arg(required_unless_present = "caller_of", conflicts_with = "caller_of")]
        channel: Option<String>,
        /// Park the caller on the line with this phone instead, e.g. PJSIP/1001 (its
        /// channel's name without the suffix): the other side of its one answered call.
        #[arg(long, value_name = "PHONE")]
        caller_of: Option<String>,
        /// The lot (default: `default`).
        #[arg(long)]
        lot: Option<String>,
        /// A preferred space: used when free, else Asterisk takes the next free one.
        #[arg(long)]
        space: Option<u32>,
        /// Parking time for this call: seconds, or `never` (default: the lot's).
        #[arg(long, value_parser = parse_timeout)]
        timeout: Option<ParkTimeout>,
    },
    /// Move the call in SPACE (of --lot) to --to-lot, preferably at --to-space.
    Move {
        /// The call's space now, e.g. 701.
        space: u32,
        /// Its lot now (default: `default`).
        #[arg(long)]
        lot: Option<String>,
        /// The lot to move it to (default: the same lot).
        #[arg(long)]
        to_lot: Option<String>,
        /// A preferred space there: used when free, else Asterisk takes the next free one.
        #[arg(long)]
        to_space: Option<u32>,
    },
    /// Parking history from the history database: per lot and hour (or day), parked
    /// count, median, p90 and longest wait, retrieves, timeouts, hang-ups; retrieves
    /// by user; or the episodes of one caller (--caller). Needs no Asterisk.
    History {
        /// The history database: sqlite:PATH or postgres://USER@HOST/DB (password in
        /// PGPASSWORD, never in the URL on a shared machine).
        #[arg(
            long,
            env = "AMI_PARKING_HISTORY_DB",
            default_value = "sqlite:parking-history.db",
            hide_env_values = true
        )]
        db: String,
        /// The first day, YYYY-MM-DD (default: today).
        #[arg(long)]
        day: Option<String>,
        /// How many days from --day.
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// One line per lot and day instead of per lot and hour.
        #[arg(long)]
        by_day: bool,
        /// Local time's offset from UTC in minutes (e.g. 60), for days and hours.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        utc_offset: i64,
        /// Instead of the report: the episodes whose caller number contains DIGITS.
        #[arg(long)]
        caller: Option<String>,
    },
    /// Follow the servers and record the parking history into --db until stopped.
    Record {
        /// The history database (as for `history`).
        #[arg(
            long,
            env = "AMI_PARKING_HISTORY_DB",
            default_value = "sqlite:parking-history.db",
            hide_env_values = true
        )]
        db: String,
        /// Days of history kept (default: all).
        #[arg(long)]
        history_days: Option<u32>,
    },
    /// Retrieve the call in SPACE to the channel --to.
    Retrieve {
        /// The space, e.g. 701.
        space: u32,
        /// Where the call goes, e.g. PJSIP/1002.
        #[arg(long)]
        to: String,
        /// The lot (default: `default`).
        #[arg(long)]
        lot: Option<String>,
    },
}

pub(crate) struct Failure(pub(crate) String, pub(crate) u8);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string(), 1)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("parkwatch: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, code)) => {
            // The text may be the server's own (Asterisk's message, a lot's name).
            eprintln!("parkwatch: {}", render::terminal_safe(&msg));
            ExitCode::from(code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let stop = ami_parking_transport::shutdown_signal();
    let cmd = cli.cmd.as_ref().unwrap_or(&Cmd::Watch { poll: 0 });
    if let Cmd::History { db, day, days, by_day, utc_offset, caller } = cmd {
        // Reports read the database only: no Asterisk.
        let ask = history::Ask {
            db,
            day: day.as_deref(),
            days: *days,
            by_day: *by_day,
            utc_offset: *utc_offset,
            caller: caller.as_deref(),
            json: cli.json,
        };
        return history::report(ask).await;
    }
    let mut servers = Vec::new();
    if !cli.demo {
        for url in &cli.url {
            let mut o = ClientOptions::new(url.parse()?);
            o.secret = cli.secret.clone().map(ami_parking::Secret::new);
            if cli.md5 {
                o.auth = ami_parking::AuthMethod::Md5;
            }
            o.tls_ca_file = cli.tls_ca.clone();
            servers.push(o);
        }
    }
    let (servers, demo) = DemoPbx::unless_servers(servers, cli.demo_rate).await?;
    if let (Some(pbx), false) = (&demo, cli.json) {
        let why = if cli.demo { "--demo" } else { "no --url given" };
        eprintln!("parkwatch: {why}: using the embedded demo PBX at {}", pbx.addr());
    }
    let watching = matches!(cmd, Cmd::Watch { .. } | Cmd::Record { .. });
    let mut parking = ParkingOptions::default().auto_refresh(watching);
    if let Cmd::Watch { poll } = cmd {
        parking = parking.poll_interval(Duration::from_secs(*poll));
    }
    let client = Client::connect_all(servers, ParkingStore::new(parking))?;
    let work = async {
        // One-shot commands fail fast when the PBX cannot be reached; `watch` waits for it.
        if !watching {
            wait_needed(&cli, &client).await?;
        }
        match cmd {
            Cmd::Lots => lots(&cli, &client).await,
            Cmd::Calls { lot } => calls(&cli, &client, lot.as_deref()).await,
            Cmd::Watch { .. } => watch(&cli, &client).await,
            Cmd::Record { db, history_days } => history::record(&client, db, *history_days, cli.json).await,
            Cmd::History { .. } => Ok(()),
            Cmd::Park { channel, caller_of, lot, space, timeout } => {
                let p = Park { lot: lot.clone(), space: *space, timeout: timeout.unwrap_or_default() };
                match (channel, caller_of) {
                    (_, Some(phone)) => actions::park_caller_of(&cli, &client, phone, p).await,
                    (Some(channel), None) => actions::park(&cli, &client, channel, p).await,
                    (None, None) => Err(Failure("park needs a CHANNEL or --caller-of PHONE".into(), 2)),
                }
            }
            Cmd::Retrieve { space, to, lot } => {
                actions::retrieve(&cli, &client, *space, to, lot.as_deref()).await
            }
            Cmd::Move { space, lot, to_lot, to_space } => {
                let to =
                    Park { lot: to_lot.clone().or_else(|| lot.clone()), space: *to_space, ..Park::default() };
                actions::move_call(&cli, &client, *space, lot.as_deref(), to).await
            }
        }
    };
    let result = shutdown::until_stopped(work, stop, watching).await;
    shutdown::log_off(&client).await;
    result
}

pub(crate) fn print_line(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

pub(crate) fn server_ok(cli: &Cli, id: ServerId) -> bool {
    cli.server.is_none_or(|s| s == id)
}

/// The servers the client has, in order: raw AMI servers by link (1, 2, ...), and
/// those behind amiws that listed lots.
pub(crate) fn known_servers(client: &Client) -> Vec<ServerId> {
    let mut ids: Vec<ServerId> = client.store().parking_lots_now().iter().map(|l| l.server_id).collect();
    ids.extend(
        client
            .links_now()
            .iter()
            .enumerate()
            .filter(|(_, (e, _))| !e.scheme.is_websocket())
            .map(|(i, _)| i as ServerId + 1),
    );
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// `--server N` naming no server the client has is a mistake, said as one (exit 2),
/// not an empty table. Raw AMI servers only: they are numbered by link, so the
/// client knows them all; a server behind amiws (or a bridge) is known only once it
/// lists lots, and one that is down is no mistake.
pub(crate) fn check_server(cli: &Cli, client: &Client) -> Result<(), Failure> {
    let Some(n) = cli.server else { return Ok(()) };
    if client.endpoints().any(|e| e.scheme.is_websocket()) {
        return Ok(());
    }
    let known = known_servers(client);
    if known.contains(&n) {
        return Ok(());
    }
    let list: Vec<String> = known.iter().map(ToString::to_string).collect();
    let has = if list.is_empty() {
        "none is in yet".to_owned()
    } else {
        format!("the servers are {}", list.join(", "))
    };
    Err(Failure(format!("there is no server {n}: {has}"), 2))
}

pub(crate) async fn load(client: &Client, lot: Option<&str>) -> Result<(), Failure> {
    client.get_parking_lots().await?;
    client.get_parked_calls(lot).await?;
    Ok(())
}

fn all_lots(cli: &Cli, client: &Client) -> Vec<ami_parking::ParkingLot> {
    let mut lots: Vec<_> =
        client.store().parking_lots_now().into_iter().filter(|l| server_ok(cli, l.server_id)).collect();
    lots.sort_by(|a, b| (a.server_id, &a.name).cmp(&(b.server_id, &b.name)));
    lots
}

fn all_calls(cli: &Cli, client: &Client, lot: Option<&str>) -> Vec<ami_parking::ParkedCall> {
    let mut calls: Vec<_> = client
        .store()
        .parked_calls_now()
        .into_iter()
        .filter(|c| server_ok(cli, c.server_id) && lot.is_none_or(|l| &*c.parking_lot == l))
        .map(|c| (*c).clone())
        .collect();
    calls.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    calls
}

/// "There is no parking lot `name`", with the lots there are (`lots`: those of the
/// servers asked).
fn no_such_lot(name: &str, lots: &[ami_parking::ParkingLot]) -> String {
    let mut servers: Vec<ServerId> = lots.iter().map(|l| l.server_id).collect();
    servers.dedup();
    let names = |s: ServerId| -> Vec<String> {
        lots.iter().filter(|l| l.server_id == s).map(|l| l.name.to_string()).collect()
    };
    match servers.as_slice() {
        [one] => {
            ami_parking::ParkingError::UnknownLot { lot: name.into(), server_id: *one, known: names(*one) }
                .to_string()
        }
        _ => {
            let each: Vec<String> =
                servers.iter().map(|s| format!("server {s}: {}", names(*s).join(", "))).collect();
            format!("there is no parking lot {name} on any server; their lots are: {}", each.join("; "))
        }
    }
}

async fn lots(cli: &Cli, client: &Client) -> Result<(), Failure> {
    load(client, None).await?;
    check_server(cli, client)?;
    let lots = all_lots(cli, client);
    if cli.json {
        print_line(&json!(lots.iter().map(render::lot_json).collect::<Vec<_>>()));
    } else {
        print!("{}", render::lots_table(&lots));
    }
    Ok(())
}

async fn calls(cli: &Cli, client: &Client, lot: Option<&str>) -> Result<(), Failure> {
    if cli.server.is_some() || lot.is_some() {
        // Servers behind amiws are known by the lots they list; a lot nobody has is
        // said as `park` says it (Asterisk's answer would be "could not be found").
        client.get_parking_lots().await?;
        check_server(cli, client)?;
        if let Some(name) = lot {
            let lots = all_lots(cli, client);
            if !lots.iter().any(|l| &*l.name == name) {
                return Err(Failure(no_such_lot(name, &lots), 1));
            }
        }
    }
    client.get_parked_calls(lot).await?;
    let now = ami_parking_transport::now();
    let calls = all_calls(cli, client, lot);
    if cli.json {
        print_line(&json!(calls.iter().map(|c| render::call_json(c, now)).collect::<Vec<_>>()));
    } else {
        print!("{}", render::calls_table(&calls, now));
    }
    Ok(())
}

/// Every link's connection changes, with its server (raw AMI links are servers 1,
/// 2, ... in order; an amiws link has its own, so none is named).
fn connection_changes(
    client: &Client,
) -> tokio::sync::mpsc::UnboundedReceiver<(Option<ServerId>, ConnectionState)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for (i, (endpoint, _)) in client.links_now().into_iter().enumerate() {
        let tx = tx.clone();
        let server = (!endpoint.scheme.is_websocket()).then_some(i as ServerId + 1);
        let Some(state) = client.link_state(i) else { continue };
        let mut states = ami_parking::futures_signals::signal::SignalExt::to_stream(state);
        tokio::spawn(async move {
            while let Some(s) = states.next().await {
                if tx.send((server, s)).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

async fn watch(cli: &Cli, client: &Client) -> Result<(), Failure> {
    let mut rx = connection_changes(client);
    // A connection change is told as it happens, also before the snapshot: a watcher
    // started while the PBX is down says so at once.
    let tell = |(server, state): (Option<ServerId>, ConnectionState)| {
        if cli.json {
            print_line(&render::connection_json(server, &state));
        } else {
            eprintln!("{}", connection_line(server, &state));
        }
        state == ConnectionState::Stopped
    };
    // Wait for every server (a watcher may start before the PBX), but once one is in,
    // no longer than --connect-timeout for the others: a server that is down does not
    // hide the rest (it is listed when it logs in).
    let all_in = logged_in(client);
    tokio::pin!(all_in);
    let patience = tokio::time::sleep(Duration::from_secs(cli.connect_timeout));
    tokio::pin!(patience);
    let mut check = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = &mut all_in => break,
            _ = check.tick(), if patience.is_elapsed() => if any_logged_in(client) { break },
            _ = &mut patience, if !patience.is_elapsed() => {}
            Some(change) = rx.recv() => if tell(change) { return Ok(()) },
        }
    }
    // Events are heard from here on: nothing piles up while a server is still down,
    // and what comes after the snapshot is news.
    let mut events = client.events();
    // A link that drops in the middle of the first lists is followed, not fatal.
    while let Err(Failure(why, _)) = load(client, None).await {
        let why = render::terminal_safe(&why);
        eprintln!("{} listing failed: {why}; trying again", render::rfc3339(ami_parking_transport::now()));
        tokio::time::sleep(Duration::from_secs(1)).await;
        while !any_logged_in(client) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    check_server(cli, client)?;
    let now = ami_parking_transport::now();
    let lots = all_lots(cli, client);
    let calls = all_calls(cli, client, None);
    if cli.json {
        print_line(&json!({
            "type": "snapshot",
            "lots": lots.iter().map(render::lot_json).collect::<Vec<_>>(),
            "calls": calls.iter().map(|c| render::call_json(c, now)).collect::<Vec<_>>(),
        }));
    } else {
        print!("{}\n{}", render::lots_table(&lots), render::calls_table(&calls, now));
        let _ = std::io::stdout().flush();
    }
    loop {
        tokio::select! {
            e = events.next() => match e {
                Some(e) if server_ok(cli, e.call().server_id) => {
                    let now = ami_parking_transport::now();
                    if cli.json { print_line(&render::event_json(&e, now)) } else { println!("{}", render::event_line(&e, now)) }
                }
                Some(_) => {}
                None => return Ok(()),
            },
            s = rx.recv() => if let Some(change) = s {
                if tell(change) { return Ok(()) }
            },
        }
    }
}

/// A connection line for people: when, which server, what state (e.g. `connection
/// server 1 disconnected: connection refused (retry 2)`).
fn connection_line(server: Option<ServerId>, state: &ConnectionState) -> String {
    let server = server.map(|s| format!(" server {s}")).unwrap_or_default();
    // The last error may be the server's own text.
    let state = render::terminal_safe(&state.to_string());
    format!("{} connection{server} {state}", render::rfc3339(ami_parking_transport::now()))
}

/// True when at least one server is logged in.
pub(crate) fn any_logged_in(client: &Client) -> bool {
    client.links_now().iter().any(|(_, s)| *s == ConnectionState::LoggedIn)
}

/// Waits for the servers a one-shot command needs: the one `--server` names, or all.
async fn wait_needed(cli: &Cli, client: &Client) -> Result<(), Failure> {
    // A raw AMI server the client has; anything else waits for every server.
    let raw = |n: &ServerId| {
        client.endpoints().nth((*n as usize).wrapping_sub(1)).is_some_and(|e| !e.scheme.is_websocket())
    };
    let target = cli.server.filter(raw).map_or(Target::All, Target::Server);
    let timeout = Duration::from_secs(cli.connect_timeout);
    client.wait_logged_in_on(target, timeout).await.map_err(|e| Failure(e.to_string(), 2))
}

/// Resolves once every server is logged in (the links keep retrying meanwhile).
pub(crate) async fn logged_in(client: &Client) {
    let mut states = ami_parking::futures_signals::signal::SignalExt::to_stream(client.connection_state());
    while let Some(s) = states.next().await {
        if s == ConnectionState::LoggedIn {
            return;
        }
    }
}

/// `--timeout`: seconds, or `never`.
fn parse_timeout(s: &str) -> Result<ParkTimeout, String> {
    match s {
        "never" | "none" => Ok(ParkTimeout::Never),
        n => match n.parse::<u64>() {
            Ok(0) => Err("0 would mean no timeout to Asterisk; say `never`".into()),
            Ok(secs) => Ok(ParkTimeout::After(Duration::from_secs(secs))),
            Err(_) => Err(format!("`{n}` is neither a number of seconds nor `never`")),
        },
    }
}
