//! What a user asks of a connection ([`Request`], [`Target`]) and what it answers
//! ([`Reply`], [`Output`]).

use crate::error::{ParkingError, Quoted};
use crate::model::event::ParkingEvent;
use crate::model::{ParkedCall, ParkingLot, Retriever, ServerId};
use crate::store::ConnectionState;
use crate::wire::amiws::FrameError;
use crate::wire::{Action, Message};
use std::sync::Arc;
use std::time::Duration;

/// Which server(s) a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// Raw AMI: the one server. amiws: every server (no `AMIServerID`), answers merged.
    #[default]
    All,
    /// One server (`AMIServerID` behind amiws).
    Server(ServerId),
}

/// Identifies a request; its answer comes as [`Output::Reply`] with the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// How long a parked call may wait before Asterisk times it out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ParkTimeout {
    /// The lot's parking time.
    #[default]
    Lot,
    /// This long (sent in milliseconds).
    After(Duration),
    /// Never (`Timeout: 0`): the call waits until someone takes it or it hangs up.
    Never,
}

/// Where to park a call and for how long ([`crate::ParkingClient::park_call`]).
///
/// ```
/// use ami_parking::{Park, ParkTimeout};
/// use std::time::Duration;
/// let p = Park::default().lot("vip").space(805).timeout(Duration::from_secs(120));
/// assert_eq!((p.lot.as_deref(), p.space, p.timeout), (Some("vip"), Some(805), ParkTimeout::After(Duration::from_secs(120))));
/// assert_eq!(Park::default().no_timeout().timeout, ParkTimeout::Never);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Park {
    /// The lot (the default lot when `None`).
    pub lot: Option<String>,
    /// A preferred space: used when free; when taken Asterisk gives the next free one
    /// after it. The answer says which.
    pub space: Option<u32>,
    /// How long the call may wait.
    pub timeout: ParkTimeout,
}

impl Park {
    /// In lot `lot`.
    pub fn lot(mut self, lot: impl Into<String>) -> Self {
        self.lot = Some(lot.into());
        self
    }
    /// Preferably in space `space`.
    pub fn space(mut self, space: u32) -> Self {
        self.space = Some(space);
        self
    }
    /// For `t` at most.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = ParkTimeout::After(t);
        self
    }
    /// With no timeout.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = ParkTimeout::Never;
        self
    }
}

/// A request to start on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `Parkinglots`; the answer is also written into the store.
    ParkingLots,
    /// `ParkedCalls` (one lot or all); the store is reconciled with the answer.
    ParkedCalls {
        /// Only this lot.
        lot: Option<String>,
    },
    /// Resyncs one lot (the seed's `refreshParkingLot`): its range (a `Parkinglots`
    /// the connection sends for itself) and its calls (a `ParkedCalls` of the lot,
    /// whose answer this is).
    RefreshLot {
        /// The lot.
        lot: String,
    },
    /// `Park`; answered with the space Asterisk assigned.
    Park {
        /// The channel to park.
        channel: String,
        /// Where, and for how long.
        park: Park,
    },
    /// Moves the call parked in `space` of `lot` where `to` says (a `Park` of the parked
    /// channel); answered on its `ParkedCall` in the new place.
    Move {
        /// The call's space now.
        space: u32,
        /// Its lot now (the default lot when `None`).
        lot: Option<String>,
        /// Where to (lot, preferred space, timeout).
        to: Park,
    },
    /// Parks the caller of `phone` (a phone's channel name without its suffix,
    /// `PJSIP/1001`): a `Status` list finds the phone's one bridged channel and the
    /// other channel in its bridge, then a `Park` of that channel; answered like
    /// [`Request::Park`].
    ParkCallerOf {
        /// The phone (`PJSIP/1001`): its channels are named `PJSIP/1001-...`.
        phone: String,
        /// Where, and for how long.
        park: Park,
    },
    /// `Originate` to `ParkedCall(lot,space)`; answered on the `UnParkedCall`.
    Retrieve {
        /// The space.
        space: u32,
        /// Where the call goes.
        to_channel: String,
        /// The lot (the default lot when `None`).
        lot: Option<String>,
    },
    /// Any action; answered with its response.
    Action(Action),
    /// Any list action; answered with its items. `complete_event` closes lists of
    /// Asterisk versions that send no `EventList: Complete`.
    List {
        /// The action.
        action: Action,
        /// e.g. `CoreShowChannelsComplete`.
        complete_event: Option<String>,
    },
    /// Any action passed through for someone else (raw AMI only): sent under the
    /// connection's own ActionID (any the action carries is replaced), answered with
    /// [`Reply::Forwarded`]: its response and, for a list (`EventList: start`), every
    /// item and the completing event; for an `Originate` with `Async: true`, also its
    /// `OriginateResponse`. Asterisk's `Response: Error` is an answer like any other.
    Forward(Action),
}

impl Request {
    /// The action's name as errors show it (`Park`, `Originate (retrieve)`, ...).
    ///
    /// ```
    /// assert_eq!(ami_parking::Request::ParkingLots.name(), "Parkinglots");
    /// ```
    pub fn name(&self) -> String {
        match self {
            Request::ParkingLots => "Parkinglots".into(),
            Request::ParkedCalls { .. } | Request::RefreshLot { .. } => "ParkedCalls".into(),
            Request::Park { .. } => "Park".into(),
            Request::Move { .. } => "Park (move)".into(),
            Request::ParkCallerOf { .. } => "Park (caller of a phone)".into(),
            Request::Retrieve { .. } => "Originate (retrieve)".into(),
            Request::Action(a) | Request::List { action: a, .. } | Request::Forward(a) => a.name().into(),
        }
    }
    /// The lot a calls list asks for (`None`: every lot).
    pub(crate) fn listed_lot(&self) -> Option<&str> {
        match self {
            Request::ParkedCalls { lot } => lot.as_deref(),
            Request::RefreshLot { lot } => Some(lot),
            _ => None,
        }
    }
    pub(crate) fn is_list(&self) -> bool {
        matches!(
            self,
            Request::ParkingLots
                | Request::ParkedCalls { .. }
                | Request::RefreshLot { .. }
                | Request::List { .. }
        )
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Lots of every server that answered.
    Lots(Vec<ParkingLot>),
    /// Calls of every server that answered (in (server, lot, space) order), shared
    /// with the store.
    Calls(Vec<Arc<ParkedCall>>),
    /// The call was parked in this space.
    Parked {
        /// Server.
        server_id: ServerId,
        /// Lot.
        lot: String,
        /// Space Asterisk chose.
        space: u32,
        /// The call as parked.
        call: Box<ParkedCall>,
    },
    /// The call moved: it is now in this space.
    Moved {
        /// Server.
        server_id: ServerId,
        /// Its new lot.
        lot: String,
        /// Its new space (Asterisk's choice).
        space: u32,
        /// The call in its new place.
        call: Box<ParkedCall>,
    },
    /// The call was picked up.
    Retrieved {
        /// Server.
        server_id: ServerId,
        /// Lot.
        lot: String,
        /// Space.
        space: u32,
        /// Who took it.
        retriever: Retriever,
    },
    /// The response to a plain action (of the first server that answered).
    Response(Message),
    /// The items of a generic list (every server's, in arrival order).
    List(Vec<Message>),
    /// The whole answer to a [`Request::Forward`], in arrival order, each message
    /// without its ActionID (the caller puts back its own).
    Forwarded(Vec<Message>),
}

/// A one-line summary (what kind of answer, how many items, where), for messages:
/// a reply can hold thousands of calls, so its `Debug` is not one.
///
/// ```
/// use ami_parking::Reply;
/// assert_eq!(Reply::Calls(Vec::new()).to_string(), "a list of 0 parked calls");
/// ```
impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Lots(l) => write!(f, "a list of {} lots", l.len()),
            Reply::Calls(c) => write!(f, "a list of {} parked calls", c.len()),
            Reply::Parked { lot, space, .. } => write!(f, "a call parked in {} space {space}", Quoted(lot)),
            Reply::Moved { lot, space, .. } => write!(f, "a call moved to {} space {space}", Quoted(lot)),
            Reply::Retrieved { lot, space, .. } => {
                write!(f, "a call retrieved from {} space {space}", Quoted(lot))
            }
            Reply::Response(_) => f.write_str("a response to an action"),
            Reply::List(m) => write!(f, "a list of {} messages", m.len()),
            Reply::Forwarded(m) => write!(f, "{} forwarded messages", m.len()),
        }
    }
}

/// Something the connection reports.
#[allow(clippy::large_enum_variant)] // parking events are the common case; boxing them costs more
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The answer to a request.
    Reply {
        /// The request.
        id: RequestId,
        /// Its outcome.
        result: Result<Reply, ParkingError>,
    },
    /// A parking change (also dispatched through the store's listeners and stream).
    Parking(ParkingEvent),
    /// The connection state changed.
    State(ConnectionState),
    /// A server behind amiws logged in again (`Authentication accepted` without
    /// ActionID); the connection resyncs it when `auto_refresh` is on.
    ServerLoggedIn(ServerId),
    /// A server announced a clean shutdown (`Event: Shutdown`).
    ServerShutdown(ServerId),
    /// One amiws frame could not be read; the connection goes on.
    BadFrame(FrameError),
    /// With [`ConnectionConfig::forward_events`](crate::ConnectionConfig::forward_events):
    /// a message from this server that is not an answer of the connection's own.
    Message(ServerId, Message),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_reads_as_one_line_saying_what_it_holds() {
        let (call, lot) = (Box::<ParkedCall>::default, || "default".to_string());
        let replies = [
            Reply::Lots(vec![ParkingLot::unknown_range(1, "default".into()); 2]),
            Reply::Calls(vec![Arc::default(); 3]),
            Reply::Parked { server_id: 1, lot: lot(), space: 701, call: call() },
            Reply::Moved { server_id: 1, lot: lot(), space: 702, call: call() },
            Reply::Retrieved { server_id: 1, lot: lot(), space: 703, retriever: Retriever::default() },
            Reply::Response(Message::default()),
            Reply::List(vec![Message::default(); 4]),
            Reply::Forwarded(vec![Message::default(); 5]),
        ];
        let shown: Vec<String> = replies.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            shown,
            [
                "a list of 2 lots",
                "a list of 3 parked calls",
                "a call parked in \"default\" space 701",
                "a call moved to \"default\" space 702",
                "a call retrieved from \"default\" space 703",
                "a response to an action",
                "a list of 4 messages",
                "5 forwarded messages",
            ]
        );
    }

    #[test]
    fn a_reply_in_an_error_quotes_the_lot_a_server_named() {
        let lot = "x\u{1b}]0;pwned\u{7}".to_string();
        let r = Reply::Parked { server_id: 1, lot, space: 701, call: Box::default() };
        assert_eq!(r.to_string(), r#"a call parked in "x\u{1b}]0;pwned\u{7}" space 701"#);
    }
}
