//! How parkwatch prints lots, calls and events: JSON lines (`--json`) or tables.

use ami_parking::display::{countdown, mm_ss};
use ami_parking::{ConnectionState, ParkedCall, ParkingEvent, ParkingLot, Retriever, Timestamp};
use serde_json::{json, Value};
use std::time::{Duration, UNIX_EPOCH};

/// RFC 3339 text of a timestamp.
pub fn rfc3339(t: Timestamp) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(t.as_unix_millis())).to_string()
}

/// A lot as `lots --json` prints it (its range and size `null` while unknown: a
/// dynamic lot no `Parkinglots` answer named yet).
pub fn lot_json(l: &ParkingLot) -> Value {
    let known = |n: u32| l.range_known.then_some(n);
    json!({
        "server_id": l.server_id,
        "name": &*l.name,
        "start_space": known(l.start_space),
        "end_space": known(l.end_space),
        "total_spaces": known(l.total_spaces),
        "occupied": l.occupied,
        "timeout_secs": l.timeout.map(|t| t.as_secs()),
    })
}

/// A call as `calls --json` prints it, times computed at `now`.
pub fn call_json(c: &ParkedCall, now: Timestamp) -> Value {
    json!({
        "server_id": c.server_id,
        "parking_lot": &*c.parking_lot,
        "parking_space": c.parking_space,
        "channel": c.channel(),
        "unique_id": c.unique_id(),
        "linked_id": c.linked_id(),
        "caller_id_num": c.caller_id_num(),
        "caller_id_name": c.caller_id_name(),
        "connected_line_num": c.connected_line_num(),
        "connected_line_name": c.connected_line_name(),
        "parker_dial_string": c.parker_dial_string(),
        "parked_by": c.parked_by(),
        "timeout_secs": c.timeout().map(|t| t.as_secs()),
        "duration_secs": c.duration(now).as_secs(),
        "remaining_secs": c.timeout_remaining(now).map(|t| t.as_secs()),
        "parked_at": rfc3339(c.parked_at),
    })
}

/// A retriever block.
pub fn retriever_json(r: &Retriever) -> Value {
    json!({ "channel": r.channel, "caller_id_num": r.caller_id_num, "caller_id_name": r.caller_id_name })
}

/// One `watch --json` event line.
pub fn event_json(e: &ParkingEvent, now: Timestamp) -> Value {
    let mut v =
        json!({ "type": e.kind(), "server_id": e.call().server_id, "call": call_json(e.call(), now) });
    match e {
        ParkingEvent::Retrieved { retriever, .. } => v["retriever"] = retriever_json(retriever),
        ParkingEvent::Swapped { previous, .. } => {
            v["previous"] = previous.as_ref().map(|p| call_json(p, now)).unwrap_or(Value::Null)
        }
        ParkingEvent::Resync { change, .. } => v["change"] = json!(change),
        ParkingEvent::NearTimeout { remaining, .. } => v["remaining_secs"] = json!(remaining.as_secs()),
        ParkingEvent::Moved { from, .. } => v["from"] = call_json(from, now),
        _ => {}
    }
    v
}

/// One `watch --json` connection line.
pub fn connection_json(server: Option<u32>, s: &ConnectionState) -> Value {
    let mut v = json!({ "type": "connection", "state": s });
    if let Some(id) = server {
        v["server_id"] = json!(id);
    }
    v
}

/// The lots as a table.
pub fn lots_table(lots: &[ParkingLot]) -> String {
    let mut s = format!(
        "{:<6} {:<12} {:>11} {:>6} {:>9} {:>8}\n",
        "SERVER", "LOT", "SPACES", "TOTAL", "OCCUPIED", "TIMEOUT"
    );
    for l in lots {
        let (spaces, total) = if l.range_known {
            (format!("{}-{}", l.start_space, l.end_space), l.total_spaces.to_string())
        } else {
            ("?".into(), "?".into())
        };
        let timeout = l.timeout.map(|t| format!("{}s", t.as_secs())).unwrap_or_else(|| "none".into());
        s += &terminal_safe(&format!(
            "{:<6} {:<12} {:>11} {:>6} {:>9} {:>8}",
            l.server_id, &*l.name, spaces, total, l.occupied, timeout
        ));
        s.push('\n');
    }
    s
}

/// The calls as a table.
pub fn calls_table(calls: &[ParkedCall], now: Timestamp) -> String {
    let mut s = format!(
        "{:<6} {:<10} {:>5} {:<14} {:<24} {:<10} {:>7} {:>7}  {}\n",
        "SERVER", "LOT", "SPACE", "CALLER", "NAME", "BY", "PARKED", "LEFT", "CHANNEL"
    );
    for c in calls {
        let left = c.timeout_remaining(now).map(countdown).unwrap_or_else(|| "-".into());
        let flag = if c.is_near_timeout(now) { "!" } else { " " };
        s += &terminal_safe(&format!(
            "{:<6} {:<10} {:>5} {:<14} {:<24} {:<10} {:>7} {:>6}{flag}  {}",
            c.server_id,
            &*c.parking_lot,
            c.parking_space,
            c.caller_id_num(),
            c.caller_id_name().chars().take(24).collect::<String>(),
            c.parked_by().unwrap_or("-"),
            mm_ss(c.duration(now)),
            left,
            c.channel()
        ));
        s.push('\n');
    }
    if calls.is_empty() {
        s += "(no parked calls)\n";
    }
    s
}

/// One event as a human line: the time, the event's name (as in `--json`, the
/// library and the README), where, who, and what else the event says.
pub fn event_line(e: &ParkingEvent, now: Timestamp) -> String {
    let c = e.call();
    let when = rfc3339(now);
    let who = format!("{} {}", c.caller_id_num(), c.caller_id_name());
    let place = format!("server {} {} {}", c.server_id, c.parking_lot, c.parking_space);
    let extra = match e {
        ParkingEvent::Retrieved { retriever, .. } => {
            format!("  by {} ({})", retriever.caller_id_num, retriever.channel)
        }
        ParkingEvent::Swapped { previous, .. } => {
            format!(" (was {})", previous.as_ref().map(|p| p.caller_id_num()).unwrap_or("?"))
        }
        ParkingEvent::NearTimeout { remaining, .. } => format!("  {} left", countdown(*remaining)),
        ParkingEvent::Moved { from, .. } => format!("  from {} {}", from.parking_lot, from.parking_space),
        ParkingEvent::Resync { change, .. } => format!("  {change:?}"),
        _ => String::new(),
    };
    terminal_safe(&format!("{when} {:<12} {place}  {who}{extra}", e.kind()))
}

/// What Asterisk sends (caller names and numbers, channels, lot names) may hold
/// escape sequences or, after C-unescaping, line breaks: on a terminal they would
/// forge output. Control characters and bidirectional overrides become `\u{fffd}`.
pub fn terminal_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_asterisk_cannot_forge_terminal_output() {
        let mut c = ParkedCall::default();
        c.set_caller_id_name("Eve\x1b[2J\nSERVER 1 default 701 5551001 Alice\u{202e}");
        c.set_caller_id_num("555\r1");
        let now = Timestamp::from_unix_millis(1_000);
        let table = calls_table(std::slice::from_ref(&c), now);
        assert_eq!(table.lines().count(), 2, "a header and one row: {table:?}");
        assert!(!table.contains('\x1b') && !table.contains('\r') && !table.contains('\u{202e}'));
        let line = event_line(&ParkingEvent::Parked { call: c.into() }, now);
        assert!(!line.contains('\n') && !line.contains('\x1b'), "{line:?}");
    }

    /// A lot whose range is unknown (a dynamic lot no `Parkinglots` answer named yet)
    /// has no size to print: not 0 spaces, which reads as a lot with none.
    #[test]
    fn a_lot_of_unknown_range_prints_no_size() {
        let mut l = ParkingLot::unknown_range(1, "overflow".into());
        l.occupied = 2;
        let table = lots_table(std::slice::from_ref(&l));
        let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(row, ["1", "overflow", "?", "?", "2", "none"], "{table}");
        let j = lot_json(&l);
        assert!(j["start_space"].is_null() && j["end_space"].is_null() && j["total_spaces"].is_null(), "{j}");
        assert_eq!(j["occupied"], 2);
    }
}
