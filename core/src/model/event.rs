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
