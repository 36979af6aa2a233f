//! A request in flight: who it is for, which servers must answer, and one
//! accumulator per request kind for what the answers carry.

use super::forwarding::Forwarding;
use super::request::{Reply, Request, RequestId, Target};
use crate::error::ParkingError;
use crate::model::{ParkedCall, ParkingLot, ServerId};
use crate::small_map::{SmallMap, SmallSet};
use crate::store::WindowId;
use crate::time::Timestamp;
use crate::wire::inbound::Shape;
use crate::wire::Message;
use std::sync::Arc;

/// What a request collects until it is answered.
#[derive(Debug)]
pub(super) enum Acc {
    /// `Parkinglots`: items per server until its list ends, then the lots answered.
    Lots { items: SmallMap<ServerId, Vec<ParkingLot>>, lots: Vec<ParkingLot> },
    /// `ParkedCalls`: items per server until its list ends (then the store reconciles
    /// them, within the window opened when the request started), and the calls answered.
    Calls { window: WindowId, items: SmallMap<ServerId, Vec<ParkedCall>>, calls: Vec<Arc<ParkedCall>> },
    /// A generic list: items per server.
    List { items: SmallMap<ServerId, Vec<Message>> },
    /// `Park` (also of a parked call: a move): whether Asterisk accepted it, and the
    /// channel whose `ParkedCall` event answers it.
    Park { accepted: bool, channel: String },
    /// Park the caller of a phone, first step: the `Status` list's items. Once it
    /// ends, the request becomes an [`Acc::Park`] of the caller's channel.
    CallerOf { items: Vec<Message> },
    /// `Originate` to `ParkedCall` (the answer is the `UnParkedCall` event).
    Retrieve,
    /// A plain action: the first response.
    Action { response: Option<Message> },
    /// A forwarded action: its whole answer.
    Forward(Forwarding),
}

impl Acc {
    /// How answers' items are to be read.
    pub(super) fn shape(&self) -> Shape {
        match self {
            Acc::Lots { .. } => Shape::Lots,
            Acc::Calls { .. } => Shape::Calls,
            Acc::Forward(_) => Shape::Whole,
            _ => Shape::Messages,
        }
    }

    /// The answer made of what was collected (park and retrieve answer on their
    /// events, never here).
    pub(super) fn take_reply(&mut self) -> Option<Reply> {
        Some(match self {
            Acc::Lots { lots, .. } => Reply::Lots(std::mem::take(lots)),
            Acc::Calls { calls, .. } => {
                let mut calls = std::mem::take(calls);
                crate::model::sort_calls(&mut calls, |a, b| a.sort_key().cmp(&b.sort_key()));
                Reply::Calls(calls)
            }
            Acc::List { items } => Reply::List(items.values_mut().flat_map(std::mem::take).collect()),
            Acc::Action { response } => Reply::Response(response.take().unwrap_or_default()),
            Acc::Forward(f) => Reply::Forwarded(f.take()),
            Acc::Park { .. } | Acc::CallerOf { .. } | Acc::Retrieve => return None,
        })
    }
}

#[derive(Debug)]
pub(super) struct Pending {
    pub(super) req: Request,
    /// Started by the connection itself (refresh, poll, keep-alive): never answered
    /// as an [`Output::Reply`](super::Output::Reply).
    pub(super) internal: bool,
    pub(super) action_id: String,
    pub(super) target: Target,
    /// The servers that must answer (`None`: behind amiws before any server is known;
    /// the first answer completes it).
    pub(super) expected: Option<SmallSet<ServerId>>,
    /// The servers that answered, with their outcome.
    pub(super) done: SmallMap<ServerId, Result<(), ParkingError>>,
    /// Behind amiws with the servers unknown (`expected` is `None`): the servers that
    /// have begun to answer. The request waits for each of them to finish, so a
    /// one-shot list is not answered with the first server's part alone.
    pub(super) started: SmallSet<ServerId>,
    /// The request's own deadline (its timer may be moved earlier to settle a fan-out).
    pub(super) deadline: Timestamp,
    /// Answered already (a fan-out list lingers for late servers).
    pub(super) replied: bool,
    pub(super) acc: Acc,
}

impl Pending {
    /// True when an answer from `server` concerns this request (behind amiws, a
    /// request for one server ignores the others).
    pub(super) fn hears(&self, server: ServerId) -> bool {
        self.target == Target::All || self.target == Target::Server(server)
    }

    /// True once every expected server answered.
    pub(super) fn all_done(&self) -> bool {
        match &self.expected {
            Some(exp) => exp.iter().all(|s| self.done.contains_key(s)),
            None => self.started.iter().all(|s| self.done.contains_key(s)),
        }
    }

    /// Its answer at its deadline: what the servers that answered said (lists and
    /// plain actions), or a timeout.
    pub(super) fn partial_ok(&self) -> bool {
        matches!(self.acc, Acc::Lots { .. } | Acc::Calls { .. } | Acc::List { .. } | Acc::Action { .. })
            && self.done.values().any(|r| r.is_ok())
    }

    /// A refused automatic refresh (tried again later).
    pub(super) fn is_refresh(&self) -> bool {
        self.internal && matches!(self.req, Request::ParkingLots | Request::ParkedCalls { .. })
    }
}

/// Ids for requests.
#[derive(Debug, Default)]
pub(super) struct RequestIds(u64);

impl RequestIds {
    pub(super) fn next(&mut self) -> RequestId {
        self.0 += 1;
        RequestId(self.0)
    }
}
