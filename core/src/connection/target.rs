//! Which server a request goes to, decided in one place.
//!
//! Raw AMI has one server. Behind amiws a request may name one ([`Target::Server`])
//! or go to all ([`Target::All`]); a park or retrieve, which acts on one server,
//! is sent where it can act, or refused with a clear error when that is unknown or
//! ambiguous. [`pick_server`] is that rule, shared with applications that hold
//! several connections (`parkwatch` uses it across its `--url`s).

use super::config::Mode;
use super::request::{Request, Target};
use super::Connection;
use crate::error::ParkingError;
use crate::model::ServerId;

/// Picks the one server that `action` goes to.
///
/// `known` are the servers that could take it; `having`, when the action needs a
/// particular one (a retrieve needs the server where the call is parked), those that
/// qualify. With none qualifying, `if_none` is the error (e.g. "nothing is parked
/// there" when every server's calls are known); without it, a single known server is
/// tried anyway.
///
/// ```
/// use ami_parking::{pick_server, ParkingError};
/// assert_eq!(pick_server("Park", &[2], None, None), Ok(2));
/// assert_eq!(pick_server("retrieve", &[1, 2], Some(&[2]), None), Ok(2));
/// assert!(matches!(pick_server("Park", &[1, 2], None, None), Err(ParkingError::AmbiguousServer { .. })));
/// assert!(matches!(pick_server("Park", &[], None, None), Err(ParkingError::NoServerYet { .. })));
/// ```
pub fn pick_server(
    action: &str,
    known: &[ServerId],
    having: Option<&[ServerId]>,
    if_none: Option<ParkingError>,
) -> Result<ServerId, ParkingError> {
    let ambiguous = |servers: &[ServerId]| ParkingError::AmbiguousServer {
        action: action.into(),
        servers: servers.to_vec(),
    };
    match (known, having, if_none) {
        ([], _, _) => Err(ParkingError::NoServerYet { action: action.into() }),
        (_, Some([one]), _) => Ok(*one),
        (_, Some([]), Some(none)) => Err(none),
        ([one], Some([]) | None, _) => Ok(*one),
        (_, Some([]) | None, _) => Err(ambiguous(known)),
        (_, Some(several), _) => Err(ambiguous(several)),
    }
}

impl Connection {
    /// Where `req` goes: raw AMI's one server, the server it names, or (park and
    /// retrieve behind amiws) the one server that can act. A retrieve of a space the
    /// store knows to be empty is refused here, before anything is sent.
    pub(super) fn resolve_target(&self, req: &Request, target: Target) -> Result<Target, ParkingError> {
        let known: Vec<ServerId> = self.known_servers.iter().copied().collect();
        match (req, self.cfg.mode, target) {
            #[cfg(feature = "raw-ami")]
            (Request::Retrieve { space, lot, .. } | Request::Move { space, lot, .. }, Mode::Ami, _) => {
                self.check_occupied(lot.as_deref(), *space, self.cfg.server_id)?;
                Ok(Target::All)
            }
            #[cfg(feature = "raw-ami")]
            (_, Mode::Ami, _) => Ok(Target::All),
            (
                Request::Retrieve { space, lot, .. } | Request::Move { space, lot, .. },
                Mode::Amiws,
                Target::Server(s),
            ) => {
                self.check_occupied(lot.as_deref(), *space, s)?;
                Ok(target)
            }
            (
                Request::Retrieve { space, lot, .. } | Request::Move { space, lot, .. },
                Mode::Amiws,
                Target::All,
            ) => {
                let lot = lot.as_deref().unwrap_or(&self.store.options().default_parking_lot);
                let store = &self.store;
                let having: Vec<ServerId> =
                    known.iter().copied().filter(|s| store.holds_call(*s, lot, *space)).collect();
                let knows_all = !known.is_empty() && known.iter().all(|s| store.is_synced(*s));
                let server_id = (known.len() == 1).then(|| known[0]);
                let empty = ParkingError::SpaceEmpty { lot: lot.into(), space: *space, server_id };
                pick_server(&req.name(), &known, Some(&having), knows_all.then_some(empty))
                    .map(Target::Server)
            }
            (Request::Park { .. } | Request::ParkCallerOf { .. }, Mode::Amiws, Target::All) => {
                pick_server(&req.name(), &known, None, None).map(Target::Server)
            }
            (_, Mode::Amiws, t) => Ok(t),
        }
    }

    fn check_occupied(&self, lot: Option<&str>, space: u32, server: ServerId) -> Result<(), ParkingError> {
        let lot = lot.unwrap_or(&self.store.options().default_parking_lot);
        if self.store.is_synced(server) && !self.store.holds_call(server, lot, space) {
            // A lot the server's list does not name is a typo, not an empty space.
            self.store.check_lot_named(server, lot)?;
            return Err(ParkingError::SpaceEmpty { lot: lot.into(), space, server_id: Some(server) });
        }
        Ok(())
    }
}
