//! AMI actions forwarded over a `nats://` link ([`Request::Forward`], the bridge's
//! way), answered as Asterisk answers them: the parking set only. `Ping` is answered
//! at once; `ParkedCalls` and `Parkinglots` from the link's store (the collector's
//! snapshot and the events after it); `Park` and `Originate` as a retrieve
//! (`Application: ParkedCall`, `Data: LOT,SPACE`) become the collector's typed
//! actions, and its answer is written back in AMI form. Anything else is refused
//! with an error that says so.

use ami_parking::{Action, Message, ParkedCall, ParkingError, ParkingLot, Reply, Request, Timestamp};
use std::sync::Arc;

/// What was asked, to write its answer in the form it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Asked {
    Ping,
    Lots,
    Calls,
    Park,
    /// A retrieve by `Originate`: the destination, `LOT,SPACE`, and whether an
    /// `OriginateResponse` follows the response (`Async: true`).
    Retrieve {
        channel: String,
        data: String,
        async_: bool,
    },
}

/// The typed request behind `action` (`None` for a `Ping`), or why it cannot go over
/// NATS.
pub(crate) fn typed(action: &Action) -> Result<(Asked, Option<Request>), ParkingError> {
    let m = action.as_message();
    let text = |key: &str| m.get_str(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let name = action.name();
    let refuse = |why: String| Err(ParkingError::InvalidArgument(format!("{name} over nats://: {why}")));
    let number = |key: &str| -> Result<Option<u64>, ParkingError> {
        match text(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ParkingError::InvalidArgument(format!("{name} over nats://: {key} `{v}` is not a number"))
            }),
        }
    };
    if name.eq_ignore_ascii_case("Ping") {
        Ok((Asked::Ping, None))
    } else if name.eq_ignore_ascii_case("Parkinglots") {
        Ok((Asked::Lots, Some(Request::ParkingLots)))
    } else if name.eq_ignore_ascii_case("ParkedCalls") {
        Ok((Asked::Calls, Some(Request::ParkedCalls { lot: text("ParkingLot") })))
    } else if name.eq_ignore_ascii_case("Park") {
        let Some(channel) = text("Channel") else { return refuse("no Channel".into()) };
        let space = match number("ParkingSpace")? {
            Some(s) => Some(u32::try_from(s).map_err(|_| {
                ParkingError::InvalidArgument(format!("{name} over nats://: ParkingSpace {s} is too large"))
            })?),
            None => None,
        };
        let park = ami_parking::Park {
            lot: text("Parkinglot"),
            space,
            timeout: super::protocol::park_timeout(number("Timeout")?),
        };
        Ok((Asked::Park, Some(Request::Park { channel, park })))
    } else if name.eq_ignore_ascii_case("Originate") {
        let app = text("Application").unwrap_or_default();
        if !app.eq_ignore_ascii_case("ParkedCall") {
            return refuse("only a retrieve (Application: ParkedCall) goes to a collector".into());
        }
        let Some(channel) = text("Channel") else { return refuse("no Channel".into()) };
        let data = text("Data").unwrap_or_default();
        let Some((lot, space)) = data.split_once(',').and_then(|(l, s)| Some((l, s.trim().parse().ok()?)))
        else {
            return refuse(format!("Data `{data}` is not LOT,SPACE"));
        };
        let async_ =
            text("Async").is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1"));
        let lot = Some(lot.trim().to_owned()).filter(|l| !l.is_empty());
        let asked = Asked::Retrieve { channel: channel.clone(), data: data.clone(), async_ };
        Ok((asked, Some(Request::Retrieve { space, to_channel: channel, lot })))
    } else {
        refuse("a collector takes only the parking set (Ping, Parkinglots, ParkedCalls, Park, Originate as a retrieve)".into())
    }
}

/// The answer to `asked` in AMI form, from the typed request's result: a refusal by
/// Asterisk is a `Response: Error` (as Asterisk writes it); a failure to reach the
/// collector stays an error of the link.
pub(crate) fn answer(
    asked: &Asked,
    result: Result<Reply, ParkingError>,
    now: Timestamp,
) -> Result<Vec<Message>, ParkingError> {
    let reply = match result {
        Ok(r) => r,
        Err(ParkingError::Asterisk { message, .. }) => {
            let mut out = vec![response("Error", &message, false)];
            if let Asked::Retrieve { channel, data, async_: true } = asked {
                out.push(originate_response("Failure", channel, data));
            }
            return Ok(out);
        }
        Err(e) => return Err(e),
    };
    Ok(match (asked, reply) {
        (Asked::Ping, _) => {
            let mut m = Message::new();
            m.push(b"Response", b"Success");
            m.push(b"Ping", b"Pong");
            m.push(b"Timestamp", format!("{}.000000", now.as_unix_millis() / 1000).as_bytes());
            vec![m]
        }
        (Asked::Lots, Reply::Lots(lots)) => {
            let mut out = vec![response("Success", "Parking lots will follow", true)];
            out.extend(lots.iter().map(lot_event));
            out.push(complete("ParkinglotsComplete", lots.len(), None));
            out
        }
        (Asked::Calls, Reply::Calls(calls)) => {
            let mut out = vec![response("Success", "Parked calls will follow", true)];
            out.extend(calls.iter().map(|c| parked_call_event(c, now)));
            out.push(complete("ParkedCallsComplete", calls.len(), Some(calls.len())));
            out
        }
        (Asked::Park, Reply::Parked { .. } | Reply::Moved { .. }) => {
            vec![response("Success", "Park successful", false)]
        }
        (Asked::Retrieve { channel, data, async_ }, Reply::Retrieved { .. }) => {
            let mut out = vec![response("Success", "Originate successfully queued", false)];
            if *async_ {
                out.push(originate_response("Success", channel, data));
            }
            out
        }
        (_, other) => return Err(ParkingError::UnexpectedReply { reply: other.to_string() }),
    })
}

fn response(status: &str, message: &str, list: bool) -> Message {
    let mut m = Message::new();
    m.push(b"Response", status.as_bytes());
    if list {
        m.push(b"EventList", b"start");
    }
    m.push(b"Message", message.as_bytes());
    m
}

fn complete(event: &str, items: usize, total: Option<usize>) -> Message {
    let mut m = Message::new();
    m.push(b"Event", event.as_bytes());
    m.push(b"EventList", b"Complete");
    m.push(b"ListItems", items.to_string().as_bytes());
    if let Some(t) = total {
        m.push(b"Total", t.to_string().as_bytes());
    }
    m
}

fn originate_response(status: &str, channel: &str, data: &str) -> Message {
    let mut m = Message::new();
    m.push(b"Event", b"OriginateResponse");
    m.push(b"Response", status.as_bytes());
    m.push(b"Channel", channel.as_bytes());
    m.push(b"Application", b"ParkedCall");
    m.push(b"Data", data.as_bytes());
    m.push(b"Reason", if status == "Success" { b"4" } else { b"0" });
    m
}

/// A lot as Asterisk's `Parkinglot` list item.
fn lot_event(lot: &ParkingLot) -> Message {
    let mut m = Message::new();
    m.push(b"Event", b"Parkinglot");
    m.push(b"Name", lot.name.as_bytes());
    m.push(b"StartSpace", lot.start_space.to_string().as_bytes());
    m.push(b"StopSpace", lot.end_space.to_string().as_bytes());
    m.push(b"Timeout", lot.timeout.map_or(0, |t| t.as_secs()).to_string().as_bytes());
    m
}

/// A call as Asterisk's `ParkedCall` list item at `now` (its timeout left and its
/// time parked in whole seconds; caller names C-escaped again, as Asterisk writes
/// them).
fn parked_call_event(c: &Arc<ParkedCall>, now: Timestamp) -> Message {
    let mut m = Message::new();
    m.push(b"Event", b"ParkedCall");
    m.push(b"ParkeeChannel", c.channel().as_bytes());
    m.push(b"ParkeeCallerIDNum", c.caller_id_num().as_bytes());
    m.push(b"ParkeeCallerIDName", escape_c(c.caller_id_name()).as_bytes());
    m.push(b"ParkeeConnectedLineNum", c.connected_line_num().as_bytes());
    m.push(b"ParkeeConnectedLineName", escape_c(c.connected_line_name()).as_bytes());
    m.push(b"ParkeeUniqueid", c.unique_id().as_bytes());
    m.push(b"ParkeeLinkedid", c.linked_id().as_bytes());
    m.push(b"ParkerDialString", c.parker_dial_string().as_bytes());
    m.push(b"Parkinglot", c.parking_lot.as_bytes());
    m.push(b"ParkingSpace", c.parking_space.to_string().as_bytes());
    let left = c.timeout_remaining(now).map_or(0, |d| d.as_secs());
    m.push(b"ParkingTimeout", left.to_string().as_bytes());
    m.push(b"ParkingDuration", c.duration(now).as_secs().to_string().as_bytes());
    m
}

/// The inverse of [`ami_parking::unescape_c`] for what a caller name can hold.
fn escape_c(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| matches!(c, '"' | '\\' | '\n' | '\r' | '\t')) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 4);
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
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_parking::ami_codec::{Decoded, Decoder};

    fn action(text: &str) -> Action {
        let mut lines = text.split('\n');
        let (_, name) = lines.next().unwrap().split_once(": ").unwrap();
        lines.fold(Action::new(name), |a, l| {
            let (k, v) = l.split_once(": ").unwrap();
            a.header(k, v)
        })
    }

    #[test]
    fn the_parking_set_becomes_typed_requests_and_the_rest_is_refused() {
        let (asked, req) = typed(&action("Action: ParkedCalls\nParkingLot: vip")).unwrap();
        assert_eq!(asked, Asked::Calls);
        assert!(matches!(req, Some(Request::ParkedCalls { lot: Some(l) }) if l == "vip"));
        let (_, req) = typed(&action(
            "Action: Park\nChannel: PJSIP/100-1\nParkinglot: vip\nParkingSpace: 802\nTimeout: 60000",
        ))
        .unwrap();
        match req {
            Some(Request::Park { channel, park }) => {
                assert_eq!(channel, "PJSIP/100-1");
                assert_eq!((park.lot.as_deref(), park.space), (Some("vip"), Some(802)));
                assert_eq!(park.timeout, ami_parking::ParkTimeout::After(std::time::Duration::from_secs(60)));
            }
            other => panic!("{other:?}"),
        }
        let (asked, req) = typed(&action(
            "Action: Originate\nChannel: PJSIP/200\nApplication: ParkedCall\nData: default,701\nAsync: true",
        ))
        .unwrap();
        assert_eq!(
            asked,
            Asked::Retrieve { channel: "PJSIP/200".into(), data: "default,701".into(), async_: true }
        );
        assert!(
            matches!(req, Some(Request::Retrieve { space: 701, ref to_channel, lot: Some(ref l) }) if to_channel == "PJSIP/200" && l == "default")
        );
        for bad in [
            "Action: Originate\nChannel: PJSIP/200\nApplication: Dial\nData: PJSIP/300",
            "Action: Originate\nChannel: PJSIP/200\nApplication: ParkedCall\nData: default",
            "Action: Park\nChannel: PJSIP/1\nTimeout: soon",
            "Action: Park\nParkinglot: vip",
            "Action: Command\nCommand: core stop now",
        ] {
            let e = typed(&action(bad)).unwrap_err();
            assert!(e.to_string().contains("over nats://"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_list_of_calls_reads_back_as_the_same_calls() {
        // The answer, written out and read back by the core, is the store's calls.
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/asterisk-22-tcp/timed-lists-and-timeout.rx"
        ))
        .unwrap();
        let store = ami_parking::ParkingStore::default();
        let mut d = Decoder::new();
        let now = Timestamp::from_unix_millis(1_795_672_640_000);
        d.decode(&bytes, |item| {
            if let Decoded::Message(m) = item {
                store.apply_message(now, 1, &m.to_message());
            }
        })
        .unwrap();
        let calls = store.parked_calls_now();
        assert!(!calls.is_empty(), "the capture parks calls");
        let answer = answer(&Asked::Calls, Ok(Reply::Calls(calls.clone())), now).unwrap();
        assert!(
            answer[0].is("EventList", "start") && answer.last().unwrap().is("Event", "ParkedCallsComplete")
        );
        let copy = ami_parking::ParkingStore::default();
        copy.apply_snapshot(now, 1, None, Vec::new());
        for m in &answer[1..answer.len() - 1] {
            assert!(m.is("Event", "ParkedCall"), "{m:?}");
            copy.apply_message(now, 1, m);
        }
        let key = |c: &Arc<ParkedCall>| {
            (
                c.parking_lot.to_string(),
                c.parking_space,
                c.unique_id().to_owned(),
                c.caller_id_name().to_owned(),
            )
        };
        assert_eq!(
            copy.parked_calls_now().iter().map(key).collect::<Vec<_>>(),
            calls.iter().map(key).collect::<Vec<_>>()
        );
    }

    #[test]
    fn asterisks_refusal_is_an_error_response_and_a_lost_link_an_error() {
        let asked = Asked::Retrieve { channel: "PJSIP/200".into(), data: "default,701".into(), async_: true };
        let refused = ParkingError::Asterisk {
            action: "Originate".into(),
            message: "nothing there".into(),
            server_id: 1,
        };
        let out = answer(&asked, Err(refused), Timestamp::ZERO).unwrap();
        assert!(out[0].is("Response", "Error") && out[0].is("Message", "nothing there"), "{out:?}");
        assert!(out[1].is("Event", "OriginateResponse") && out[1].is("Response", "Failure"), "{out:?}");
        let lost = ParkingError::NotLoggedIn { action: "Park".into() };
        assert!(answer(&Asked::Park, Err(lost), Timestamp::ZERO).is_err());
        assert_eq!(escape_c("Say \"hi\"\\"), "Say \\\"hi\\\"\\\\");
        assert_eq!(ami_parking::unescape_c(&escape_c("a\"b\\c\nd")), "a\"b\\c\nd");
    }
}
