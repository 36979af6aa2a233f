//! The parking blocks of Asterisk's messages read into the model: the parkee block
//! of a parking event or `ParkedCall` list item, the retriever block of an
//! `UnParkedCall`, a `Parkinglot` list item. Asterisk 12+ names and Asterisk 11 names
//! map to the same fields.

use crate::parking::model::{
    ParkedCall, ParkingLot, Retriever, ServerId, DEFAULT_NEAR_TIMEOUT, NO_TIMEOUT_THRESHOLD_SECS,
};
use crate::time::Timestamp;
use crate::wire::escape::unescape_c;
use crate::wire::message::Message;
use std::sync::Arc;
use std::time::Duration;

impl ParkingLot {
    /// Reads a `Parkinglot` list item (`Name`, `StartSpace`, `StopSpace`, `Timeout`;
    /// Asterisk 11: `StartExten`, `StopExten`).
    pub fn from_message(server_id: ServerId, m: &Message) -> Option<Self> {
        let name: Arc<str> = m.get_str("Name")?.as_ref().into();
        let start = num(m, &["StartSpace", "StartExten"]).unwrap_or(0) as u32;
        let end = num(m, &["StopSpace", "StopExten", "EndSpace"]).unwrap_or(0) as u32;
        let timeout =
            num(m, &["Timeout"]).filter(|&t| t > 0 && t < NO_TIMEOUT_THRESHOLD_SECS).map(Duration::from_secs);
        let range_known = end >= start && start > 0;
        Some(Self {
            name,
            start_space: start,
            end_space: end,
            total_spaces: if range_known { end - start + 1 } else { 0 },
            timeout,
            server_id,
            occupied: 0,
            range_known,
        })
    }
}

impl ParkedCall {
    /// Reads the parkee block of a parking event or `ParkedCall` list item, on `server_id`,
    /// received at `now`. Asterisk 11 names (`Exten`, `Channel`, `Timeout`, `CallerIDNum`,
    /// `UniqueID`, ...) map to the same fields. `None` when the message names no space.
    ///
    /// ```
    /// use ami_parking::{Message, ParkedCall, Timestamp};
    /// let m = Message::from_pairs([("Event", "ParkedCall"), ("ParkeeChannel", "PJSIP/1-1"),
    ///     ("ParkeeCallerIDName", r#"Say \"hi\""#), ("Parkinglot", "default"), ("ParkingSpace", "701"),
    ///     ("ParkingTimeout", "42"), ("ParkingDuration", "3")]);
    /// let c = ParkedCall::from_message(1, &m, Timestamp::from_unix_millis(100_000)).unwrap();
    /// assert_eq!((c.parking_space, &*c.parking_lot, c.caller_id_name.as_str()), (701, "default", r#"Say "hi""#));
    /// assert_eq!(c.timeout, Some(std::time::Duration::from_secs(45)));
    /// ```
    pub fn from_message(server_id: ServerId, m: &Message, now: Timestamp) -> Option<Self> {
        Self::from_headers(server_id, m.iter(), now)
    }

    /// Like [`ParkedCall::from_message`], from `(key, value)` pairs (e.g. a
    /// [`RawMessage`](crate::wire::ami_codec::RawMessage)'s headers, without building a
    /// header list first).
    pub fn from_headers<'a>(
        server_id: ServerId,
        headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        now: Timestamp,
    ) -> Option<Self> {
        // One pass over the headers; for each field the first of its names wins,
        // Asterisk 12+ names before Asterisk 11 ones.
        let mut f: [Option<&[u8]>; FIELDS] = [None; FIELDS];
        for (k, v) in headers {
            if let Some(i) = field_index(k) {
                f[i] = f[i].or(Some(v));
            }
        }
        let pick = |modern: usize, legacy: usize| f[modern].or(f[legacy]);
        let name = |v: Option<&[u8]>| {
            let t = text(v);
            if t.contains('\\') {
                unescape_c(&t).into_owned()
            } else {
                t
            }
        };
        let number = |v: Option<&[u8]>| {
            v.and_then(|v| std::str::from_utf8(v).ok()).and_then(|v| v.trim().parse::<u64>().ok())
        };
        let space = number(pick(F_SPACE, F_EXTEN))? as u32;
        let lot: Arc<str> = match f[F_LOT] {
            Some(l) if !l.is_empty() => String::from_utf8_lossy(l).as_ref().into(),
            _ => "default".into(),
        };
        let remaining = number(pick(F_TIMEOUT, F_TIMEOUT11));
        let elapsed = Duration::from_secs(number(pick(F_DURATION, F_DURATION11)).unwrap_or(0));
        let remaining = remaining.filter(|&r| r < NO_TIMEOUT_THRESHOLD_SECS).map(Duration::from_secs);
        Some(Self {
            parking_space: space,
            parking_lot: lot,
            channel: text(pick(F_CHANNEL, F_CHANNEL11)),
            unique_id: text(pick(F_UID, F_UID11)),
            linked_id: text(pick(F_LINKED, F_LINKED11)),
            caller_id_num: text(pick(F_CID_NUM, F_CID_NUM11).or(f[F_CID11])),
            caller_id_name: name(pick(F_CID_NAME, F_CID_NAME11)),
            connected_line_num: text(pick(F_CL_NUM, F_CL_NUM11)),
            connected_line_name: name(pick(F_CL_NAME, F_CL_NAME11)),
            parker_dial_string: text(pick(F_PARKER, F_FROM11)),
            timeout: remaining.map(|r| r + elapsed),
            parked_at: now.saturating_sub(elapsed),
            deadline: remaining.map(|r| now + r),
            server_id,
            near_timeout_threshold: DEFAULT_NEAR_TIMEOUT,
        })
    }
}

impl Retriever {
    /// Reads the retriever block of an `UnParkedCall` event.
    pub fn from_message(m: &Message) -> Self {
        Self::from_headers(m.iter())
    }

    /// Like [`Retriever::from_message`], from `(key, value)` pairs, in one pass.
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Self {
        let mut f: [Option<&[u8]>; 5] = [None; 5];
        for (k, v) in headers {
            if k.len() < 4 || !(k[0] == b'R' || k[0] == b'r' || k.eq_ignore_ascii_case(b"From")) {
                continue;
            }
            let i = if k.eq_ignore_ascii_case(b"RetrieverChannel") {
                0
            } else if k.eq_ignore_ascii_case(b"RetrieverCallerIDNum") {
                1
            } else if k.eq_ignore_ascii_case(b"RetrieverCallerIDName") {
                2
            } else if k.eq_ignore_ascii_case(b"RetrieverUniqueid") {
                3
            } else if k.eq_ignore_ascii_case(b"From") {
                4
            } else {
                continue;
            };
            f[i] = f[i].or(Some(v));
        }
        Self {
            channel: text(f[0].or(f[4])),
            caller_id_num: text(f[1]),
            caller_id_name: unescape_c(&text(f[2])).into_owned(),
            unique_id: text(f[3]),
        }
    }
}

fn text(v: Option<&[u8]>) -> String {
    v.map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
}

const F_SPACE: usize = 0;
const F_EXTEN: usize = 1;
const F_LOT: usize = 2;
const F_TIMEOUT: usize = 3;
const F_TIMEOUT11: usize = 4;
const F_DURATION: usize = 5;
const F_DURATION11: usize = 6;
const F_CHANNEL: usize = 7;
const F_CHANNEL11: usize = 8;
const F_UID: usize = 9;
const F_UID11: usize = 10;
const F_LINKED: usize = 11;
const F_LINKED11: usize = 12;
const F_CID_NUM: usize = 13;
const F_CID_NUM11: usize = 14;
const F_CID11: usize = 15;
const F_CID_NAME: usize = 16;
const F_CID_NAME11: usize = 17;
const F_CL_NUM: usize = 18;
const F_CL_NUM11: usize = 19;
const F_CL_NAME: usize = 20;
const F_CL_NAME11: usize = 21;
const F_PARKER: usize = 22;
const F_FROM11: usize = 23;
const FIELDS: usize = 24;

/// Which field a header names (ASCII case-insensitive), for the one-pass parse.
/// Dispatches on the length first, so most headers cost one comparison or none.
fn field_index(key: &[u8]) -> Option<usize> {
    let is = |name: &str| key.eq_ignore_ascii_case(name.as_bytes());
    let candidates: &[(&str, usize)] = match key.len() {
        4 => &[("from", F_FROM11)],
        5 => &[("exten", F_EXTEN)],
        7 => &[("timeout", F_TIMEOUT11), ("channel", F_CHANNEL11)],
        8 => &[
            ("duration", F_DURATION11),
            ("uniqueid", F_UID11),
            ("linkedid", F_LINKED11),
            ("callerid", F_CID11),
        ],
        10 => &[("parkinglot", F_LOT)],
        11 => &[("calleridnum", F_CID_NUM11)],
        12 => &[("parkingspace", F_SPACE), ("calleridname", F_CID_NAME11)],
        13 => &[("parkeechannel", F_CHANNEL)],
        14 => &[("parkingtimeout", F_TIMEOUT), ("parkeeuniqueid", F_UID), ("parkeelinkedid", F_LINKED)],
        15 => &[("parkingduration", F_DURATION)],
        16 => &[("connectedlinenum", F_CL_NUM11), ("parkerdialstring", F_PARKER)],
        17 => &[("parkeecalleridnum", F_CID_NUM), ("connectedlinename", F_CL_NAME11)],
        18 => &[("parkeecalleridname", F_CID_NAME)],
        22 => &[("parkeeconnectedlinenum", F_CL_NUM)],
        23 => &[("parkeeconnectedlinename", F_CL_NAME)],
        _ => return None,
    };
    candidates.iter().find(|(name, _)| is(name)).map(|(_, i)| *i)
}

fn num(m: &Message, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| m.get_str(k)).and_then(|v| v.trim().parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_two_to_the_64_means_no_timeout() {
        let m = Message::from_pairs([
            ("ParkingSpace", "701"),
            ("ParkingTimeout", "18446744073709551615"),
            ("ParkingDuration", "3"),
        ]);
        let c = ParkedCall::from_message(1, &m, Timestamp::from_unix_millis(10_000)).unwrap();
        assert_eq!(c.timeout, None);
        assert_eq!(c.timeout_remaining(Timestamp::from_unix_millis(20_000)), None);
        assert!(!c.is_near_timeout(Timestamp::from_unix_millis(20_000)));
    }

    #[test]
    fn asterisk_11_names_map_to_the_same_model() {
        let m = Message::from_pairs([
            ("Event", "ParkedCall"),
            ("Exten", "701"),
            ("Channel", "SIP/100-0001"),
            ("Parkinglot", "default"),
            ("From", "SIP/200-0002"),
            ("Timeout", "45"),
            ("CallerIDNum", "100"),
            ("CallerIDName", "Alice"),
            ("UniqueID", "123.4"),
        ]);
        let c = ParkedCall::from_message(1, &m, Timestamp::from_unix_millis(0)).unwrap();
        assert_eq!(c.parking_space, 701);
        assert_eq!(c.channel, "SIP/100-0001");
        assert_eq!(c.unique_id, "123.4");
        assert_eq!(c.caller_id_num, "100");
        assert_eq!(c.parker_dial_string, "SIP/200-0002");
        assert_eq!(c.timeout, Some(Duration::from_secs(45)));
    }

    #[test]
    fn lot_from_asterisk_11_list_item() {
        let m = Message::from_pairs([
            ("Event", "Parkinglot"),
            ("Name", "default"),
            ("StartExten", "701"),
            ("StopExten", "720"),
            ("Timeout", "45"),
        ]);
        let l = ParkingLot::from_message(1, &m).unwrap();
        assert_eq!((l.start_space, l.end_space, l.total_spaces), (701, 720, 20));
    }
}
