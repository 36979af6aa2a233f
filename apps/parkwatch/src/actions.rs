//! The one-shot commands that act on the PBX (`park`, `park --caller-of`, `retrieve`,
//! `move`): which server each goes to, the request, and the result line.

use crate::{check_server, known_servers, load, print_line, render, server_ok, Cli, Failure};
use ami_parking::ParkingClient;
use ami_parking::{pick_server, Park, ParkingError, Request, ServerId, Target};
use ami_parking_transport::Client;
use serde_json::json;

/// A one-shot command's result line for a person: it holds the server's text (lot,
/// channel, caller names), so it goes through [`render::terminal_safe`].
fn print_text(line: &str) {
    println!("{}", render::terminal_safe(line));
}

/// The one server that can act, by the core's rule ([`pick_server`]): `having` are
/// the servers that qualify; `none` is the refusal when none does.
fn one_of(
    known: &[ServerId],
    having: &[ServerId],
    what: &str,
    none: ParkingError,
) -> Result<Target, Failure> {
    match pick_server(what, known, Some(having), Some(none)) {
        Ok(id) => Ok(Target::Server(id)),
        Err(ParkingError::AmbiguousServer { servers, .. }) => {
            let ids: Vec<String> = servers.iter().map(|s| s.to_string()).collect();
            Err(Failure(format!("{what}: servers {} could; pick one with --server", ids.join(", ")), 1))
        }
        Err(e) => Err(Failure(format!("{what}: {e}"), 1)),
    }
}

/// The servers that may act: `--server` picks one; else every server the client has
/// ([`known_servers`]).
/// A `--server` the client does not have is refused ([`check_server`]).
fn candidates(cli: &Cli, client: &Client) -> Result<Vec<ServerId>, Failure> {
    check_server(cli, client)?;
    let mut ids = known_servers(client);
    ids.retain(|id| server_ok(cli, *id));
    Ok(ids)
}

/// Parks the caller on the line with `phone`. With several servers, the first whose
/// channels include the phone's (the others say it has no call there).
pub(crate) async fn park_caller_of(
    cli: &Cli,
    client: &Client,
    phone: &str,
    park: Park,
) -> Result<(), Failure> {
    load(client, None).await?;
    let cands = candidates(cli, client)?;
    let mut answer = Err(Failure(format!("no server {} to park on", cli.server.unwrap_or(0)), 1));
    for id in cands {
        answer =
            client.park_caller_of_on(Target::Server(id), phone, park.clone()).await.map_err(Failure::from);
        if !matches!(&answer, Err(Failure(m, _)) if m.starts_with(&format!("phone {phone} has no call"))) {
            break;
        }
    }
    let at = answer?;
    let call = &at.call;
    if cli.json {
        print_line(&json!({
            "server_id": at.server_id, "parking_lot": at.lot, "parking_space": at.space,
            "phone": phone, "channel": call.channel(),
            "caller_id_num": call.caller_id_num(), "caller_id_name": call.caller_id_name(),
        }));
    } else {
        let who = [call.caller_id_name(), call.caller_id_num()]
            .into_iter()
            .filter(|s| !s.is_empty() && *s != "<unknown>")
            .collect::<Vec<_>>()
            .join(" ");
        print_text(&format!(
            "parked the caller of {phone} ({who}, {}) at {} {} (server {})",
            call.channel(),
            at.lot,
            at.space,
            at.server_id
        ));
    }
    Ok(())
}

pub(crate) async fn park(cli: &Cli, client: &Client, channel: &str, park: Park) -> Result<(), Failure> {
    load(client, None).await?;
    let cands = candidates(cli, client)?;
    let target = match cands.as_slice() {
        [] => return Err(Failure(format!("no server {} to park on", cli.server.unwrap_or(0)), 1)),
        [one] => Target::Server(*one),
        _ => {
            // Where does the channel exist?
            let mut having = Vec::new();
            for id in &cands {
                let req = Request::List {
                    action: ami_parking::Action::new("Status").header("Channel", channel),
                    complete_event: Some("StatusComplete".into()),
                };
                if let Ok(ami_parking::Reply::List(items)) = client.request(req, Target::Server(*id)).await {
                    if !items.is_empty() {
                        having.push(*id);
                    }
                }
            }
            let none = ParkingError::InvalidArgument("the channel exists on none of the servers".into());
            one_of(&cands, &having, &format!("park {channel}"), none)?
        }
    };
    let at = client.park_call_on(target, channel, park).await?;
    if cli.json {
        print_line(&json!({ "server_id": at.server_id, "parking_lot": at.lot, "parking_space": at.space }));
    } else {
        print_text(&format!("parked {channel} at {} {} (server {})", at.lot, at.space, at.server_id));
    }
    Ok(())
}

pub(crate) async fn retrieve(
    cli: &Cli,
    client: &Client,
    space: u32,
    to: &str,
    lot: Option<&str>,
) -> Result<(), Failure> {
    let lot_name = lot.unwrap_or("default");
    let target = holding(cli, client, lot_name, space, "retrieve").await?;
    let got = client.retrieve_call_on(target, Some(lot_name), space, to).await?;
    if cli.json {
        print_line(&json!({
            "server_id": got.server_id, "parking_lot": got.lot, "parking_space": space,
            "retriever": render::retriever_json(&got.retriever),
        }));
    } else {
        print_text(&format!(
            "retrieved {} {space} to {} (server {})",
            got.lot, got.retriever.channel, got.server_id
        ));
    }
    Ok(())
}

pub(crate) async fn move_call(
    cli: &Cli,
    client: &Client,
    space: u32,
    lot: Option<&str>,
    to: Park,
) -> Result<(), Failure> {
    let lot_name = lot.unwrap_or("default");
    let target = holding(cli, client, lot_name, space, "move").await?;
    let moved = client.move_call_on(target, Some(lot_name), space, to).await?;
    if cli.json {
        print_line(&json!({
            "server_id": moved.server_id, "from": { "parking_lot": lot_name, "parking_space": space },
            "parking_lot": moved.lot, "parking_space": moved.space,
        }));
    } else {
        print_text(&format!(
            "moved {lot_name} {space} to {} {} (server {})",
            moved.lot, moved.space, moved.server_id
        ));
    }
    Ok(())
}

/// The target of the one server where `space` of `lot` holds a call (for `what`:
/// retrieve, move); refused when none or several could be meant.
async fn holding(cli: &Cli, client: &Client, lot: &str, space: u32, what: &str) -> Result<Target, Failure> {
    load(client, None).await?;
    let cands = candidates(cli, client)?;
    let having: Vec<ServerId> = cands
        .iter()
        .copied()
        .filter(|id| client.store().parked_call_on_now(*id, lot, space).is_some())
        .collect();
    let none = ParkingError::SpaceEmpty { lot: lot.into(), space, server_id: None };
    one_of(&cands, &having, &format!("{what} {lot},{space}"), none)
}
