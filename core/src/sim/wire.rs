//! The messages Asterisk 22 writes, built in its field order (checked against the
//! captures by the `model_wire` tests): `Privilege` on live events only, `ActionID`
//! second in responses and last on list items. The model writes these, and the
//! tests build their hand-made wire input with them.
//!
//! ```
//! use ami_parking::sim::{wire, SimCall};
//! use ami_parking::Timestamp;
//! let call = SimCall::example("default", 701, "1.1", "5551001", Timestamp::ZERO);
//! let m = wire::live_event("ParkedCall", &call, Timestamp::ZERO, None);
//! assert_eq!(wire::to_text(&[m]).lines().take(2).collect::<Vec<_>>(), ["Event: ParkedCall", "Privilege: call,all"]);
//! ```

use super::{SimCall, SimLot};
use crate::time::Timestamp;
use crate::wire::ami_codec::write_server_message;
use crate::wire::Message;

/// The parkee block of a parking event or list item.
pub fn parkee_block(m: &mut Message, c: &SimCall) {
    channel_block(m, "Parkee", c, "caller", "4");
}

/// A channel's block as Asterisk writes it, with its key `prefix`.
fn channel_block(m: &mut Message, prefix: &str, c: &SimCall, context: &str, priority: &str) {
    let name = escape_c(&c.caller_name);
    for (k, v) in [
        ("Channel", c.channel.as_str()),
        ("ChannelState", "6"),
        ("ChannelStateDesc", "Up"),
        ("CallerIDNum", &c.caller_num),
        ("CallerIDName", &name),
        ("ConnectedLineNum", &c.caller_num),
        ("ConnectedLineName", &name),
        ("Language", "en"),
        ("AccountCode", ""),
        ("Context", context),
        ("Exten", "s"),
        ("Priority", priority),
        ("Uniqueid", &c.unique_id),
        ("Linkedid", &c.unique_id),
    ] {
        m.push(format!("{prefix}{k}").as_bytes(), v.as_bytes());
    }
}

/// The parking tail: parker, lot, space, time left (near 2^64 without a limit) and
/// time parked, in whole seconds at `now`.
pub fn parking_tail(m: &mut Message, c: &SimCall, now: Timestamp) {
    tail(m, c, now, false)
}

/// [`parking_tail`]; `live_park`: the live `ParkedCall`, whose time left is 0 for a
/// call without timeout (measured on Asterisk 22).
fn tail(m: &mut Message, c: &SimCall, now: Timestamp, live_park: bool) {
    // Asterisk counts whole seconds of the clock (`tv_sec`): time parked is now's
    // second less the park's, time left the park's second plus the limit less now's,
    // so the two add up to the limit (45 in every capture of a 45 s lot).
    let secs = |t: Timestamp| t.as_unix_millis() / 1000;
    let elapsed = secs(now).saturating_sub(secs(c.parked_at));
    // No timeout: Asterisk's unsigned "time left" wraps (2^64 - 2, counting down).
    let remaining = match c.deadline {
        Some(d) => {
            let limit = d.saturating_duration_since(c.parked_at).as_secs();
            (secs(c.parked_at) + limit).saturating_sub(secs(now))
        }
        None if live_park => 0,
        None => u64::MAX - 1 - elapsed,
    };
    m.push(b"ParkerDialString", b"Local/s@hold");
    m.push(b"Parkinglot", c.lot.as_bytes());
    m.push(b"ParkingSpace", c.space.to_string().as_bytes());
    m.push(b"ParkingTimeout", remaining.to_string().as_bytes());
    m.push(b"ParkingDuration", elapsed.to_string().as_bytes());
}

/// A live parking event (`ParkedCall`, `UnParkedCall` with its retriever, ...).
pub fn live_event(event: &str, c: &SimCall, now: Timestamp, retriever: Option<&SimCall>) -> Message {
    let mut m = Message::with_capacity(40, 900);
    m.push(b"Event", event.as_bytes());
    m.push(b"Privilege", b"call,all");
    parkee_block(&mut m, c);
    if let Some(r) = retriever {
        channel_block(&mut m, "Retriever", r, "retriever", "2");
    }
    tail(&mut m, c, now, event == "ParkedCall");
    m
}

/// A `ParkedCallSwap` as Asterisk 22 writes it (measured, capture
/// `swap-then-retrieve`): the new parkee's block, but the `Linkedid` of the call it
/// replaced (the model's calls are linked to themselves), and the lot's whole timeout
/// with a duration of 0, whatever time the park had left: Asterisk keeps the park's
/// clock all the same.
///
/// ```
/// use ami_parking::sim::{wire, SimCall};
/// use ami_parking::Timestamp;
/// use std::time::Duration;
/// let t0 = Timestamp::from_unix_millis(0);
/// let mut old = SimCall::example("default", 701, "1.1", "5551001", t0);
/// old.deadline = Some(t0 + Duration::from_secs(45));
/// let new = SimCall { unique_id: "1.2".into(), ..old.clone() };
/// let m = wire::swap_event(&new, &old, t0 + Duration::from_secs(10));
/// assert!(m.is("ParkeeUniqueid", "1.2") && m.is("ParkeeLinkedid", "1.1"));
/// assert!(m.is("ParkingTimeout", "45") && m.is("ParkingDuration", "0"));
/// ```
pub fn swap_event(new: &SimCall, old: &SimCall, now: Timestamp) -> Message {
    let m = live_event("ParkedCallSwap", new, now, None);
    let whole = new.deadline.map_or(0, |d| d.saturating_duration_since(new.parked_at).as_secs()).to_string();
    let mut out = Message::with_capacity(m.len(), 900);
    for (k, v) in m.iter() {
        let v = match k {
            b"ParkeeLinkedid" => old.unique_id.as_bytes(),
            b"ParkingTimeout" => whole.as_bytes(),
            b"ParkingDuration" => b"0",
            _ => v,
        };
        out.push(k, v);
    }
    out
}

/// A `ParkedCall` item of the `ParkedCalls` answer to `action_id`.
pub fn list_item(action_id: Option<&str>, c: &SimCall, now: Timestamp) -> Message {
    let mut m = Message::with_capacity(24, 700);
    m.push(b"Event", b"ParkedCall");
    parkee_block(&mut m, c);
    parking_tail(&mut m, c, now);
    if let Some(id) = action_id {
        m.push(b"ActionID", id.as_bytes());
    }
    m
}

/// A response: `pairs[0]` (`Response: ...`), then the ActionID, then the rest.
pub fn response(action_id: Option<&str>, pairs: &[(&str, &str)]) -> Message {
    let mut m = Message::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        m.push(k.as_bytes(), v.as_bytes());
        if let (0, Some(id)) = (i, action_id) {
            m.push(b"ActionID", id.as_bytes());
        }
    }
    m
}

/// A list's start (`Response: Success`, `EventList: start`, `message`).
pub fn list_start(action_id: Option<&str>, message: &str) -> Message {
    response(action_id, &[("Response", "Success"), ("EventList", "start"), ("Message", message)])
}

/// A list's end event (`ParkedCallsComplete` carries `Total` too).
pub fn list_end(action_id: Option<&str>, event: &str, items: usize) -> Message {
    let n = items.to_string();
    let mut pairs = vec![("Event", event), ("EventList", "Complete"), ("ListItems", n.as_str())];
    if event == "ParkedCallsComplete" {
        pairs.push(("Total", n.as_str()));
    }
    response(action_id, &pairs)
}

/// The whole answer to `ParkedCalls` with these calls.
pub fn parked_calls_answer(action_id: Option<&str>, calls: &[SimCall], now: Timestamp) -> Vec<Message> {
    let mut out = vec![list_start(action_id, "Parked calls will follow")];
    out.extend(calls.iter().map(|c| list_item(action_id, c, now)));
    out.push(list_end(action_id, "ParkedCallsComplete", calls.len()));
    out
}

/// The whole answer to `Parkinglots` with these lots.
pub fn parking_lots_answer(action_id: Option<&str>, lots: &[SimLot]) -> Vec<Message> {
    let mut out = vec![list_start(action_id, "Parking lots will follow")];
    for l in lots {
        let (start, end, timeout) = (l.start.to_string(), l.end.to_string(), l.timeout_secs.to_string());
        out.push(response(
            action_id,
            &[
                ("Event", "Parkinglot"),
                ("Name", &l.name),
                ("StartSpace", &start),
                ("StopSpace", &end),
                ("Timeout", &timeout),
            ],
        ));
    }
    out.push(list_end(action_id, "ParkinglotsComplete", lots.len()));
    out
}

/// Messages as the AMI text Asterisk writes (each ended by an empty line).
pub fn to_text(messages: &[Message]) -> String {
    let mut out = Vec::new();
    for m in messages {
        write_server_message(m, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// C-escapes a caller name as Asterisk 13.5+ does.
pub fn escape_c(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// `m` with Asterisk's `Timestamp` header (`seconds.micros`) after `Privilege`, as
/// `timestampevents = yes` in `manager.conf` writes it.
pub fn stamped(m: &Message, now: Timestamp) -> Message {
    let ms = now.as_unix_millis();
    let stamp = format!("{}.{:06}", ms / 1000, (ms % 1000) * 1000);
    let mut out = Message::with_capacity(m.len() + 1, 0);
    for (k, v) in m.iter() {
        out.push(k, v);
        if k == b"Privilege" {
            out.push(b"Timestamp", stamp.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn time_parked_and_time_left_add_up_to_the_limit_as_asterisk_counts_them() {
        let parked_at = Timestamp::from_unix_millis(1_000_600);
        let c = SimCall {
            channel: "PJSIP/1001-00000001".into(),
            unique_id: "1700000000.1".into(),
            caller_num: "5551001".into(),
            caller_name: "Customer".into(),
            lot: "default".into(),
            space: 701,
            parked_at,
            deadline: Some(parked_at + Duration::from_secs(45)),
        };
        let read = |m: &Message, k: &str| m.get_str(k).and_then(|v| v.parse::<u64>().ok());
        for ms in [1_000_600, 1_000_999, 1_001_000, 1_010_300, 1_045_599] {
            let mut m = Message::new();
            parking_tail(&mut m, &c, Timestamp::from_unix_millis(ms));
            let (left, parked) = (read(&m, "ParkingTimeout"), read(&m, "ParkingDuration"));
            assert_eq!(left.zip(parked).map(|(l, p)| l + p), Some(45), "at {ms} ms: {left:?} + {parked:?}");
        }
    }
}
