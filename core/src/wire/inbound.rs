//! Every AMI message the core acts on, classified once into a typed [`Inbound`].
//!
//! The names of the events the core knows are written here and nowhere else. The
//! connection first looks at the message's [`Head`] (its event name, from the first
//! header, and its ActionID) to decide cheaply whether the message matters, then has
//! it classified by [`Inbound::classify`], which parses a parking block exactly once.
//! The store and the connection match on the result.
//!
//! ```
//! use ami_parking::wire::inbound::{Inbound, LiveKind, Shape};
//! use ami_parking::{Message, Timestamp};
//! let m = Message::from_pairs([("Event", "ParkedCall"), ("Privilege", "call,all"),
//!     ("ParkeeChannel", "PJSIP/100-1"), ("Parkinglot", "default"), ("ParkingSpace", "701")]);
//! match Inbound::of_message(1, &m, Timestamp::ZERO, Shape::Messages) {
//!     Inbound::Live(e) => assert_eq!((e.kind, e.call.parking_space), (LiveKind::Parked, 701)),
//!     other => panic!("{other:?}"),
//! }
//! ```

use crate::model::{ParkedCall, ParkingLot, Retriever, ServerId};
use crate::time::Timestamp;
use crate::wire::fields;
use crate::wire::message::Message;

/// The events the core knows by name (ASCII case-insensitive, as Asterisk's own
/// comparisons are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    /// A parking event (live, or a `ParkedCall` list item).
    Parking(LiveKind),
    /// `Shutdown`: the server stops.
    Shutdown,
    /// `FullyBooted`: the server is ready (or a login completed).
    FullyBooted,
    /// `Parkinglot`: an item of a `Parkinglots` answer.
    Parkinglot,
    /// `ParkinglotsComplete` / `ParkedCallsComplete`: the end of a parking list (also
    /// on Asterisk 12 and 13.0, which send no `EventList: Complete`).
    ParkingListComplete,
    /// `OriginateResponse`: the outcome of an asynchronous Originate.
    OriginateResponse,
    /// Any other event.
    Other,
}

/// The names the core knows, lower case (compared ASCII case-insensitively, as
/// Asterisk's own comparisons are).
const NAMES: [(&[u8], EventName); 11] = [
    (b"parkedcall", EventName::Parking(LiveKind::Parked)),
    (b"unparkedcall", EventName::Parking(LiveKind::Retrieved)),
    (b"parkedcalltimeout", EventName::Parking(LiveKind::TimedOut)),
    (b"parkedcallgiveup", EventName::Parking(LiveKind::GaveUp)),
    (b"parkedcallswap", EventName::Parking(LiveKind::Swapped)),
    (b"shutdown", EventName::Shutdown),
    (b"fullybooted", EventName::FullyBooted),
    (b"parkinglot", EventName::Parkinglot),
    (b"parkinglotscomplete", EventName::ParkingListComplete),
    (b"parkedcallscomplete", EventName::ParkingListComplete),
    (b"originateresponse", EventName::OriginateResponse),
];

impl EventName {
    /// The name's kind (`Other` for names the core does not act on by themselves).
    pub fn of(name: &[u8]) -> Self {
        // Each name is compared a word at a time, and only when the lengths match.
        NAMES
            .iter()
            .find(|(n, _)| crate::wire::field_names::eq_letters(name, n))
            .map_or(Self::Other, |&(_, k)| k)
    }

    /// True for events that matter without an ActionID (live parking events and the
    /// server's life cycle). Others matter only as answers to our actions.
    pub fn matters_live(self) -> bool {
        matches!(self, Self::Parking(_) | Self::Shutdown | Self::FullyBooted)
    }
}

/// What a live parking event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiveKind {
    /// `ParkedCall`: a call entered a space.
    Parked,
    /// `UnParkedCall`: a call was picked up.
    Retrieved,
    /// `ParkedCallTimeOut`: the parking time ran out.
    TimedOut,
    /// `ParkedCallGiveUp`: the caller hung up.
    GaveUp,
    /// `ParkedCallSwap`: another channel took the parkee's place.
    Swapped,
}

impl LiveKind {
    /// True for the kinds that end a parking (retrieve, timeout, give-up).
    pub fn is_leave(self) -> bool {
        matches!(self, Self::Retrieved | Self::TimedOut | Self::GaveUp)
    }
}

/// A live parking event, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    /// What happened.
    pub kind: LiveKind,
    /// The call, as the event describes it.
    pub call: ParkedCall,
    /// Who took it (`UnParkedCall` only).
    pub retriever: Option<Retriever>,
}

/// What the request an answer belongs to collects, so that its items are parsed into
/// the right type (and only the items of our own requests are parsed at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `ParkedCall` items become [`Answer::Call`].
    Calls,
    /// `Parkinglot` items become [`Answer::Lot`].
    Lots,
    /// Every item stays a [`Message`] ([`Answer::Item`]).
    Messages,
    /// Every answering event stays a [`Message`] ([`Answer::Item`]), the list's end and
    /// an `OriginateResponse` included: an answer passed on whole (a forwarded action).
    Whole,
}

/// An event that answers one of our actions (it carries our ActionID).
#[allow(clippy::large_enum_variant)] // call items are the common case; boxing them costs more
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A `ParkedCall` list item.
    Call(ParkedCall),
    /// A `Parkinglot` list item.
    Lot(ParkingLot),
    /// The end of a list (`EventList: Complete`, or a parking list's `...Complete`).
    End,
    /// `OriginateResponse` (the retrieve's outcome).
    Originate {
        /// `Response: Success`.
        success: bool,
        /// `Response` and `Reason`, for the error message.
        detail: String,
    },
    /// Any other item, with its event name's kind.
    Item(Message),
}

/// A response to an action (a message without `Event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Its ActionID (amiws's own re-login has none).
    pub action_id: Option<String>,
    /// `Success`, `Follows` or `Goodbye`.
    pub success: bool,
    /// `Message`, line end trimmed.
    pub message: Option<String>,
    /// The whole response.
    pub msg: Message,
}

impl Response {
    /// amiws logged in to a server again (`Authentication accepted` without ActionID).
    pub fn is_unsolicited_login(&self) -> bool {
        self.action_id.is_none() && self.message.as_deref() == Some("Authentication accepted")
    }

    /// The MD5 login's `Challenge`, when present and not empty.
    pub fn challenge(&self) -> Option<&[u8]> {
        self.msg.get("Challenge").filter(|c| !c.is_empty())
    }
}

/// One AMI message, classified.
#[allow(clippy::large_enum_variant)] // live events are the common case; boxing them costs more
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A live parking event.
    Live(LiveEvent),
    /// `Event: Shutdown` (live).
    Shutdown,
    /// A response to an action.
    Response(Response),
    /// An event answering action `action_id`.
    Answer {
        /// The ActionID it carries.
        action_id: String,
        /// What it says.
        answer: Answer,
    },
    /// A live parking event that could not be read (no space, a space past u32...):
    /// what it changed is unknown, so the server's calls are listed again.
    Unreadable,
    /// Nothing the core acts on (a live event of no interest).
    Ignored,
}

/// The two facts read before deciding whether a message matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head<'a> {
    /// The event name's kind, `None` for a response.
    pub event: Option<EventName>,
    /// The ActionID, when it has one.
    pub action_id: Option<&'a [u8]>,
}

impl<'a> Head<'a> {
    /// Reads the head of a header list: `Event` and `ActionID`.
    pub fn of<I: Iterator<Item = (&'a [u8], &'a [u8])>>(headers: I) -> Self {
        let (mut event, mut action_id) = (None, None);
        for (k, v) in headers {
            match k.len() {
                5 if event.is_none() && k.eq_ignore_ascii_case(b"Event") => event = Some(EventName::of(v)),
                8 if action_id.is_none() && k.eq_ignore_ascii_case(b"ActionID") => action_id = Some(v),
                _ => {}
            }
        }
        Self { event, action_id }
    }

    /// The head of a message whose headers were scanned in one pass.
    pub(crate) fn of_scan(f: &fields::Fields<'a>) -> Self {
        Self { event: f[fields::F_EVENT].map(EventName::of), action_id: f[fields::F_ACTION_ID] }
    }

    /// The kind of a live leave (a leave event without an ActionID), else `None`.
    pub(crate) fn live_leave(&self) -> Option<LiveKind> {
        match (self.event, self.action_id) {
            (Some(EventName::Parking(kind)), None) if kind.is_leave() => Some(kind),
            _ => None,
        }
    }
}

impl Inbound {
    /// Classifies an owned message from `server_id`, received at `now`. A live
    /// parking event is read in one pass over its headers (the head with the rest).
    pub fn of_message(server_id: ServerId, m: &Message, now: Timestamp, shape: Shape) -> Self {
        let mut f = fields::NONE;
        fields::scan_message(m, &mut f);
        Self::classify_scanned(Head::of_scan(&f), &f, m.iter(), server_id, now, shape, &fields::NO_NAMES)
    }

    /// Classifies a message given its [`Head`] and its headers (which may be
    /// iterated twice). `shape` says how to read items answering our action. A parking
    /// event is read as [`Inbound::of_message`] reads it, from one pass over its
    /// headers.
    pub fn classify<'a, I>(
        head: Head<'a>,
        headers: I,
        server_id: ServerId,
        now: Timestamp,
        shape: Shape,
    ) -> Self
    where
        I: Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
    {
        // Only a live event or a `ParkedCalls` item is read from the scan.
        let scanned = match (head.event, head.action_id) {
            (Some(EventName::Parking(_)), None) => true,
            (Some(EventName::Parking(LiveKind::Parked)), Some(_)) => shape == Shape::Calls,
            _ => false,
        };
        if scanned {
            let f = fields::scan(headers.clone());
            return Self::classify_scanned(head, &f, headers, server_id, now, shape, &fields::NO_NAMES);
        }
        Self::classify_other(head, headers, server_id, shape)
    }

    /// [`Inbound::classify`] of a message that is not a live parking event nor a
    /// `ParkedCalls` item (those are read from their scan).
    fn classify_other<'a, I>(head: Head<'a>, headers: I, server_id: ServerId, shape: Shape) -> Self
    where
        I: Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
    {
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let Some(event) = head.event else {
            let msg = to_message(headers);
            let message = msg.get_str("Message").map(|m| m.trim_end().to_string());
            let success = ["Success", "Follows", "Goodbye"].iter().any(|r| msg.is("Response", r));
            return Self::Response(Response { action_id: head.action_id.map(text), success, message, msg });
        };
        match (event, head.action_id) {
            (_, Some(aid)) => {
                Self::Answer { action_id: text(aid), answer: answer(event, headers, server_id, shape) }
            }
            (EventName::Shutdown, None) => Self::Shutdown,
            _ => Self::Ignored,
        }
    }
}

impl Inbound {
    /// Classifies a parking event whose headers were already scanned in one pass
    /// (`f`, the ActionID among them): a live event or a `ParkedCalls` item is read
    /// from the scan (its lot's name shared from `names` when known), anything else
    /// from its headers.
    pub(crate) fn classify_scanned<'a, I>(
        head: Head<'a>,
        f: &fields::Fields<'a>,
        headers: I,
        server_id: ServerId,
        now: Timestamp,
        shape: Shape,
        names: &fields::LotNames<'_>,
    ) -> Self
    where
        I: Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
    {
        match (head.event, head.action_id, shape) {
            (Some(EventName::Parking(kind)), None, _) => live(kind, f, server_id, now, names),
            (Some(EventName::Parking(LiveKind::Parked)), Some(aid), Shape::Calls) => Self::Answer {
                action_id: String::from_utf8_lossy(aid).into_owned(),
                answer: call_item(ParkedCall::from_fields(server_id, f, now, names), headers),
            },
            _ => Self::classify_other(head, headers, server_id, shape),
        }
    }
}

/// A `ParkedCalls` item read as `call`; an item that names no space stays a plain
/// item (the collector skips it).
fn call_item<'a>(call: Option<ParkedCall>, headers: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Answer {
    match call {
        Some(call) => Answer::Call(call),
        None => Answer::Item(to_message(headers)),
    }
}

/// A live parking event from its scanned fields.
fn live(
    kind: LiveKind,
    f: &fields::Fields<'_>,
    server_id: ServerId,
    now: Timestamp,
    names: &fields::LotNames<'_>,
) -> Inbound {
    match fields::call_of(server_id, f, fields::lot_name(f, names), now) {
        Some(call) => {
            let retriever = (kind == LiveKind::Retrieved).then(|| fields::retriever_of(f));
            Inbound::Live(LiveEvent { kind, call, retriever })
        }
        None => Inbound::Unreadable,
    }
}

fn answer<'a, I>(event: EventName, headers: I, server_id: ServerId, shape: Shape) -> Answer
where
    I: Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
{
    if shape == Shape::Whole {
        return Answer::Item(to_message(headers));
    }
    let msg = to_message(headers);
    if msg.is("EventList", "Complete")
        || (event == EventName::ParkingListComplete && shape != Shape::Messages)
    {
        return Answer::End;
    }
    match (event, shape) {
        (EventName::Parkinglot, Shape::Lots) => match ParkingLot::from_message(server_id, &msg) {
            Some(lot) => Answer::Lot(lot),
            None => Answer::Item(msg),
        },
        (EventName::OriginateResponse, _) => {
            let success = msg.is("Response", "Success");
            let reason = msg.get_str("Reason").map(|r| r.into_owned()).unwrap_or_else(|| "failure".into());
            let detail =
                format!("Response: {}, Reason: {reason}", msg.get_str("Response").unwrap_or_default());
            Answer::Originate { success, detail }
        }
        _ => Answer::Item(msg),
    }
}

fn to_message<'a>(headers: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Message {
    let mut m = Message::with_capacity(16, 256);
    for (k, v) in headers {
        m.push(k, v);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(pairs: &[(&str, &str)], shape: Shape) -> Inbound {
        Inbound::of_message(1, &Message::from_pairs(pairs.iter().copied()), Timestamp::ZERO, shape)
    }

    #[test]
    fn the_head_is_the_first_event_and_action_id() {
        let m = Message::from_pairs([
            ("Event", "ParkedCall"),
            ("event", "Hangup"),
            ("Fruit", "x"),
            ("ActionID", "a1"),
            ("actionid", "a2"),
            ("Whatever", "y"),
        ]);
        let head = Head::of(m.iter());
        assert_eq!(head.event, Some(EventName::of(b"ParkedCall")));
        assert_eq!(head.action_id, Some(&b"a1"[..]));
        assert_eq!(Head::of(Message::from_pairs([("Fruit", "x")]).iter()).event, None);
    }

    #[test]
    fn only_an_authentication_without_action_id_is_amiws_logging_in_again() {
        let response = |id: Option<&str>, message: &str| Response {
            action_id: id.map(str::to_owned),
            success: true,
            message: Some(message.to_owned()),
            msg: Message::new(),
        };
        assert!(response(None, "Authentication accepted").is_unsolicited_login());
        assert!(!response(Some("login-1"), "Authentication accepted").is_unsolicited_login());
        assert!(!response(None, "Pong").is_unsolicited_login());
    }

    #[test]
    fn names_are_case_insensitive_and_unknown_ones_are_other() {
        assert_eq!(EventName::of(b"unparkedcall"), EventName::Parking(LiveKind::Retrieved));
        assert_eq!(EventName::of(b"Newexten"), EventName::Other);
        assert!(!EventName::of(b"Parkinglot").matters_live());
        // Every known name, in any case, is found; a name with one byte changed to
        // another letter or to a byte that folds like a letter is not.
        const NAMES: [(&str, EventName); 11] = [
            ("ParkedCall", EventName::Parking(LiveKind::Parked)),
            ("UnParkedCall", EventName::Parking(LiveKind::Retrieved)),
            ("ParkedCallTimeOut", EventName::Parking(LiveKind::TimedOut)),
            ("ParkedCallGiveUp", EventName::Parking(LiveKind::GaveUp)),
            ("ParkedCallSwap", EventName::Parking(LiveKind::Swapped)),
            ("Shutdown", EventName::Shutdown),
            ("FullyBooted", EventName::FullyBooted),
            ("Parkinglot", EventName::Parkinglot),
            ("ParkinglotsComplete", EventName::ParkingListComplete),
            ("ParkedCallsComplete", EventName::ParkingListComplete),
            ("OriginateResponse", EventName::OriginateResponse),
        ];
        for (name, kind) in NAMES {
            assert_eq!(EventName::of(name.as_bytes()), kind, "{name}");
            assert_eq!(EventName::of(name.to_uppercase().as_bytes()), kind, "{name}");
            assert_eq!(EventName::of(name.to_lowercase().as_bytes()), kind, "{name}");
            assert_eq!(EventName::of(&name.as_bytes()[1..]), EventName::Other, "{name} cut");
            assert_eq!(EventName::of(format!("{name}s").as_bytes()), EventName::Other, "{name} longer");
            for at in 0..name.len() {
                for b in [b'@', b'[', b'`', b'{', b'0', b'\x00', b'q', b'Z'] {
                    let mut k = name.as_bytes().to_vec();
                    if k[at].eq_ignore_ascii_case(&b) {
                        continue;
                    }
                    k[at] = b;
                    let other = NAMES.iter().find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(&k));
                    let want = other.map_or(EventName::Other, |&(_, kind)| kind);
                    assert_eq!(EventName::of(&k), want, "{}", String::from_utf8_lossy(&k));
                }
            }
        }
    }

    #[test]
    fn a_list_item_is_never_live() {
        let item = [("Event", "ParkedCall"), ("ParkingSpace", "701"), ("ActionID", "x-1")];
        assert!(matches!(classify(&item, Shape::Calls), Inbound::Answer { answer: Answer::Call(_), .. }));
        assert!(matches!(classify(&item, Shape::Messages), Inbound::Answer { answer: Answer::Item(_), .. }));
    }

    #[test]
    fn list_ends_with_and_without_eventlist() {
        let old = [("Event", "ParkedCallsComplete"), ("ActionID", "x-1")];
        assert!(matches!(classify(&old, Shape::Calls), Inbound::Answer { answer: Answer::End, .. }));
        let new = [("Event", "CoreShowChannelsComplete"), ("ActionID", "x-1"), ("EventList", "Complete")];
        assert!(matches!(classify(&new, Shape::Messages), Inbound::Answer { answer: Answer::End, .. }));
        // Passed on whole, the end stays a message.
        assert!(
            matches!(classify(&new, Shape::Whole), Inbound::Answer { answer: Answer::Item(m), .. } if m.is("EventList", "Complete"))
        );
    }

    #[test]
    fn responses_keep_their_message_and_outcome() {
        let r = classify(
            &[("Response", "Error"), ("ActionID", "x-2"), ("Message", "Park action failed\n")],
            Shape::Messages,
        );
        let Inbound::Response(r) = r else { panic!("{r:?}") };
        assert_eq!((r.success, r.message.as_deref()), (false, Some("Park action failed")));
        let r = classify(&[("Response", "Success"), ("Message", "Authentication accepted")], Shape::Messages);
        assert!(matches!(r, Inbound::Response(r) if r.is_unsolicited_login()));
    }

    #[test]
    fn a_retrieve_carries_its_retriever_and_a_parking_event_without_space_is_ignored() {
        let r = classify(
            &[("Event", "UnParkedCall"), ("ParkingSpace", "702"), ("RetrieverChannel", "PJSIP/2")],
            Shape::Messages,
        );
        assert!(
            matches!(r, Inbound::Live(LiveEvent { retriever: Some(ref x), .. }) if x.channel == "PJSIP/2")
        );
        assert_eq!(classify(&[("Event", "ParkedCallGiveUp")], Shape::Messages), Inbound::Unreadable);
    }
}
