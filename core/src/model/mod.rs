//! The parking data model: lots, parked calls, retrievers, and how AMI messages map to them.

pub mod display;
pub(crate) mod event;

pub use event::{ParkingEvent, ResyncChange};
use crate::time::Timestamp;
pub use compact_str::CompactString;
use std::sync::Arc;
use std::time::Duration;

/// Identifies one Asterisk server: 1 for a single TCP connection (or the number the
/// caller chose), amiws's `server_id` behind amiws.
pub type ServerId = u32;

/// Default near-timeout threshold: 30 s.
pub const DEFAULT_NEAR_TIMEOUT: Duration = Duration::from_secs(30);

/// A `ParkingTimeout` at or above this many seconds means "no timeout" (Asterisk sends
/// values near 2^64 when a call has no limit or is overdue).
pub const NO_TIMEOUT_THRESHOLD_SECS: u64 = 1 << 32;

/// Key of a parking lot in the store: server and lot name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct LotKey {
    /// The server the lot lives on.
    pub server_id: ServerId,
    /// The lot's name, e.g. `default`.
    pub name: Arc<str>,
}

impl LotKey {
    /// A key for lot `name` on `server_id`.
    pub fn new(server_id: ServerId, name: impl Into<Arc<str>>) -> Self {
        Self { server_id, name: name.into() }
    }
}

/// A parking lot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ParkingLot {
    /// The lot's name.
    pub name: Arc<str>,
    /// First space (0 until `Parkinglots` has been read for a lot first seen in an event).
    pub start_space: u32,
    /// Last space.
    pub end_space: u32,
    /// Number of spaces (`end - start + 1`; 0 while the range is unknown).
    pub total_spaces: u32,
    /// The lot's parking time (`None`: no limit, or not known yet).
    pub timeout: Option<Duration>,
    /// The server the lot lives on.
    pub server_id: ServerId,
    /// Spaces occupied now, kept live by the store.
    pub occupied: u32,
    /// True once the range came from a `Parkinglots` answer.
    pub range_known: bool,
}

impl ParkingLot {
    /// A lot seen only in an event: range unknown.
    pub fn unknown_range(server_id: ServerId, name: Arc<str>) -> Self {
        Self {
            name,
            start_space: 0,
            end_space: 0,
            total_spaces: 0,
            timeout: None,
            server_id,
            occupied: 0,
            range_known: false,
        }
    }

    /// Free spaces (0 while the range is unknown).
    pub fn free(&self) -> u32 {
        self.total_spaces.saturating_sub(self.occupied)
    }
}

/// A call waiting in a parking space.
///
/// Times are facts from the wire: `parked_at` and `deadline` are fixed when the call
/// is first seen; `duration`, `timeout_remaining` and `is_near_timeout` are functions
/// of a `now` you pass, so a ticking clock signal in a UI gives live countdowns.
///
/// ```
/// use ami_parking::{ParkedCall, Timestamp};
/// use std::time::Duration;
/// let mut call = ParkedCall::default();
/// call.parked_at = Timestamp::from_unix_millis(10_000);
/// call.deadline = Some(Timestamp::from_unix_millis(55_000));
/// let now = Timestamp::from_unix_millis(40_000);
/// assert_eq!(call.duration(now), Duration::from_secs(30));
/// assert_eq!(call.timeout_remaining(now), Some(Duration::from_secs(15)));
/// assert!(call.is_near_timeout(now));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ParkedCall {
    /// The space, e.g. 701.
    pub parking_space: u32,
    /// The lot's name (from `Parkinglot`).
    pub parking_lot: Arc<str>,
    /// The parked channel (`ParkeeChannel`).
    pub channel: CompactString,
    /// `ParkeeUniqueid`.
    pub unique_id: CompactString,
    /// `ParkeeLinkedid`.
    pub linked_id: CompactString,
    /// `ParkeeCallerIDNum` (`<unknown>` when Asterisk has none).
    pub caller_id_num: CompactString,
    /// `ParkeeCallerIDName`, C-escaping undone.
    pub caller_id_name: CompactString,
    /// `ParkeeConnectedLineNum`.
    pub connected_line_num: CompactString,
    /// `ParkeeConnectedLineName`, C-escaping undone.
    pub connected_line_name: CompactString,
    /// `ParkerDialString`: who parked it, as a dial string.
    pub parker_dial_string: CompactString,
    /// Total parking time for this call: remaining + elapsed at the event (`None`: no limit).
    pub timeout: Option<Duration>,
    /// When the call was parked (caller's clock minus Asterisk's `ParkingDuration`).
    pub parked_at: Timestamp,
    /// When Asterisk will time the call out (`None`: no limit).
    pub deadline: Option<Timestamp>,
    /// The server the call is parked on.
    pub server_id: ServerId,
    /// Threshold for [`ParkedCall::is_near_timeout`] (the store's option, 30 s by default).
    pub near_timeout_threshold: Duration,
}

impl Default for ParkedCall {
    fn default() -> Self {
        Self {
            parking_space: 0,
            parking_lot: Arc::from("default"),
            channel: CompactString::default(),
            unique_id: CompactString::default(),
            linked_id: CompactString::default(),
            caller_id_num: CompactString::default(),
            caller_id_name: CompactString::default(),
            connected_line_num: CompactString::default(),
            connected_line_name: CompactString::default(),
            parker_dial_string: CompactString::default(),
            timeout: None,
            parked_at: Timestamp::ZERO,
            deadline: None,
            server_id: 1,
            near_timeout_threshold: DEFAULT_NEAR_TIMEOUT,
        }
    }
}

impl ParkedCall {
    /// How long the call has been parked at `now`.
    pub fn duration(&self, now: Timestamp) -> Duration {
        now.saturating_duration_since(self.parked_at)
    }

    /// Time left before Asterisk times the call out; zero when overdue; `None` when the
    /// call has no timeout.
    pub fn timeout_remaining(&self, now: Timestamp) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(now))
    }

    /// True when the call has a timeout and less than the threshold is left.
    pub fn is_near_timeout(&self, now: Timestamp) -> bool {
        self.timeout_remaining(now).is_some_and(|r| r < self.near_timeout_threshold)
    }

    /// Who parked the call, as far as Asterisk's events say: the parkee's connected
    /// line when it names another party (a call parked from a bridge, as wazo-calld
    /// reads it), else the resource of a phone's `ParkerDialString` (`PJSIP/1002` gives
    /// `1002`). `None` when neither names anyone: a call that parked itself through
    /// the dialplan has itself as connected line and a `Local/...` dial string.
    ///
    /// ```
    /// use ami_parking::ParkedCall;
    /// let mut c = ParkedCall::default();
    /// c.caller_id_num = "5551001".into();
    /// c.parker_dial_string = "PJSIP/1002".into();
    /// assert_eq!(c.parked_by(), Some("1002"));
    /// c.connected_line_num = "5551001".into(); // itself
    /// assert_eq!(c.parked_by(), Some("1002"));
    /// c.connected_line_num = "1003".into();
    /// assert_eq!(c.parked_by(), Some("1003"));
    /// c.connected_line_num = "5551001".into();
    /// c.parker_dial_string = "Local/s@hold".into();
    /// assert_eq!(c.parked_by(), None);
    /// ```
    pub fn parked_by(&self) -> Option<&str> {
        let known = |s: &str| !s.is_empty() && s != "<unknown>";
        if known(&self.connected_line_num) && self.connected_line_num != self.caller_id_num {
            return Some(&self.connected_line_num);
        }
        let (tech, resource) = self.parker_dial_string.split_once('/')?;
        let resource = resource.split(['@', '/', ',']).next().unwrap_or("");
        (!tech.eq_ignore_ascii_case("Local") && known(resource)).then_some(resource)
    }

    /// The lot key of this call.
    pub fn lot_key(&self) -> LotKey {
        LotKey { server_id: self.server_id, name: self.parking_lot.clone() }
    }

    /// Orders calls by (server, lot, space), the order of the store's vec.
    pub fn sort_key(&self) -> (ServerId, &str, u32) {
        (self.server_id, &self.parking_lot, self.parking_space)
    }

    /// True when `other` is the same call: same server and unique id. A message
    /// without a unique id (Asterisk 11) matches any call.
    pub fn same_call(&self, other: &ParkedCall) -> bool {
        self.server_id == other.server_id
            && (self.unique_id.is_empty() || other.unique_id.is_empty() || self.unique_id == other.unique_id)
    }

    /// True when `other` describes the same call in the same place (same unique id,
    /// lot and space): a refresh of it is not a new parking.
    pub fn same_parking(&self, other: &ParkedCall) -> bool {
        self.server_id == other.server_id
            && self.parking_space == other.parking_space
            && self.parking_lot == other.parking_lot
            && self.unique_id == other.unique_id
            && self.channel == other.channel
    }

    /// `fresher`, a later report of this call, with this call's first-seen times when
    /// they agree within a second (Asterisk reports whole seconds: the first sighting
    /// is the precise one). Times further apart mean Asterisk restarted the call's
    /// clock (it was parked again): the fresher ones stand.
    pub fn with_first_seen_times(&self, fresher: ParkedCall) -> ParkedCall {
        let close = |a: Timestamp, b: Timestamp| {
            a.max(b).saturating_duration_since(a.min(b)) <= Duration::from_millis(1500)
        };
        let same_clock = close(self.parked_at, fresher.parked_at)
            && match (self.deadline, fresher.deadline) {
                (Some(a), Some(b)) => close(a, b),
                (None, None) => true,
                _ => false,
            };
        if same_clock {
            ParkedCall {
                parked_at: self.parked_at,
                deadline: self.deadline,
                timeout: self.timeout,
                ..fresher
            }
        } else {
            fresher
        }
    }

    /// Bytes this call holds on the heap (strings longer than 24 bytes; shorter ones
    /// live inline), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        [
            &self.channel,
            &self.unique_id,
            &self.linked_id,
            &self.caller_id_num,
            &self.caller_id_name,
            &self.connected_line_num,
            &self.connected_line_name,
            &self.parker_dial_string,
        ]
        .iter()
        .map(|s| if s.is_heap_allocated() { s.capacity() } else { 0 })
        .sum()
    }
}

/// Who retrieved a call (`Retriever*` block; Asterisk 11: `From`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Retriever {
    /// The retrieving channel.
    pub channel: CompactString,
    /// Its caller id number.
    pub caller_id_num: CompactString,
    /// Its caller id name, C-escaping undone.
    pub caller_id_name: CompactString,
    /// Its unique id.
    pub unique_id: CompactString,
}
