//! Parking events: what changed, once per real change.

use crate::model::{ParkedCall, Retriever};
use std::sync::Arc;
use std::time::Duration;

/// What a resync found different from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResyncChange {
    /// A call Asterisk has that the store did not know (parked while we were away).
    Appeared,
    /// A call the store had that Asterisk no longer has (gone while we were away).
    Vanished,
}

/// One change to the parked calls. The call is shared with the store (an `Arc`), so
/// an event costs no copy of it.
///
/// Live events come from Asterisk's live AMI events; `Resync` ones from a
/// reconciling `ParkedCalls` refresh (never from the initial snapshot);
/// `NearTimeout` from the store's clock.
///
/// One vocabulary: the serialized `type` is [`ParkingEvent::kind`], the name the
/// CLI prints and the README uses.
///
/// ```
/// use ami_parking::{ParkedCall, ParkingEvent};
/// use std::sync::Arc;
/// let e = ParkingEvent::TimedOut { call: Arc::new(ParkedCall::default()) };
/// let json = serde_json::to_value(&e).unwrap();
/// assert_eq!(json["type"], e.kind());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type")]
pub enum ParkingEvent {
    /// A call entered a space (`ParkedCall`).
    #[serde(rename = "parked")]
    Parked {
        /// The call.
        call: Arc<ParkedCall>,
    },
    /// A call was picked up (`UnParkedCall`).
    #[serde(rename = "retrieved")]
    Retrieved {
        /// The call as it was parked.
        call: Arc<ParkedCall>,
        /// Who took it.
        retriever: Retriever,
    },
    /// The parking time ran out (`ParkedCallTimeOut`).
    #[serde(rename = "timeout")]
    TimedOut {
        /// The call.
        call: Arc<ParkedCall>,
    },
    /// The caller hung up or left (`ParkedCallGiveUp`).
    #[serde(rename = "giveup")]
    GaveUp {
        /// The call.
        call: Arc<ParkedCall>,
    },
    /// Another channel took the parkee's place (`ParkedCallSwap`).
    #[serde(rename = "swap")]
    Swapped {
        /// The new parkee.
        call: Arc<ParkedCall>,
        /// The parkee it replaced, when the store knew it.
        previous: Option<Arc<ParkedCall>>,
    },
    /// A call moved to another lot or space (Asterisk's `ParkedCallGiveUp` immediately
    /// followed by `ParkedCall` for the same unique id: a `Park` of the parked call).
    #[serde(rename = "moved")]
    Moved {
        /// The call in its new place.
        call: Arc<ParkedCall>,
        /// The call as it was in its old place.
        from: Arc<ParkedCall>,
    },
    /// The call's remaining time fell below `near_timeout_threshold` (once per call
    /// and park; at once when first seen below it).
    #[serde(rename = "near_timeout")]
    NearTimeout {
        /// The call.
        call: Arc<ParkedCall>,
        /// Time left before Asterisk times it out.
        remaining: Duration,
    },
    /// A refresh found a difference with the store.
    #[serde(rename = "resync")]
    Resync {
        /// The call that appeared or vanished.
        call: Arc<ParkedCall>,
        /// Which.
        change: ResyncChange,
    },
}

impl ParkingEvent {
    /// The call the event is about.
    pub fn call(&self) -> &ParkedCall {
        match self {
            Self::Parked { call }
            | Self::Retrieved { call, .. }
            | Self::TimedOut { call }
            | Self::GaveUp { call }
            | Self::Swapped { call, .. }
            | Self::NearTimeout { call, .. }
            | Self::Moved { call, .. }
            | Self::Resync { call, .. } => call,
        }
    }

    /// The event's short name: `parked`, `retrieved`, `timeout`, `giveup`, `swap`,
    /// `moved`, `near_timeout`, `resync` (the seed's names; also the serialized `type`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Parked { .. } => "parked",
            Self::Retrieved { .. } => "retrieved",
            Self::TimedOut { .. } => "timeout",
            Self::GaveUp { .. } => "giveup",
            Self::Swapped { .. } => "swap",
            Self::NearTimeout { .. } => "near_timeout",
            Self::Moved { .. } => "moved",
            Self::Resync { .. } => "resync",
        }
    }
}

/// The events one applied message caused, in order: most often none or one, held
/// without an allocation (they used to come in a `Vec`: an allocation for each
/// message that caused any; see the CHANGELOG). Reads as a slice (mutably too),
/// serializes as a list; [`Events::into_vec`] or `Vec::from` when a `Vec` is wanted.
/// Two `Events` are equal when they hold the same events in the same order.
///
/// ```
/// use ami_parking::{Events, Message, ParkingStore, Timestamp};
/// let store = ParkingStore::default();
/// let parked = Message::from_pairs([("Event", "ParkedCall"), ("ParkeeUniqueid", "1.1"),
///     ("Parkinglot", "default"), ("ParkingSpace", "701")]);
/// let events: Events = store.apply_message(Timestamp::ZERO, 1, &parked);
/// assert_eq!(events.len(), 1);
/// assert_eq!(events[0].kind(), "parked");
/// for e in &events {
///     assert_eq!(e.call().parking_space, 701);
/// }
/// let all: Vec<_> = events.into_vec();
/// assert_eq!(all.len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct Events(Held);

#[derive(Clone, Default)]
enum Held {
    #[default]
    None,
    One(ParkingEvent),
    Many(Vec<ParkingEvent>),
}

impl Events {
    /// No event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `event` after the others.
    pub fn push(&mut self, event: ParkingEvent) {
        self.0 = match std::mem::take(&mut self.0) {
            Held::None => Held::One(event),
            Held::One(first) => Held::Many(vec![first, event]),
            Held::Many(mut all) => {
                all.push(event);
                Held::Many(all)
            }
        };
    }

    /// The events as a `Vec` (an allocation when there is one or more).
    pub fn into_vec(self) -> Vec<ParkingEvent> {
        match self.0 {
            Held::None => Vec::new(),
            Held::One(e) => vec![e],
            Held::Many(all) => all,
        }
    }
}

impl std::ops::Deref for Events {
    type Target = [ParkingEvent];

    fn deref(&self) -> &[ParkingEvent] {
        match &self.0 {
            Held::None => &[],
            Held::One(e) => std::slice::from_ref(e),
            Held::Many(all) => all,
        }
    }
}

impl std::ops::DerefMut for Events {
    fn deref_mut(&mut self) -> &mut [ParkingEvent] {
        match &mut self.0 {
            Held::None => &mut [],
            Held::One(e) => std::slice::from_mut(e),
            Held::Many(all) => all,
        }
    }
}

impl PartialEq for Events {
    fn eq(&self, other: &Events) -> bool {
        **self == **other
    }
}

impl Eq for Events {}

impl serde::Serialize for Events {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq<Vec<ParkingEvent>> for Events {
    fn eq(&self, other: &Vec<ParkingEvent>) -> bool {
        **self == other[..]
    }
}

impl PartialEq<Events> for Vec<ParkingEvent> {
    fn eq(&self, other: &Events) -> bool {
        self[..] == **other
    }
}

impl From<Option<ParkingEvent>> for Events {
    fn from(event: Option<ParkingEvent>) -> Self {
        Self(event.map_or(Held::None, Held::One))
    }
}

impl From<Vec<ParkingEvent>> for Events {
    fn from(all: Vec<ParkingEvent>) -> Self {
        Self(Held::Many(all))
    }
}

impl From<Events> for Vec<ParkingEvent> {
    fn from(events: Events) -> Self {
        events.into_vec()
    }
}

impl Extend<ParkingEvent> for Events {
    fn extend<I: IntoIterator<Item = ParkingEvent>>(&mut self, events: I) {
        for e in events {
            self.push(e);
        }
    }
}

impl FromIterator<ParkingEvent> for Events {
    fn from_iter<I: IntoIterator<Item = ParkingEvent>>(events: I) -> Self {
        let mut all = Self::new();
        all.extend(events);
        all
    }
}

impl IntoIterator for Events {
    type Item = ParkingEvent;
    type IntoIter = EventsIntoIter;

    fn into_iter(self) -> EventsIntoIter {
        EventsIntoIter(match self.0 {
            Held::None => IntoIterHeld::One(None),
            Held::One(e) => IntoIterHeld::One(Some(e)),
            Held::Many(all) => IntoIterHeld::Many(all.into_iter()),
        })
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = &'a ParkingEvent;
    type IntoIter = std::slice::Iter<'a, ParkingEvent>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The events of an [`Events`], by value, in order.
#[derive(Debug)]
pub struct EventsIntoIter(IntoIterHeld);

#[derive(Debug)]
enum IntoIterHeld {
    One(Option<ParkingEvent>),
    Many(std::vec::IntoIter<ParkingEvent>),
}

impl Iterator for EventsIntoIter {
    type Item = ParkingEvent;

    fn next(&mut self) -> Option<ParkingEvent> {
        match &mut self.0 {
            IntoIterHeld::One(e) => e.take(),
            IntoIterHeld::Many(all) => all.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IntoIterHeld::One(e) => (e.is_some() as usize, Some(e.is_some() as usize)),
            IntoIterHeld::Many(all) => all.size_hint(),
        }
    }
}

impl DoubleEndedIterator for EventsIntoIter {
    fn next_back(&mut self) -> Option<ParkingEvent> {
        match &mut self.0 {
            IntoIterHeld::One(e) => e.take(),
            IntoIterHeld::Many(all) => all.next_back(),
        }
    }
}

impl ExactSizeIterator for EventsIntoIter {}

impl std::iter::FusedIterator for EventsIntoIter {}

impl<'a> IntoIterator for &'a mut Events {
    type Item = &'a mut ParkingEvent;
    type IntoIter = std::slice::IterMut<'a, ParkingEvent>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(space: u32) -> ParkingEvent {
        ParkingEvent::Parked { call: Arc::new(ParkedCall { parking_space: space, ..Default::default() }) }
    }

    /// Pushed one by one, collected, extended: the same events in the same order as
    /// a `Vec`, read as a slice, by reference and by value.
    #[test]
    fn events_hold_what_a_vec_holds_in_order() {
        for n in 0..5u32 {
            let want: Vec<ParkingEvent> = (0..n).map(event).collect();
            let mut pushed = Events::new();
            for e in want.clone() {
                pushed.push(e);
            }
            let collected: Events = want.clone().into_iter().collect();
            let mut extended = Events::from(None);
            extended.extend(want.clone());
            for got in [&pushed, &collected, &extended] {
                assert_eq!(*got, want);
                assert_eq!(want, *got);
                assert_eq!(got.len(), n as usize);
                assert_eq!(
                    got.iter().map(|e| e.call().parking_space).collect::<Vec<_>>(),
                    (0..n).collect::<Vec<_>>()
                );
                assert_eq!(got.into_iter().count(), n as usize);
                assert_eq!(format!("{got:?}"), format!("{want:?}"));
            }
            let it = pushed.clone().into_iter();
            assert_eq!(it.len(), n as usize, "the iterator knows its length");
            assert_eq!(it.collect::<Vec<_>>(), want);
            assert_eq!(Vec::from(collected), want);
            assert_eq!(Events::from(want.clone()), want);
            assert_eq!(extended.into_vec(), want);
        }
        assert_eq!(Events::from(Some(event(7))).into_vec(), vec![event(7)]);
        assert!(Events::default().is_empty());
    }

    /// Equal when the events are, however each was built; mutable as a slice; reversed
    /// by value; serialized as the list a `Vec` makes.
    #[test]
    fn events_compare_by_their_events_and_read_like_a_vec() {
        let one = Events::from(Some(event(1)));
        let mut grown = Events::from(Vec::new());
        grown.push(event(1));
        assert_eq!(one, grown, "one event, held inline or in a vector");
        assert_eq!(Events::from(Vec::new()), Events::new(), "no event either way");
        assert_ne!(one, Events::from(vec![event(1), event(2)]));
        let mut two: Events = [event(1), event(2)].into_iter().collect();
        two.reverse();
        for e in &mut two {
            assert!(matches!(e, ParkingEvent::Parked { .. }));
        }
        assert_eq!(two, vec![event(2), event(1)]);
        assert_eq!(two.clone().into_iter().rev().collect::<Vec<_>>(), vec![event(1), event(2)]);
        assert_eq!(one.clone().into_iter().rev().collect::<Vec<_>>(), vec![event(1)]);
        let mut it = one.into_iter();
        assert_eq!((it.next().is_some(), it.next(), it.next()), (true, None, None), "fused");
        let json = serde_json::to_value(&two).unwrap();
        assert_eq!(json, serde_json::to_value(two.into_vec()).unwrap());
        assert_eq!(json[0]["type"], "parked");
    }
}
