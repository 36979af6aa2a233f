//! The wire between a collector and its frontends over NATS, defined once for both
//! sides (the collector in `apps/collector` and the `nats://` link here).
//!
//! Subjects, for tenant `T` and server `S` (both subject tokens of letters, digits,
//! `-` and `_`):
//!
//! | subject | what |
//! |---|---|
//! | `parking.T.S.<lot>.events` | one live AMI parking event of lot `<lot>` (its name as a [`lot_token`]) |
//! | `parking.T.S._ctl.events` | the collector's heartbeats and resync snapshots |
//! | `parking.T.S.snapshot` | request/reply: the current [`Snapshot`] |
//! | `parking.T.S.action` | request/reply: an [`ActionRequest`] answered by an [`ActionReply`] |
//! | `parking.T.S.election` | the collectors' claims to be the active one |
//!
//! Every message on an `events` subject carries the headers [`EPOCH`], [`SEQ`] and
//! [`KIND`]. Within an epoch (one collector's term as the active one) the sequence
//! numbers count up by one per state change, with no gap; a snapshot names the
//! number of the last change it holds. A frontend applies the snapshot, then every
//! event numbered after it; a gap, or a newer epoch, makes it take a new snapshot.
//! All of a server's events share one wildcard (`parking.T.S.*.events`), so one
//! subscription sees them in the order they were published.

use ami_parking::ami_codec::{write_server_message, Decoded, Decoder};
use ami_parking::{Message, ParkTimeout, ParkedCall, ParkingLot, Retriever, Timestamp};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Header: the publishing collector's epoch (its term as the active collector; a
/// later term has a larger number).
pub const EPOCH: &str = "Parking-Epoch";
/// Header: the sequence number of the change (of the last change, on a heartbeat).
pub const SEQ: &str = "Parking-Seq";
/// Header: [`Kind`] of the message, as text.
pub const KIND: &str = "Parking-Kind";
/// The subject token of the control messages (heartbeats, resync snapshots); no
/// lot's [`lot_token`] can be this.
pub const CONTROL_TOKEN: &str = "_ctl";

/// Why a message from NATS was refused. Never fatal: the message is dropped (and a
/// frontend takes a new snapshot when it could have been a change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A header is missing or not a number.
    #[error("NATS message without a valid {0} header (not from an ami-parking collector?)")]
    Header(&'static str),
    /// The body is not what its kind says.
    #[error("malformed {what} from NATS: {reason}")]
    Body {
        /// What was expected.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A tenant or server name that cannot be a subject token.
    #[error("`{0}` cannot name a tenant or a server: use letters, digits, `-` and `_` (1 to 64 of them)")]
    Name(String),
}

/// What an `events` message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One live AMI parking event (the body is its AMI text).
    Event,
    /// The collector resynced with Asterisk: the body is a whole [`Snapshot`].
    Resync,
    /// Nothing changed: the sequence number is the last one published.
    Heartbeat,
}

impl Kind {
    /// The header's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Resync => "resync",
            Kind::Heartbeat => "heartbeat",
        }
    }

    /// From the header's text.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "event" => Some(Kind::Event),
            "resync" => Some(Kind::Resync),
            "heartbeat" => Some(Kind::Heartbeat),
            _ => None,
        }
    }
}

/// Checks a tenant or server name: a NATS subject token of letters, digits, `-`
/// and `_`, 1 to 64 bytes.
///
/// ```
/// use ami_parking_transport::nats::check_name;
/// assert!(check_name("acme-1").is_ok());
/// assert!(check_name("a.b").is_err() && check_name("*").is_err() && check_name("").is_err());
/// ```
pub fn check_name(name: &str) -> Result<(), ProtocolError> {
    if crate::nats_url::name_ok(name) {
        Ok(())
    } else {
        Err(ProtocolError::Name(name.chars().take(80).collect()))
    }
}

/// A lot's name as one subject token: letters, digits and `-` kept, any other byte
/// as `_` and two hex digits (so `_ctl` is never one); the empty name is `_`.
///
/// ```
/// use ami_parking_transport::nats::lot_token;
/// assert_eq!(lot_token("default"), "default");
/// assert_eq!(lot_token("sales.2 *"), "sales_2E2_20_2A");
/// ```
pub fn lot_token(lot: &str) -> String {
    if lot.is_empty() {
        return "_".into();
    }
    let mut out = String::with_capacity(lot.len());
    for b in lot.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02X}"));
        }
    }
    out
}

/// The subjects of one server of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// The subjects of `server` of `tenant` (both checked with [`check_name`]).
    pub fn new(tenant: &str, server: &str) -> Result<Self, ProtocolError> {
        check_name(tenant)?;
        check_name(server)?;
        Ok(Subjects { prefix: format!("parking.{tenant}.{server}") })
    }
    /// `parking.T.S.<lot>.events`.
    pub fn events(&self, lot: &str) -> String {
        format!("{}.{}.events", self.prefix, lot_token(lot))
    }
    /// `parking.T.S._ctl.events`.
    pub fn control(&self) -> String {
        format!("{}.{CONTROL_TOKEN}.events", self.prefix)
    }
    /// `parking.T.S.*.events`: everything a frontend follows, in one subscription.
    pub fn all_events(&self) -> String {
        format!("{}.*.events", self.prefix)
    }
    /// `parking.T.S.snapshot`.
    pub fn snapshot(&self) -> String {
        format!("{}.snapshot", self.prefix)
    }
    /// `parking.T.S.action`.
    pub fn action(&self) -> String {
        format!("{}.action", self.prefix)
    }
    /// `parking.T.S.election`: the collectors' claims (see the collector's election).
    pub fn election(&self) -> String {
        format!("{}.election", self.prefix)
    }
    /// `parking.T.S`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// A lot as a snapshot carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotData {
    /// Name.
    pub name: String,
    /// First space.
    pub start_space: u32,
    /// Last space.
    pub end_space: u32,
    /// Parking time in milliseconds (`None`: none or unknown).
    pub timeout_ms: Option<u64>,
}

impl LotData {
    /// From the store's lot.
    pub fn of(lot: &ParkingLot) -> Self {
        LotData {
            name: lot.name.to_string(),
            start_space: lot.start_space,
            end_space: lot.end_space,
            timeout_ms: lot.timeout.map(|d| d.as_millis() as u64),
        }
    }
    /// As the store's lot of server `server_id`: its range known when it is one, as
    /// Asterisk's `Parkinglot` event is read (spaces from 1, the last not before the
    /// first); otherwise the range stays unknown.
    pub fn to_lot(&self, server_id: ami_parking::ServerId) -> ParkingLot {
        let mut l = ParkingLot::unknown_range(server_id, self.name.as_str().into());
        l.timeout = self.timeout_ms.map(Duration::from_millis);
        if self.start_space > 0 && self.end_space >= self.start_space {
            l.start_space = self.start_space;
            l.end_space = self.end_space;
            l.total_spaces = self.end_space - self.start_space + 1;
            l.range_known = true;
        }
        l
    }
}

/// A parked call as a snapshot or an answer carries it (times in Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallData {
    /// Lot.
    pub lot: String,
    /// Space.
    pub space: u32,
    /// Channel.
    pub channel: String,
    /// Unique id.
    pub unique_id: String,
    /// Linked id.
    #[serde(default)]
    pub linked_id: String,
    /// Caller id number.
    #[serde(default)]
    pub caller_id_num: String,
    /// Caller id name.
    #[serde(default)]
    pub caller_id_name: String,
    /// Connected line number.
    #[serde(default)]
    pub connected_line_num: String,
    /// Connected line name.
    #[serde(default)]
    pub connected_line_name: String,
    /// Who parked it.
    #[serde(default)]
    pub parker_dial_string: String,
    /// Total parking time (ms).
    pub timeout_ms: Option<u64>,
    /// When it was parked.
    pub parked_at_ms: u64,
    /// When it times out.
    pub deadline_ms: Option<u64>,
}

impl CallData {
    /// From the store's call.
    pub fn of(c: &ParkedCall) -> Self {
        CallData {
            lot: c.parking_lot.to_string(),
            space: c.parking_space,
            channel: c.channel().into(),
            unique_id: c.unique_id().into(),
            linked_id: c.linked_id().into(),
            caller_id_num: c.caller_id_num().into(),
            caller_id_name: c.caller_id_name().into(),
            connected_line_num: c.connected_line_num().into(),
            connected_line_name: c.connected_line_name().into(),
            parker_dial_string: c.parker_dial_string().into(),
            timeout_ms: c.timeout().map(|d| d.as_millis() as u64),
            parked_at_ms: c.parked_at.as_unix_millis(),
            deadline_ms: c.deadline().map(|t| t.as_unix_millis()),
        }
    }
    /// As the store's call, of server `server_id`.
    pub fn to_call(&self, server_id: ami_parking::ServerId) -> ParkedCall {
        let mut c = ParkedCall::default();
        c.server_id = server_id;
        c.parking_lot = self.lot.as_str().into();
        c.parking_space = self.space;
        c.set_channel(&self.channel);
        c.set_unique_id(&self.unique_id);
        c.set_linked_id(&self.linked_id);
        c.set_caller_id_num(&self.caller_id_num);
        c.set_caller_id_name(&self.caller_id_name);
        c.set_connected_line_num(&self.connected_line_num);
        c.set_connected_line_name(&self.connected_line_name);
        c.set_parker_dial_string(&self.parker_dial_string);
        // The timeout is the span from parked_at to the deadline (`timeout_ms` is
        // that span, sent for readers of the JSON).
        c.parked_at = Timestamp::from_unix_millis(self.parked_at_ms);
        c.set_deadline(self.deadline_ms.map(Timestamp::from_unix_millis));
        c
    }
}

/// One server's whole parking state at sequence number `seq` of epoch `epoch`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// The collector's term.
    pub epoch: u64,
    /// The last change it holds.
    pub seq: u64,
    /// False while the collector is not logged in to Asterisk (the state may be old).
    pub live: bool,
    /// The name of the collector that answered.
    #[serde(default)]
    pub collector: String,
    /// The lots.
    pub lots: Vec<LotData>,
    /// The calls.
    pub calls: Vec<CallData>,
}

impl Snapshot {
    /// As JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    /// From JSON.
    pub fn from_json(body: &[u8]) -> Result<Self, ProtocolError> {
        serde_json::from_slice(body)
            .map_err(|e| ProtocolError::Body { what: "snapshot", reason: e.to_string() })
    }
}

/// One AMI message as an `events` body.
pub fn message_body(m: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_server_message(m, &mut out);
    out
}

/// An `events` body back to its AMI message.
pub fn message_of_body(body: &[u8]) -> Result<Message, ProtocolError> {
    let mut found = None;
    let mut decoder = Decoder::new().without_banner();
    let mut input = body.to_vec();
    if !input.ends_with(b"\r\n\r\n") {
        input.extend_from_slice(b"\r\n\r\n");
    }
    decoder
        .decode(&input, |d| {
            if let (Decoded::Message(raw), None) = (d, &found) {
                found = Some(raw.to_message());
            }
        })
        .map_err(|e| ProtocolError::Body { what: "event", reason: e.to_string() })?;
    found.ok_or(ProtocolError::Body { what: "event", reason: "no AMI message in it".into() })
}

/// How long a parked call may wait, as a request carries it: absent for the lot's
/// time, 0 for never, else milliseconds.
pub fn timeout_ms(t: &ParkTimeout) -> Option<u64> {
    match t {
        ParkTimeout::Lot => None,
        ParkTimeout::Never => Some(0),
        ParkTimeout::After(d) => Some(d.as_millis().max(1) as u64),
    }
}

/// The reverse of [`timeout_ms`].
pub fn park_timeout(ms: Option<u64>) -> ParkTimeout {
    match ms {
        None => ParkTimeout::Lot,
        Some(0) => ParkTimeout::Never,
        Some(ms) => ParkTimeout::After(Duration::from_millis(ms)),
    }
}

/// An action, as a frontend asks the collector for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ActionRequest {
    /// Park `channel`.
    Park {
        /// The channel.
        channel: String,
        /// The lot (default lot when absent).
        lot: Option<String>,
        /// A preferred space.
        space: Option<u32>,
        /// See [`timeout_ms`].
        timeout_ms: Option<u64>,
    },
    /// Retrieve the call of `lot`, `space` to `to_channel`.
    Retrieve {
        /// The lot (default lot when absent).
        lot: Option<String>,
        /// The space.
        space: u32,
        /// Where the call goes.
        to_channel: String,
    },
    /// Move the call of `lot`, `space`.
    Move {
        /// Its lot (default lot when absent).
        lot: Option<String>,
        /// Its space.
        space: u32,
        /// To this lot (default lot when absent).
        to_lot: Option<String>,
        /// Preferably this space.
        to_space: Option<u32>,
        /// See [`timeout_ms`].
        timeout_ms: Option<u64>,
    },
}

/// Who retrieved a call, as an answer carries it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RetrieverData {
    /// Channel.
    pub channel: String,
    /// Caller id number.
    pub caller_id_num: String,
    /// Caller id name.
    pub caller_id_name: String,
    /// Unique id.
    pub unique_id: String,
}

impl RetrieverData {
    /// From the core's.
    pub fn of(r: &Retriever) -> Self {
        RetrieverData {
            channel: r.channel.to_string(),
            caller_id_num: r.caller_id_num.to_string(),
            caller_id_name: r.caller_id_name.to_string(),
            unique_id: r.unique_id.to_string(),
        }
    }
    /// As the core's.
    pub fn to_retriever(&self) -> Retriever {
        Retriever {
            channel: self.channel.as_str().into(),
            caller_id_num: self.caller_id_num.as_str().into(),
            caller_id_name: self.caller_id_name.as_str().into(),
            unique_id: self.unique_id.as_str().into(),
        }
    }
}

/// The collector's answer to an [`ActionRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionReply {
    /// Parked (or moved) there.
    Parked {
        /// Lot.
        lot: String,
        /// Space.
        space: u32,
        /// The call as parked.
        call: Option<CallData>,
    },
    /// Retrieved.
    Retrieved {
        /// Lot.
        lot: String,
        /// Space.
        space: u32,
        /// Who took it.
        retriever: RetrieverData,
    },
    /// Refused or failed: the collector's error text (what failed, what to do).
    Error {
        /// The action.
        action: String,
        /// Why.
        message: String,
    },
}

impl ActionReply {
    /// As JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    /// From JSON.
    pub fn from_json(body: &[u8]) -> Result<Self, ProtocolError> {
        serde_json::from_slice(body)
            .map_err(|e| ProtocolError::Body { what: "action answer", reason: e.to_string() })
    }
}

impl ActionRequest {
    /// As JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    /// From JSON.
    pub fn from_json(body: &[u8]) -> Result<Self, ProtocolError> {
        serde_json::from_slice(body)
            .map_err(|e| ProtocolError::Body { what: "action request", reason: e.to_string() })
    }
}

/// The epoch, sequence number and kind of an `events` message, from its headers.
pub fn stamp(headers: Option<&async_nats::HeaderMap>) -> Result<(u64, u64, Kind), ProtocolError> {
    let h = headers.ok_or(ProtocolError::Header(EPOCH))?;
    let num = |name: &'static str| {
        h.get(name).and_then(|v| v.as_str().parse::<u64>().ok()).ok_or(ProtocolError::Header(name))
    };
    let kind = h.get(KIND).and_then(|v| Kind::parse(v.as_str())).ok_or(ProtocolError::Header(KIND))?;
    Ok((num(EPOCH)?, num(SEQ)?, kind))
}

/// The headers of an `events` message.
pub fn headers(epoch: u64, seq: u64, kind: Kind) -> async_nats::HeaderMap {
    let mut h = async_nats::HeaderMap::new();
    h.insert(EPOCH, epoch.to_string().as_str());
    h.insert(SEQ, seq.to_string().as_str());
    h.insert(KIND, kind.as_str());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lot_range_from_nats_is_taken_only_when_it_is_one() {
        let lot =
            |start, end| LotData { name: "x".into(), start_space: start, end_space: end, timeout_ms: None };
        let l = lot(701, 720).to_lot(1);
        assert_eq!((l.range_known, l.total_spaces), (true, 20));
        // What a forged snapshot may carry: no overflow, no range.
        for (start, end) in [(0, u32::MAX), (720, 701), (0, 0)] {
            let l = lot(start, end).to_lot(1);
            assert_eq!((l.range_known, l.total_spaces), (false, 0), "{start}-{end}");
        }
        assert_eq!(lot(1, u32::MAX).to_lot(1).total_spaces, u32::MAX);
    }

    #[test]
    fn a_call_survives_the_trip() {
        let mut c = ParkedCall::default();
        c.parking_lot = "sales".into();
        c.parking_space = 702;
        c.set_channel("PJSIP/100-1");
        c.set_unique_id("17.3");
        c.set_caller_id_name("Ünïcode \"x\"");
        c.parked_at = Timestamp::from_unix_millis(1_000);
        c.set_deadline(Some(Timestamp::from_unix_millis(46_000)));
        let back = CallData::of(&c).to_call(0);
        assert_eq!(CallData::of(&back), CallData::of(&c));
    }

    #[test]
    fn an_event_body_decodes_to_its_message_and_garbage_is_an_error() {
        let m = Message::from_pairs([("Event", "ParkedCall"), ("ParkingSpace", "701")]);
        assert_eq!(message_of_body(&message_body(&m)).unwrap().get_str("ParkingSpace").unwrap(), "701");
        assert!(message_of_body(b"").is_err());
        assert!(Snapshot::from_json(b"{").is_err());
        assert!(ActionRequest::from_json(b"{\"op\":\"explode\"}").is_err());
        assert!(stamp(None).is_err());
    }

    #[test]
    fn no_lot_token_is_the_control_token() {
        for lot in ["_ctl", "ctl", "_", "", "a.b", "é"] {
            let t = lot_token(lot);
            assert_ne!(t, CONTROL_TOKEN);
            assert!(!t.is_empty() && !t.contains(['.', '*', '>', ' ']), "{t}");
        }
    }
}
