//! The parking data model: lots, parked calls, retrievers, and how AMI messages map to them.

pub mod display;
pub(crate) mod event;
mod sort;

use crate::time::Timestamp;
pub use compact_str::CompactString;
pub use event::{Events, EventsIntoIter, ParkingEvent, ResyncChange};
use std::fmt;
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
/// Times are facts from the wire: `parked_at` and the timeout (and so the deadline,
/// `parked_at` plus the timeout) are taken when the call is first seen and kept while
/// later reports agree with them (a re-park restarts them); `duration`,
/// `timeout_remaining` and `is_near_timeout` are functions of a `now` you pass, so a
/// ticking clock signal in a UI gives live countdowns. The deadline is derived:
/// writing `parked_at` moves it.
///
/// The eight text fields (channel, ids, caller and connected line, parker) live
/// packed in one buffer, read through accessors ([`ParkedCall::channel`], ...) and
/// written through setters ([`ParkedCall::set_channel`], ...): a call costs two
/// allocations whatever its text.
///
/// ```
/// use ami_parking::{ParkedCall, Timestamp};
/// use std::time::Duration;
/// let mut call = ParkedCall::default();
/// call.parked_at = Timestamp::from_unix_millis(10_000);
/// call.set_deadline(Some(Timestamp::from_unix_millis(55_000)));
/// call.set_channel("PJSIP/100-1");
/// let now = Timestamp::from_unix_millis(40_000);
/// assert_eq!(call.duration(now), Duration::from_secs(30));
/// assert_eq!(call.timeout_remaining(now), Some(Duration::from_secs(15)));
/// assert!(call.is_near_timeout(now));
/// assert_eq!(call.channel(), "PJSIP/100-1");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ParkedCall {
    /// The space, e.g. 701.
    pub parking_space: u32,
    /// The server the call is parked on.
    pub server_id: ServerId,
    /// The lot's name (from `Parkinglot`).
    pub parking_lot: Arc<str>,
    /// Channel, ids, caller and connected line, parker: packed.
    text: Text,
    /// Threshold for [`ParkedCall::is_near_timeout`], in milliseconds (the store's
    /// option, 30 s by default).
    threshold_ms: u32,
    /// When the call was parked (caller's clock minus Asterisk's `ParkingDuration`;
    /// later when parked time plus time left exceed the longest timeout kept, about
    /// 49.7 days: see [`ParkedCall::timeout`]).
    pub parked_at: Timestamp,
    /// Total parking time in milliseconds, at most `u32::MAX - 1` (about 49.7 days);
    /// [`NO_TIMEOUT`]: no limit
    /// (read through [`ParkedCall::timeout`]; the deadline is `parked_at` plus it).
    timeout_ms: u32,
}

/// `timeout_ms` of a call without a timeout.
const NO_TIMEOUT: u32 = u32::MAX;

/// The longest timeout a call keeps (49 days and 17 hours).
pub(crate) const LONGEST_TIMEOUT: Duration = Duration::from_millis(NO_TIMEOUT as u64 - 1);

/// The text fields of a call, in the order of [`Text`]'s ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Field {
    Channel,
    UniqueId,
    LinkedId,
    CallerIdNum,
    CallerIdName,
    ConnectedLineNum,
    ConnectedLineName,
    ParkerDialString,
}

/// Number of text fields.
pub(crate) const TEXT_FIELDS: usize = 8;

/// The longest value a text field keeps (longer ones are cut at a character
/// boundary): eight of them fit the `u16` offsets. Asterisk's own limits are far
/// below (80 bytes for a channel name, 150 for a unique id).
pub(crate) const MAX_FIELD_BYTES: usize = 8 * 1024 - 1;

/// Eight strings in one buffer: field `i` is `buf[ends[i - 1]..ends[i]]`.
#[derive(Clone, PartialEq, Eq, Default)]
pub(crate) struct Text {
    buf: Box<str>,
    ends: [u16; TEXT_FIELDS],
}

impl Text {
    /// Packs `fields` (each cut to [`MAX_FIELD_BYTES`]).
    pub(crate) fn pack<'a>(fields: impl IntoIterator<Item = &'a str>) -> Self {
        let mut b = TextBuilder::with_capacity(64);
        for f in fields {
            b.push(f);
        }
        b.finish()
    }

    /// A packed text from a buffer and its ends; `None` unless every end is a
    /// character boundary, in order.
    pub(crate) fn from_parts(buf: String, ends: [u16; TEXT_FIELDS]) -> Option<Self> {
        let ok = ends.windows(2).all(|w| w[0] <= w[1])
            && ends.iter().all(|&e| buf.is_char_boundary(e as usize))
            && ends[TEXT_FIELDS - 1] as usize == buf.len();
        ok.then(|| Text { buf: buf.into_boxed_str(), ends })
    }

    fn get(&self, f: Field) -> &str {
        self.field(f as usize)
    }

    /// The text of the `i`th field.
    fn field(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        // Ends are character boundaries by construction; `get` says so without
        // indexing's panic path (its message formats a `char` with `Debug`, and
        // brings Unicode tables into a browser build).
        self.buf.get(start..self.ends[i] as usize).unwrap_or_default()
    }

    fn set(&mut self, f: Field, value: &str) {
        let all: [&str; TEXT_FIELDS] =
            std::array::from_fn(|i| if i == f as usize { value } else { self.field(i) });
        *self = Text::pack(all);
    }

    fn heap_bytes(&self) -> usize {
        self.buf.len()
    }
}

/// Builds a [`Text`] field by field.
pub(crate) struct TextBuilder {
    buf: String,
    ends: [u16; TEXT_FIELDS],
    n: usize,
}

impl TextBuilder {
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Self { buf: String::with_capacity(bytes), ends: [0; TEXT_FIELDS], n: 0 }
    }

    /// Appends the next field (cut to [`MAX_FIELD_BYTES`]).
    pub(crate) fn push(&mut self, v: &str) {
        // The last character boundary at or before the limit (0 always is one).
        let max = v.len().min(MAX_FIELD_BYTES);
        let cut = (0..=max).rev().find(|&i| v.is_char_boundary(i)).unwrap_or(0);
        self.buf.push_str(v.get(..cut).unwrap_or_default());
        // A field past the last is kept in the text of the last one.
        if let Some(end) = self.ends.get_mut(self.n) {
            *end = self.buf.len() as u16;
            self.n += 1;
        }
    }

    pub(crate) fn finish(mut self) -> Text {
        let end = self.buf.len() as u16;
        for e in &mut self.ends[self.n..] {
            *e = end;
        }
        Text { buf: self.buf.into_boxed_str(), ends: self.ends }
    }
}

/// `d` in milliseconds, at most `u32::MAX` (about 49.7 days).
fn threshold_ms(d: Duration) -> u32 {
    d.as_millis().min(u128::from(u32::MAX)) as u32
}

impl Default for ParkedCall {
    fn default() -> Self {
        Self {
            parking_space: 0,
            server_id: 1,
            parking_lot: Arc::from("default"),
            text: Text::default(),
            threshold_ms: threshold_ms(DEFAULT_NEAR_TIMEOUT),
            parked_at: Timestamp::ZERO,
            timeout_ms: NO_TIMEOUT,
        }
    }
}

impl fmt::Debug for ParkedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkedCall")
            .field("parking_space", &self.parking_space)
            .field("parking_lot", &self.parking_lot)
            .field("channel", &self.channel())
            .field("unique_id", &self.unique_id())
            .field("linked_id", &self.linked_id())
            .field("caller_id_num", &self.caller_id_num())
            .field("caller_id_name", &self.caller_id_name())
            .field("connected_line_num", &self.connected_line_num())
            .field("connected_line_name", &self.connected_line_name())
            .field("parker_dial_string", &self.parker_dial_string())
            .field("timeout", &self.timeout())
            .field("parked_at", &self.parked_at)
            .field("deadline", &self.deadline())
            .field("server_id", &self.server_id)
            .field("near_timeout_threshold", &self.near_timeout_threshold())
            .finish()
    }
}

/// The same JSON as when the text fields were plain fields.
impl serde::Serialize for ParkedCall {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ParkedCall", 15)?;
        st.serialize_field("parking_space", &self.parking_space)?;
        st.serialize_field("parking_lot", &self.parking_lot)?;
        st.serialize_field("channel", self.channel())?;
        st.serialize_field("unique_id", self.unique_id())?;
        st.serialize_field("linked_id", self.linked_id())?;
        st.serialize_field("caller_id_num", self.caller_id_num())?;
        st.serialize_field("caller_id_name", self.caller_id_name())?;
        st.serialize_field("connected_line_num", self.connected_line_num())?;
        st.serialize_field("connected_line_name", self.connected_line_name())?;
        st.serialize_field("parker_dial_string", self.parker_dial_string())?;
        st.serialize_field("timeout", &self.timeout())?;
        st.serialize_field("parked_at", &self.parked_at)?;
        st.serialize_field("deadline", &self.deadline())?;
        st.serialize_field("server_id", &self.server_id)?;
        st.serialize_field("near_timeout_threshold", &self.near_timeout_threshold())?;
        st.end()
    }
}

/// Sorts shared calls by `cmp`, stably. Every sort of calls goes through here, so a
/// build holds one copy of the sort's code (a browser downloads each copy): the
/// crate's own ([`sort::sort_stable`]).
pub(crate) fn sort_calls(
    calls: &mut [Arc<ParkedCall>],
    cmp: fn(&ParkedCall, &ParkedCall) -> std::cmp::Ordering,
) {
    sort::sort_stable(calls, |a, b| cmp(a, b).is_lt());
}

macro_rules! text_fields {
    ($($get:ident, $set:ident, $field:ident, $doc:literal;)*) => {
        impl ParkedCall {
            $(
                #[doc = $doc]
                pub fn $get(&self) -> &str {
                    self.text.get(Field::$field)
                }

                #[doc = concat!("Sets [`ParkedCall::", stringify!($get), "`] (a value longer than 8 KiB is cut).")]
                pub fn $set(&mut self, value: impl AsRef<str>) {
                    self.text.set(Field::$field, value.as_ref());
                }
            )*
        }
    };
}

text_fields! {
    channel, set_channel, Channel, "The parked channel (`ParkeeChannel`).";
    unique_id, set_unique_id, UniqueId, "`ParkeeUniqueid`.";
    linked_id, set_linked_id, LinkedId, "`ParkeeLinkedid`.";
    caller_id_num, set_caller_id_num, CallerIdNum, "`ParkeeCallerIDNum` (`<unknown>` when Asterisk has none).";
    caller_id_name, set_caller_id_name, CallerIdName, "`ParkeeCallerIDName`, C-escaping undone.";
    connected_line_num, set_connected_line_num, ConnectedLineNum, "`ParkeeConnectedLineNum`.";
    connected_line_name, set_connected_line_name, ConnectedLineName, "`ParkeeConnectedLineName`, C-escaping undone.";
    parker_dial_string, set_parker_dial_string, ParkerDialString, "`ParkerDialString`: who parked it, as a dial string.";
}

impl ParkedCall {
    /// A call with these packed text fields and the default threshold (the parsers').
    pub(crate) fn with_text(
        parking_space: u32,
        server_id: ServerId,
        parking_lot: Arc<str>,
        text: Text,
    ) -> Self {
        Self {
            parking_space,
            server_id,
            parking_lot,
            text,
            threshold_ms: threshold_ms(DEFAULT_NEAR_TIMEOUT),
            parked_at: Timestamp::ZERO,
            timeout_ms: NO_TIMEOUT,
        }
    }

    /// Threshold for [`ParkedCall::is_near_timeout`] (the store's option, 30 s by
    /// default; kept to the millisecond, at most about 49.7 days).
    pub fn near_timeout_threshold(&self) -> Duration {
        Duration::from_millis(u64::from(self.threshold_ms))
    }

    /// Sets [`ParkedCall::near_timeout_threshold`] (the store sets its option's).
    pub fn set_near_timeout_threshold(&mut self, threshold: Duration) {
        self.threshold_ms = threshold_ms(threshold);
    }

    /// Total parking time of this call (`None`: no limit): Asterisk's remaining time
    /// plus the time already parked when the call was first seen. Kept to the
    /// millisecond, at most `u32::MAX - 1` ms (about 49.7 days); a longer one is cut
    /// to that. When a call read from the wire has parked time plus time left over
    /// that limit, the parked time gives way first: `parked_at` is moved later (and
    /// [`ParkedCall::duration`] reads short) so the deadline stays now plus what
    /// Asterisk says is left; only a time left itself over the limit is cut.
    ///
    /// ```
    /// use ami_parking::{ParkedCall, Timestamp};
    /// use std::time::Duration;
    /// let mut call = ParkedCall::default();
    /// call.parked_at = Timestamp::from_unix_millis(10_000);
    /// call.set_timeout(Some(Duration::from_secs(45)));
    /// assert_eq!(call.deadline(), Some(Timestamp::from_unix_millis(55_000)));
    /// call.set_deadline(Some(Timestamp::from_unix_millis(40_000)));
    /// assert_eq!(call.timeout(), Some(Duration::from_secs(30)));
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        (self.timeout_ms != NO_TIMEOUT).then(|| Duration::from_millis(u64::from(self.timeout_ms)))
    }

    /// Sets [`ParkedCall::timeout`] (and with it the deadline, `parked_at` plus it).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout_ms = timeout.map_or(NO_TIMEOUT, |t| t.min(LONGEST_TIMEOUT).as_millis() as u32);
    }

    /// When Asterisk will time the call out (`None`: no limit):
    /// [`parked_at`](ParkedCall::parked_at) plus [`timeout`](ParkedCall::timeout), both
    /// from the call's first sighting (see [`ParkedCall::with_first_seen_times`]);
    /// derived, so writing `parked_at` moves it.
    pub fn deadline(&self) -> Option<Timestamp> {
        self.timeout().map(|t| self.parked_at + t)
    }

    /// Sets [`ParkedCall::deadline`]: the timeout becomes the span from `parked_at`
    /// (set it first) to `deadline` (zero when the deadline is before it: the deadline
    /// is then `parked_at`; at most about 49.7 days).
    pub fn set_deadline(&mut self, deadline: Option<Timestamp>) {
        self.set_timeout(deadline.map(|d| d.saturating_duration_since(self.parked_at)));
    }

    /// How long the call has been parked at `now`.
    pub fn duration(&self, now: Timestamp) -> Duration {
        now.saturating_duration_since(self.parked_at)
    }

    /// Time left before Asterisk times the call out; zero when overdue; `None` when the
    /// call has no timeout.
    pub fn timeout_remaining(&self, now: Timestamp) -> Option<Duration> {
        self.deadline().map(|d| d.saturating_duration_since(now))
    }

    /// True when the call has a timeout and less than the threshold is left.
    pub fn is_near_timeout(&self, now: Timestamp) -> bool {
        self.timeout_remaining(now).is_some_and(|r| r < self.near_timeout_threshold())
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
    /// c.set_caller_id_num("5551001");
    /// c.set_parker_dial_string("PJSIP/1002");
    /// assert_eq!(c.parked_by(), Some("1002"));
    /// c.set_connected_line_num("5551001"); // itself
    /// assert_eq!(c.parked_by(), Some("1002"));
    /// c.set_connected_line_num("1003");
    /// assert_eq!(c.parked_by(), Some("1003"));
    /// c.set_connected_line_num("5551001");
    /// c.set_parker_dial_string("Local/s@hold");
    /// assert_eq!(c.parked_by(), None);
    /// ```
    pub fn parked_by(&self) -> Option<&str> {
        let known = |s: &str| !s.is_empty() && s != "<unknown>";
        let cl = self.connected_line_num();
        if known(cl) && cl != self.caller_id_num() {
            return Some(cl);
        }
        let (tech, resource) = self.parker_dial_string().split_once('/')?;
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
        let (a, b) = (self.unique_id(), other.unique_id());
        self.server_id == other.server_id && (a.is_empty() || b.is_empty() || a == b)
    }

    /// True when `other` describes the same call in the same place (same unique id,
    /// lot and space): a refresh of it is not a new parking.
    pub fn same_parking(&self, other: &ParkedCall) -> bool {
        self.server_id == other.server_id
            && self.parking_space == other.parking_space
            && self.parking_lot == other.parking_lot
            && self.unique_id() == other.unique_id()
            && self.channel() == other.channel()
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
            && match (self.deadline(), fresher.deadline()) {
                (Some(a), Some(b)) => close(a, b),
                (None, None) => true,
                _ => false,
            };
        if same_clock {
            fresher.with_times_of(self)
        } else {
            fresher
        }
    }

    /// This call with `other`'s times (parked at, deadline, and so timeout).
    pub(crate) fn with_times_of(mut self, other: &ParkedCall) -> ParkedCall {
        self.parked_at = other.parked_at;
        self.timeout_ms = other.timeout_ms;
        self
    }

    /// Bytes this call holds on the heap (its packed text), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.text.heap_bytes()
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

/// One channel of a `Status` list item: what [`crate::ParkingClient::park_caller_of`]
/// reads to find a phone's call and the caller bridged with it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ChannelStatus {
    /// The channel's name (`PJSIP/1001-00000001`).
    pub channel: CompactString,
    /// Its state as Asterisk words it (`Up`, `Ringing`, `Ring`, ...).
    pub state: CompactString,
    /// The bridge it is in (`BridgeID`; empty when it is in none).
    pub bridge_id: CompactString,
    /// Its caller id number.
    pub caller_id_num: CompactString,
    /// Its caller id name, C-escaping undone.
    pub caller_id_name: CompactString,
}

impl ChannelStatus {
    /// True when the channel is in a bridge.
    pub fn is_bridged(&self) -> bool {
        !self.bridge_id.is_empty()
    }

    /// True when the channel belongs to `phone` (`PJSIP/1001` owns
    /// `PJSIP/1001-00000001`; a Local channel's halves `...;1` and `...;2` alike).
    ///
    /// ```
    /// use ami_parking::ChannelStatus;
    /// let c = ChannelStatus { channel: "PJSIP/1001-0000000a".into(), ..Default::default() };
    /// assert!(c.belongs_to("PJSIP/1001"));
    /// assert!(!c.belongs_to("PJSIP/100"));
    /// ```
    pub fn belongs_to(&self, phone: &str) -> bool {
        self.channel.strip_prefix(phone).is_some_and(|rest| rest.starts_with('-') && rest.len() > 1)
    }
}
