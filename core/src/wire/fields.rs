//! The parking blocks of Asterisk's messages read into the model: the parkee block
//! of a parking event or `ParkedCall` list item, the retriever block of an
//! `UnParkedCall`, a `Parkinglot` list item. Asterisk 12+ names and Asterisk 11 names
//! map to the same fields.

use crate::model::{
    ChannelStatus, CompactString, ParkedCall, ParkingLot, Retriever, ServerId, Text, TextBuilder,
    LONGEST_TIMEOUT, MAX_FIELD_BYTES, NO_TIMEOUT_THRESHOLD_SECS, TEXT_FIELDS,
};
use crate::time::Timestamp;
use crate::wire::escape::unescape_c;
use crate::wire::field_names::*;
pub(crate) use crate::wire::field_names::{F_ACTION_ID, F_EVENT};
use crate::wire::message::Message;
use std::sync::Arc;
use std::time::Duration;

impl ParkingLot {
    /// Reads a `Parkinglot` list item (`Name`, `StartSpace`, `StopSpace`, `Timeout`;
    /// Asterisk 11: `StartExten`, `StopExten`).
    pub fn from_message(server_id: ServerId, m: &Message) -> Option<Self> {
        let name: Arc<str> = m.get_str("Name")?.as_ref().into();
        // A bound that does not fit a u32 leaves the range unknown (never truncated).
        let bound = |keys: &[&str]| num(m, keys).and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        let start = bound(&["StartSpace", "StartExten"]);
        let end = bound(&["StopSpace", "StopExten", "EndSpace"]);
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
    /// assert_eq!((c.parking_space, &*c.parking_lot, c.caller_id_name()), (701, "default", r#"Say "hi""#));
    /// assert_eq!(c.timeout(), Some(std::time::Duration::from_secs(45)));
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
        Self::from_fields(server_id, &scan(headers), now, &NO_NAMES)
    }

    /// The call a scanned block describes (its lot `default` when it names none), its
    /// lot's name taken from `names` when they know it.
    pub(crate) fn from_fields(
        server_id: ServerId,
        f: &Fields<'_>,
        now: Timestamp,
        names: &LotNames<'_>,
    ) -> Option<Self> {
        call_of(server_id, f, lot_name(f, names), now)
    }
}

/// Lot names already held (the store's), by their bytes: a call of a known lot
/// shares its name instead of allocating one per message.
pub(crate) type LotNames<'n> = dyn Fn(&[u8]) -> Option<Arc<str>> + 'n;

/// No names known: each call allocates its lot's.
pub(crate) static NO_NAMES: fn(&[u8]) -> Option<Arc<str>> = |_| None;

/// The lot's name of a scanned block (`default` when it names none), shared when
/// `names` knows it.
pub(crate) fn lot_name(f: &Fields<'_>, names: &LotNames<'_>) -> Arc<str> {
    let bytes = lot_of(f);
    names(bytes).unwrap_or_else(|| String::from_utf8_lossy(bytes).as_ref().into())
}

/// The parkee block's values, by field, from one pass over the headers.
pub(crate) type Fields<'a> = [Option<&'a [u8]>; FIELDS];

/// No field read yet.
pub(crate) const NONE: Fields<'static> = [None; FIELDS];

/// Reads the parkee block's values in one pass; for each field the first of its
/// names wins.
pub(crate) fn scan<'a>(headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Fields<'a> {
    let mut f: Fields<'a> = [None; FIELDS];
    for (k, v) in headers {
        keep_first(&mut f, k, v);
    }
    f
}

/// Keeps `v` as the value of the field `k` names, unless that field has one already.
#[inline(always)]
fn keep_first<'a>(f: &mut Fields<'a>, k: &[u8], v: &'a [u8]) {
    if let Some(slot) = field_index(k).and_then(|i| f.get_mut(i)) {
        if slot.is_none() {
            *slot = Some(v);
        }
    }
}

/// [`scan`] of a [`Message`]: its headers walked in one loop (no iterator's `next`
/// out of line a header). It fills `f` (given as [`NONE`]): the caller's fields are
/// written in place, not built and copied (480 bytes). With the short keys' loads
/// (`field_names::words`) it took a live event from 3,911 to 3,769 instructions
/// (callgrind, `apply_profile 10000`).
pub(crate) fn scan_message<'a>(m: &'a Message, f: &mut Fields<'a>) {
    let (mut rest, lengths) = m.parts();
    for &(k, v) in lengths {
        let (k, v) = (k as usize, v as usize);
        // The lengths always fit the bytes (`Message::push`); a slip ends the walk.
        let (Some(key), Some(value)) = (rest.get(..k), rest.get(k..k + v)) else {
            break;
        };
        rest = &rest[k + v..];
        keep_first(f, key, value);
    }
}

/// The retriever block of a scanned `UnParkedCall` (Asterisk 11: `From`).
pub(crate) fn retriever_of(f: &Fields<'_>) -> Retriever {
    Retriever {
        channel: text(f[F_R_CHANNEL].or(f[F_FROM11])),
        caller_id_num: text(f[F_R_CID_NUM]),
        caller_id_name: unescaped(text(f[F_R_CID_NAME])),
        unique_id: text(f[F_R_UID]),
    }
}

/// The lot a scanned block names (`default` when it names none, or an empty one).
pub(crate) fn lot_of<'a>(f: &Fields<'a>) -> &'a [u8] {
    f[F_LOT].filter(|l| !l.is_empty()).unwrap_or(b"default")
}

/// The space a scanned block names (`None`: none, or one that does not fit a u32).
pub(crate) fn space_of(f: &Fields<'_>) -> Option<u32> {
    // A space that does not fit a u32 is not a space (no truncation to another one).
    u32::try_from(f[F_SPACE].or(f[F_EXTEN]).and_then(parse_u64)?).ok()
}

/// The parkee's unique id a scanned block names, as bytes (empty when none).
pub(crate) fn unique_id_of<'a>(f: &Fields<'a>) -> &'a [u8] {
    f[F_UID].or(f[F_UID11]).unwrap_or_default()
}

/// The call a scanned block describes, in lot `lot`; `None` when it names no space.
pub(crate) fn call_of(
    server_id: ServerId,
    f: &Fields<'_>,
    lot: Arc<str>,
    now: Timestamp,
) -> Option<ParkedCall> {
    // Asterisk 12+ names before Asterisk 11 ones.
    let pick = |modern: usize, legacy: usize| f[modern].or(f[legacy]);
    let number = |v: Option<&[u8]>| v.and_then(parse_u64);
    let space = space_of(f)?;
    let remaining = number(pick(F_TIMEOUT, F_TIMEOUT11));
    // Asterisk sends a duration near 2^64 when its clock stepped back (a negative
    // duration, wrapped): the call was parked just now.
    let elapsed_secs =
        number(pick(F_DURATION, F_DURATION11)).filter(|&d| d < NO_TIMEOUT_THRESHOLD_SECS).unwrap_or(0);
    let elapsed = Duration::from_secs(elapsed_secs);
    // No timeout: near 2^64 in lists and leaves; 0 in the live park of a call parked
    // just now (a `Park` with `Timeout: 0`).
    let remaining = remaining
        .filter(|&r| r < NO_TIMEOUT_THRESHOLD_SECS && !(r == 0 && elapsed_secs == 0))
        .map(|r| Duration::from_secs(r).min(LONGEST_TIMEOUT));
    // A call keeps a timeout of at most about 49.7 days: a longer one gives up time
    // already parked first, so the deadline Asterisk means (now plus what is left) stays.
    let elapsed = remaining.map_or(elapsed, |r| elapsed.min(LONGEST_TIMEOUT - r));
    let values: [&[u8]; TEXT_FIELDS] = [
        pick(F_CHANNEL, F_CHANNEL11),
        Some(unique_id_of(f)),
        pick(F_LINKED, F_LINKED11),
        pick(F_CID_NUM, F_CID_NUM11).or(f[F_CID11]),
        pick(F_CID_NAME, F_CID_NAME11),
        pick(F_CL_NUM, F_CL_NUM11),
        pick(F_CL_NAME, F_CL_NAME11),
        pick(F_PARKER, F_FROM11),
    ]
    .map(|v| v.unwrap_or_default());
    let mut call = ParkedCall::with_text(space, server_id, lot, pack(&values));
    call.parked_at = now.saturating_sub(elapsed);
    call.set_timeout(remaining.map(|r| r.saturating_add(elapsed)));
    Some(call)
}

/// The fields whose C-escaping is undone (the names).
const ESCAPED: [bool; TEXT_FIELDS] = [false, false, false, false, true, false, true, false];

/// Packs the text values: one copy and one UTF-8 check for the whole block when it
/// is valid UTF-8 without escapes (what Asterisk sends), field by field otherwise.
fn pack(values: &[&[u8]; TEXT_FIELDS]) -> Text {
    let total: usize = values.iter().map(|v| v.len()).sum();
    let fits = values.iter().all(|v| v.len() <= MAX_FIELD_BYTES);
    // The names are short: a fold the compiler vectorizes (no early exit, no memchr
    // call) reads them fastest.
    let escaped =
        values.iter().zip(ESCAPED).any(|(v, e)| e && v.iter().fold(false, |a, &b| a | (b == b'\\')));
    if fits && !escaped {
        let mut buf = Vec::with_capacity(total);
        let mut ends = [0u16; TEXT_FIELDS];
        for (v, e) in values.iter().zip(&mut ends) {
            buf.extend_from_slice(v);
            *e = buf.len() as u16;
        }
        if let Ok(s) = String::from_utf8(buf) {
            if let Some(t) = Text::from_parts(s, ends) {
                return t;
            }
        }
    }
    let mut b = TextBuilder::with_capacity(total);
    for (v, e) in values.iter().zip(ESCAPED) {
        let t = String::from_utf8_lossy(v);
        if e && t.contains('\\') {
            b.push(&unescape_c(&t));
        } else {
            b.push(&t);
        }
    }
    b.finish()
}

impl Retriever {
    /// Reads the retriever block of an `UnParkedCall` event.
    pub fn from_message(m: &Message) -> Self {
        Self::from_headers(m.iter())
    }

    /// Like [`Retriever::from_message`], from `(key, value)` pairs, in one pass.
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Self {
        retriever_of(&scan(headers))
    }
}

impl ChannelStatus {
    /// Reads a `Status` list item (`Channel`, `ChannelStateDesc`, `BridgeID`,
    /// `CallerIDNum`, `CallerIDName`); `None` when it names no channel.
    pub fn from_message(m: &Message) -> Option<Self> {
        let channel = text(m.get("Channel"));
        if channel.is_empty() {
            return None;
        }
        Some(Self {
            channel,
            state: text(m.get("ChannelStateDesc")),
            bridge_id: text(m.get("BridgeID")),
            caller_id_num: text(m.get("CallerIDNum")),
            caller_id_name: CompactString::from(unescape_c(&text(m.get("CallerIDName")))),
        })
    }
}

/// `t` with its C escapes undone (itself, not copied, when it has none).
fn unescaped(t: CompactString) -> CompactString {
    match unescape_c(&t) {
        std::borrow::Cow::Borrowed(_) => t,
        std::borrow::Cow::Owned(s) => CompactString::from(s),
    }
}

fn text(v: Option<&[u8]>) -> CompactString {
    v.map(utf8).unwrap_or_default()
}

/// A value as text, out of line as compact_str's `from_utf8_lossy` was (the callers
/// stay small: 0.7 % fewer instructions an event than inlined, `apply_profile`).
#[inline(never)]
fn utf8(v: &[u8]) -> CompactString {
    match std::str::from_utf8(v) {
        Ok(s) => CompactString::new(s),
        Err(_) => repaired(v),
    }
}

/// A value that is not UTF-8 (rare: Asterisk writes UTF-8), repaired by std, not by
/// compact_str, whose `push_str` brings a panic path that formats a `char` (see
/// `Text::get`).
#[cold]
#[inline(never)]
fn repaired(v: &[u8]) -> CompactString {
    CompactString::from(String::from_utf8_lossy(v))
}

/// A decimal number with surrounding blanks; `None` when it is not one or does not
/// fit in a `u64`.
fn parse_u64(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| {
        let d = b.wrapping_sub(b'0');
        (d < 10).then_some(())?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

fn num(m: &Message, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| m.get_str(k)).and_then(|v| v.trim().parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A message's one-loop scan reads what the scan of its headers reads: field
        /// names in any case, repeated (the first wins), among other keys and empty
        /// ones, with values of any bytes.
        #[test]
        fn the_scan_of_a_message_is_the_scan_of_its_headers(
            headers in proptest::collection::vec(
                (prop_oneof![
                    Just("ParkingSpace".to_string()),
                    Just("parkeeuniqueid".to_string()),
                    Just("EVENT".to_string()),
                    Just("Exten".to_string()),
                    Just("Parkinglot".to_string()),
                    Just("ParkeeConnectedLineName".to_string()),
                    Just(String::new()),
                    "[A-Za-z]{0,25}",
                ], proptest::collection::vec(any::<u8>(), 0..12)),
                0..30,
            )
        ) {
            let m = Message::from_pairs(headers.iter().map(|(k, v)| (k.as_bytes(), v.as_slice())));
            let mut f = NONE;
            scan_message(&m, &mut f);
            prop_assert_eq!(f, scan(m.iter()));
        }
    }

    #[test]
    fn a_value_is_read_as_utf8_and_repaired_as_std_repairs_it() {
        assert_eq!(text(None), "");
        assert_eq!(text(Some(b"PJSIP/1001-0000002a")), "PJSIP/1001-0000002a");
        assert_eq!(text(Some("Zo\u{eb}".as_bytes())), "Zo\u{eb}");
        for bad in
            [&b"a\xffb"[..], b"\xc3", b"x\xe2\x82", b"\xed\xa0\x80 surrogate", b"\xf0\x9f\x98 \xff\xfe end"]
        {
            assert_eq!(text(Some(bad)), String::from_utf8_lossy(bad), "{bad:?}");
        }
    }

    #[test]
    fn numbers_asterisk_sends_out_of_range_never_panic_nor_wrap() {
        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        let m = |space: &str, duration: &str| {
            Message::from_pairs([
                ("Event", "ParkedCall"),
                ("ParkeeUniqueid", "1.1"),
                ("ParkingLot", "default"),
                ("ParkingSpace", space),
                ("ParkingTimeout", "45"),
                ("ParkingDuration", duration),
            ])
        };
        // A clock stepped back: the duration wrapped near 2^64. Parked just now.
        let c = ParkedCall::from_message(1, &m("701", "18446744073709551610"), now).unwrap();
        assert_eq!((c.parked_at, c.timeout()), (now, Some(Duration::from_secs(45))));
        // A space past u32 is not truncated to 701: the message is not a call.
        assert_eq!(ParkedCall::from_message(1, &m("4294967997", "3"), now), None);
        let lot = ParkingLot::from_message(
            1,
            &Message::from_pairs([("Name", "x"), ("StartSpace", "4294967997"), ("StopSpace", "4294968000")]),
        )
        .unwrap();
        assert!(!lot.range_known);
    }

    #[test]
    fn a_lot_timeout_at_the_no_timeout_threshold_is_none_and_an_empty_lot_name_is_default() {
        let timeout = |t: u64| {
            let t = t.to_string();
            let m = Message::from_pairs([
                ("Name", "x"),
                ("StartSpace", "701"),
                ("StopSpace", "720"),
                ("Timeout", &t),
            ]);
            ParkingLot::from_message(1, &m).unwrap().timeout
        };
        let below = NO_TIMEOUT_THRESHOLD_SECS - 1;
        assert_eq!(timeout(below), Some(Duration::from_secs(below)));
        assert_eq!(timeout(NO_TIMEOUT_THRESHOLD_SECS), None, "Asterisk's 'no timeout' is no timeout");
        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        let m = Message::from_pairs([
            ("Event", "ParkedCall"),
            ("ParkeeUniqueid", "1.1"),
            ("ParkingLot", ""),
            ("ParkingSpace", "701"),
        ]);
        let c = ParkedCall::from_message(1, &m, now).unwrap();
        assert_eq!(&*c.parking_lot, "default");

        // A call's duration and timeout at the threshold: parked just now, no timeout.
        let call = |duration: u64, timeout: u64| {
            let (d, t) = (duration.to_string(), timeout.to_string());
            let m = Message::from_pairs([
                ("Event", "ParkedCall"),
                ("ParkeeUniqueid", "1.1"),
                ("ParkingSpace", "701"),
                ("ParkingDuration", &d),
                ("ParkingTimeout", &t),
            ]);
            ParkedCall::from_message(1, &m, now).unwrap()
        };
        // Below the threshold: a timeout, kept as at most 49 days, the time already
        // parked given up first so the deadline holds.
        let longest = Duration::from_millis(u64::from(u32::MAX - 1));
        let c = call(below, below);
        assert_eq!(c.timeout(), Some(longest));
        assert_eq!((c.parked_at, c.deadline()), (now, Some(now + longest)));
        let c = call(5_000_000, 45);
        assert_eq!(c.deadline(), Some(now + Duration::from_secs(45)), "58 days parked, 45 s left");
        assert_eq!(c.parked_at, (now + Duration::from_secs(45)).saturating_sub(longest));
        let c = call(NO_TIMEOUT_THRESHOLD_SECS, 30);
        assert_eq!(c.parked_at, now, "a duration at the threshold is a clock stepped back");
        assert_eq!(c.deadline(), Some(now + Duration::from_secs(30)));
        let c = call(10, NO_TIMEOUT_THRESHOLD_SECS);
        assert_eq!(c.parked_at, now.saturating_sub(Duration::from_secs(10)));
        assert_eq!((c.timeout(), c.deadline()), (None, None), "a timeout at the threshold is none");
    }

    #[test]
    fn the_retriever_block_is_read_from_asterisk_22_and_asterisk_11_names() {
        let m = Message::from_pairs([
            ("Event", "UnParkedCall"),
            ("RetrieverChannel", "PJSIP/1002-00000003"),
            ("RetrieverCallerIDNum", "1002"),
            ("RetrieverCallerIDName", "Desk \\\"2\\\""),
            ("RetrieverUniqueid", "1700000000.7"),
            ("From", "SIP/old-1"),
        ]);
        let r = Retriever::from_message(&m);
        assert_eq!(r.channel, "PJSIP/1002-00000003", "the Asterisk 12+ name wins over From");
        assert_eq!(r.caller_id_num, "1002");
        assert_eq!(r.caller_id_name, "Desk \"2\"", "C-escaping undone");
        assert_eq!(r.unique_id, "1700000000.7");
        let old =
            Retriever::from_message(&Message::from_pairs([("Event", "UnParkedCall"), ("From", "SIP/old-1")]));
        assert_eq!(old.channel, "SIP/old-1", "Asterisk 11 names the retriever in From");
        assert_eq!(Retriever::from_message(&Message::new()), Retriever::default());
    }

    #[test]
    fn a_name_not_escaped_keeps_its_backslashes_when_another_one_is_unescaped() {
        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        let m = Message::from_pairs([
            ("Event", "ParkedCall"),
            ("ParkeeUniqueid", "1.1"),
            ("ParkingSpace", "701"),
            ("ParkeeChannel", "Local/a\\tb@x-1;1"),
            ("ParkeeCallerIDName", "O\\'Brien"),
        ]);
        let c = ParkedCall::from_message(1, &m, now).unwrap();
        assert_eq!(c.caller_id_name(), "O'Brien");
        assert_eq!(c.channel(), "Local/a\\tb@x-1;1", "a channel is not C-escaped");
    }

    #[test]
    fn a_number_is_digits_only() {
        assert_eq!(parse_u64(b" 42 "), Some(42));
        assert_eq!(parse_u64(b"1:"), None, "':' follows '9' in ASCII");
        assert_eq!(parse_u64(b"/"), None, "'/' precedes '0'");
        assert_eq!(parse_u64(b"18446744073709551616"), None, "past u64");
        assert_eq!(parse_u64(b"  "), None);
    }

    #[test]
    fn near_two_to_the_64_means_no_timeout() {
        let m = Message::from_pairs([
            ("ParkingSpace", "701"),
            ("ParkingTimeout", "18446744073709551615"),
            ("ParkingDuration", "3"),
        ]);
        let c = ParkedCall::from_message(1, &m, Timestamp::from_unix_millis(10_000)).unwrap();
        assert_eq!(c.timeout(), None);
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
        assert_eq!(c.channel(), "SIP/100-0001");
        assert_eq!(c.unique_id(), "123.4");
        assert_eq!(c.caller_id_num(), "100");
        assert_eq!(c.parker_dial_string(), "SIP/200-0002");
        assert_eq!(c.timeout(), Some(Duration::from_secs(45)));
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
