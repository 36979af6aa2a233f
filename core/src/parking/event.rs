//! Parking events: what changed, once per real change.

use crate::parking::model::{ParkedCall, Retriever};
use std::sync::Arc;

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
/// reconciling `ParkedCalls` refresh (never from the initial snapshot).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParkingEvent {
    /// A call entered a space (`ParkedCall`).
    Parked {
        /// The call.
        call: Arc<ParkedCall>,
    },
    /// A call was picked up (`UnParkedCall`).
    Retrieved {
        /// The call as it was parked.
        call: Arc<ParkedCall>,
        /// Who took it.
        retriever: Retriever,
    },
    /// The parking time ran out (`ParkedCallTimeOut`).
    TimedOut {
        /// The call.
        call: Arc<ParkedCall>,
    },
    /// The caller hung up or left (`ParkedCallGiveUp`).
    GaveUp {
        /// The call.
        call: Arc<ParkedCall>,
    },
    /// Another channel took the parkee's place (`ParkedCallSwap`).
    Swapped {
        /// The new parkee.
        call: Arc<ParkedCall>,
        /// The parkee it replaced, when the store knew it.
        previous: Option<Arc<ParkedCall>>,
    },
    /// A refresh found a difference with the store.
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
            | Self::Resync { call, .. } => call,
        }
    }

    /// The event's short name: `parked`, `retrieved`, `timeout`, `giveup`, `swap`, `resync`
    /// (the seed's names).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Parked { .. } => "parked",
            Self::Retrieved { .. } => "retrieved",
            Self::TimedOut { .. } => "timeout",
            Self::GaveUp { .. } => "giveup",
            Self::Swapped { .. } => "swap",
            Self::Resync { .. } => "resync",
        }
    }
}
