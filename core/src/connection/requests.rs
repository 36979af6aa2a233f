//! Starting requests: the public request methods, the action each one sends, and
//! the bookkeeping that waits for its answer.

use super::forwarding::Forwarding;
use super::login::LoginPhase;
use super::pending::{Acc, Pending};
use super::request::{Park, ParkTimeout, Request, RequestId, Target};
use super::timers::Timer;
use super::{Connection, Mode};
use crate::error::{ParkingError, Quoted};
use crate::model::display::duration;
use crate::model::ServerId;
use crate::small_map::{SmallMap, SmallSet};
use crate::time::{millis, Timestamp};
use crate::wire::ami_codec::EncodeError;
use crate::wire::{amiws, Action, Message};
use std::time::Duration;

impl Connection {
    /// Starts a request on `target`; the answer comes as [`Output::Reply`](super::Output::Reply).
    ///
    /// Fails at once (nothing sent) when not logged in, when the action cannot be
    /// encoded, when no server or several could take it, or (retrieve) when the store
    /// knows the space is empty.
    pub fn request(
        &mut self,
        now: Timestamp,
        req: Request,
        target: Target,
    ) -> Result<RequestId, ParkingError> {
        match req {
            Request::RefreshLot { lot } => {
                self.start(now, Request::ParkingLots, target, None, true)?;
                self.start(now, Request::ParkedCalls { lot: Some(lot) }, target, None, false)
            }
            req => self.start(now, req, target, None, false),
        }
    }

    /// Like [`Connection::request`] with a caller-chosen ActionID. For replaying
    /// captures in tests; normal callers let the connection choose unique ids.
    #[doc(hidden)]
    pub fn request_with_action_id(
        &mut self,
        now: Timestamp,
        req: Request,
        target: Target,
        action_id: &str,
    ) -> Result<RequestId, ParkingError> {
        self.start(now, req, target, Some(action_id.to_owned()), false)
    }

    /// Sends Logoff (a graceful goodbye); the transport closes the link after writing it.
    pub fn logoff(&mut self) {
        if self.cfg.mode.is_raw() && self.login.phase != LoginPhase::Down {
            let id = self.ids.next();
            let _ = self.send(&Action::new("Logoff"), &id, None);
        }
    }

    pub(super) fn start(
        &mut self,
        now: Timestamp,
        req: Request,
        target: Target,
        action_id: Option<String>,
        internal: bool,
    ) -> Result<RequestId, ParkingError> {
        if let Request::Retrieve { lot: Some(lot), .. } = &req {
            application_arg(lot)?;
        }
        if matches!(req, Request::Forward(_)) && self.cfg.mode == Mode::Amiws {
            return Err(ParkingError::ForwardNeedsRawAmi { action: req.name() });
        }
        if self.login.phase != LoginPhase::Up {
            return Err(ParkingError::NotLoggedIn { action: req.name() });
        }
        let target = self.resolve_target(&req, target)?;
        let server = match target {
            Target::Server(s) => s,
            Target::All => self.cfg.server_id,
        };
        let channel = self.check_before_sending(&req, server)?;
        let action = self.action_for(&req, channel.as_deref())?;
        let aid = action_id.unwrap_or_else(|| self.ids.next());
        let server_header = match target {
            // Only amiws has servers to name: raw AMI's requests resolve to `All`.
            Target::Server(s) => Some(s),
            Target::All => None,
        };
        self.send(&action, &aid, server_header)?;
        let id = self.requests.next();
        let expected = match (self.cfg.mode, target) {
            #[cfg(feature = "raw-ami")]
            (Mode::Ami, _) => Some(one(self.cfg.server_id)),
            (Mode::Amiws, Target::Server(s)) => Some(one(s)),
            (Mode::Amiws, Target::All) if self.known_servers.is_empty() => None,
            (Mode::Amiws, Target::All) => Some(self.known_servers.clone()),
        };
        let acc = self.collector_for(&req, channel);
        if req.is_list() {
            self.store.loading_begin();
        }
        self.ids.bind(aid.clone(), id);
        let deadline = now + self.wait_for(&req);
        self.timers.set(Timer::Request(id), deadline);
        let done = SmallMap::new();
        self.pending.insert(
            id,
            Box::new(Pending {
                req,
                internal,
                action_id: aid,
                target,
                expected,
                done,
                started: SmallSet::new(),
                deadline,
                replied: false,
                acc,
            }),
        );
        Ok(id)
    }

    /// What the store knows refuses a request before anything is sent (an empty space
    /// to move, a full or unknown lot); the channel whose `ParkedCall` answers a park
    /// or a move.
    fn check_before_sending(&self, req: &Request, server: ServerId) -> Result<Option<String>, ParkingError> {
        let default_lot = self.store.options().default_parking_lot.clone();
        let lot_or_default = |lot: &Option<String>| lot.as_deref().unwrap_or(&default_lot).to_owned();
        let channel = match req {
            Request::Park { channel, .. } => Some(channel.clone()),
            Request::Move { space, lot, .. } => {
                let lot = lot_or_default(lot);
                let call = self.store.raw_call(server, &lot, *space);
                if call.is_none() {
                    self.store.check_lot_named(server, &lot)?;
                }
                Some(call.map(|c| c.channel().to_string()).ok_or(ParkingError::SpaceEmpty {
                    lot,
                    space: *space,
                    server_id: Some(server),
                })?)
            }
            _ => None,
        };
        match req {
            Request::Park { park, .. } | Request::ParkCallerOf { park, .. } => {
                self.store.check_lot(server, &lot_or_default(&park.lot))?
            }
            // Within its own lot a call always has room: its own space.
            Request::Move { lot, to, .. } if lot_or_default(&to.lot) != lot_or_default(lot) => {
                self.store.check_lot(server, &lot_or_default(&to.lot))?
            }
            _ => {}
        }
        Ok(channel)
    }

    /// What collects request `req`'s answer.
    fn collector_for(&self, req: &Request, channel: Option<String>) -> Acc {
        match req {
            Request::ParkingLots => Acc::Lots { items: SmallMap::new(), lots: Vec::new() },
            Request::ParkedCalls { .. } | Request::RefreshLot { .. } => {
                Acc::Calls { window: self.store.open_window(), items: SmallMap::new(), calls: Vec::new() }
            }
            Request::List { .. } => Acc::List { items: SmallMap::new() },
            Request::Park { .. } | Request::Move { .. } => {
                Acc::Park { accepted: false, channel: channel.unwrap_or_default() }
            }
            Request::ParkCallerOf { .. } => Acc::CallerOf { items: Vec::new() },
            Request::Retrieve { .. } => Acc::Retrieve,
            Request::Action(_) => Acc::Action { response: None },
            Request::Forward(a) => Acc::Forward(Forwarding::new(a)),
        }
    }

    /// How long request `req` may take: `request_timeout`, plus the ring time for a
    /// retrieve (the retriever's phone rings before the `UnParkedCall`).
    pub(super) fn wait_for(&self, req: &Request) -> Duration {
        match req {
            Request::Retrieve { .. } => self.cfg.request_timeout + self.store.options().retrieve_ring_timeout,
            Request::Forward(a) => self.cfg.request_timeout + super::forwarding::extra_wait(a),
            _ => self.cfg.request_timeout,
        }
    }

    /// The action `req` sends (without its ActionID); `channel` is the parked call's
    /// for a move.
    fn action_for(&self, req: &Request, channel: Option<&str>) -> Result<Action, ParkingError> {
        let default_lot = &self.store.options().default_parking_lot;
        Ok(match req {
            Request::ParkingLots => Action::new("Parkinglots"),
            Request::ParkedCalls { .. } | Request::RefreshLot { .. } => {
                Action::new("ParkedCalls").header_opt("ParkingLot", req.listed_lot())
            }
            Request::Move { to, .. } => park_action(channel.unwrap_or_default(), to, default_lot)?,
            Request::Park { channel, park } => park_action(channel, park, default_lot)?,
            Request::ParkCallerOf { phone, park } => {
                // The Park comes later, once the list named the caller: its arguments
                // are refused now, before anything is sent.
                phone_arg(phone)?;
                park_action(phone, park, default_lot)?;
                Action::new("Status")
            }
            Request::Retrieve { space, to_channel, lot } => Action::new("Originate")
                .header("Channel", to_channel)
                .header("Application", "ParkedCall")
                .header(
                    "Data",
                    format!("{},{space}", application_arg(lot.as_deref().unwrap_or(default_lot))?),
                )
                .header("Timeout", millis(self.store.options().retrieve_ring_timeout).to_string())
                .header("Async", "true"),
            Request::Action(a) | Request::List { action: a, .. } | Request::Forward(a) => a.clone(),
        })
    }

    /// Queues `action` with its ActionID (and, behind amiws, the server it names); an
    /// ActionID the action carries itself is replaced (answers are told apart by ours).
    pub(super) fn send(
        &mut self,
        action: &Action,
        action_id: &str,
        server: Option<ServerId>,
    ) -> Result<(), EncodeError> {
        let source = action.as_message();
        let mut m = Message::with_capacity(source.len() + 1, source.heap_bytes() + action_id.len() + 8);
        for (k, v) in source.iter().filter(|(k, _)| !k.eq_ignore_ascii_case(b"ActionID")) {
            m.push(k, v);
        }
        m.push(b"ActionID", action_id.as_bytes());
        let mut out = Vec::with_capacity(128);
        match self.cfg.mode {
            #[cfg(feature = "raw-ami")]
            Mode::Ami => crate::wire::ami_codec::encode_message(&m, &mut out)?,
            Mode::Amiws => amiws::encode_message(&m, server, &mut out)?,
        }
        self.transmit.push_back(out);
        Ok(())
    }
}

/// A lot name as one argument of a dialplan application: `ParkedCall(lot,space)`
/// splits its data at `,` (and older Asterisk at `|`), so a lot name holding one
/// would change the call's arguments.
fn application_arg(lot: &str) -> Result<&str, ParkingError> {
    if lot.contains([',', '|']) {
        return Err(ParkingError::InvalidArgument(format!(
            "lot name {} holds ',' or '|', which would split ParkedCall's arguments; no Asterisk lot is named so",
            Quoted(lot)
        )));
    }
    Ok(lot)
}

/// A phone's name as [`Request::ParkCallerOf`] takes it: `TECH/name`, no `-` suffix.
fn phone_arg(phone: &str) -> Result<(), ParkingError> {
    let ok = phone.split_once('/').is_some_and(|(tech, name)| !tech.is_empty() && !name.is_empty())
        && !phone.ends_with('-')
        && !phone.chars().any(|c| c.is_control() || c.is_whitespace());
    if !ok {
        return Err(ParkingError::InvalidArgument(format!(
            "phone {} is not a phone's name; give it as Asterisk names the phone's channels without their suffix, e.g. PJSIP/1001",
            Quoted(phone)
        )));
    }
    Ok(())
}

/// `Park` of `channel` where `park` says (a parked channel: a move).
pub(super) fn park_action(channel: &str, park: &Park, default_lot: &str) -> Result<Action, ParkingError> {
    let ms = match park.timeout {
        ParkTimeout::After(t) if t.as_millis() > i32::MAX as u128 => {
            return Err(ParkingError::InvalidArgument(format!(
                "park timeout {} is longer than Asterisk accepts",
                duration(t)
            )))
        }
        // Asterisk counts in milliseconds: under one is sent as 0, no timeout at all.
        ParkTimeout::After(t) if t.as_millis() == 0 => {
            return Err(ParkingError::InvalidArgument(
                "a park timeout under a millisecond means no timeout to Asterisk; say ParkTimeout::Never"
                    .into(),
            ))
        }
        ParkTimeout::After(t) => Some(millis(t).to_string()),
        ParkTimeout::Never => Some("0".to_string()),
        ParkTimeout::Lot => None,
    };
    Ok(Action::new("Park")
        .header("Channel", channel)
        .header("Parkinglot", park.lot.as_deref().unwrap_or(default_lot))
        .header_opt("ParkingSpace", park.space.map(|s| s.to_string()))
        .header_opt("Timeout", ms))
}

/// A set of one server.
fn one(server: ServerId) -> SmallSet<ServerId> {
    SmallSet::one(server)
}
