//! The one way a page acts: every park, retrieve and move goes through a [`Desk`],
//! which checks the user's role, lots, phone and session on the server (whatever the
//! page sent), writes the audit record, and times the answer.

use crate::audit::{Audit, AuditRecord};
use crate::metrics::Metrics;
use crate::sessions::Sessions;
use crate::users::Principal;
use ami_parking::{
    MovedTo, Park, ParkedAt, ParkedCall, ParkedCaller, ParkingClient, ParkingError, RetrievedFrom, ServerId,
    Target,
};
use ami_parking_transport::Client;
use std::sync::Arc;
use std::time::Instant;

/// Why an action did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeskError {
    /// The board refused it (role, lot, session): nothing reached Asterisk.
    #[error("not allowed: {0}")]
    Refused(String),
    /// Asterisk or the link refused it.
    #[error(transparent)]
    Parking(#[from] ParkingError),
    /// The user started more actions than [`ACTIONS_PER_SECOND`](crate::limits::ACTIONS_PER_SECOND)
    /// allows: nothing reached Asterisk, and nothing is audited (a flood of them would
    /// fill the audit log), only counted.
    #[error(
        "too many actions: at most {} a second (bursts of {}); wait a moment",
        crate::limits::ACTIONS_PER_SECOND,
        crate::limits::ACTION_BURST
    )]
    TooMany,
}

/// A session a page belongs to: its actions stop when the session ends.
#[derive(Clone)]
pub struct SessionRef {
    /// The board's sessions.
    pub sessions: Sessions,
    /// This page's token.
    pub token: String,
}

/// The token is a password: it is never shown.
impl std::fmt::Debug for SessionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRef").field("token", &"***").finish_non_exhaustive()
    }
}

/// A user at the board: what the page may see and do, checked on the server.
#[derive(Clone)]
pub struct Desk {
    /// Every server's client.
    pub client: Client,
    /// Who the page acts for.
    /// (Shared: a page clones its desk into every cell it renders.)
    pub who: Arc<Principal>,
    session: Option<Arc<SessionRef>>,
    audit: Audit,
    metrics: Metrics,
    history: Option<ami_parking_history::History>,
    history_link: bool,
    rates: crate::limits::ActionRates,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk").field("who", &self.who).finish_non_exhaustive()
    }
}

impl PartialEq for Desk {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.who, &other.who) || self.who == other.who
    }
}

impl Desk {
    /// `who` at the board; `session`, when there are logins, ends its actions with it.
    pub fn new(
        client: Client,
        who: Principal,
        session: Option<SessionRef>,
        audit: Audit,
        metrics: Metrics,
    ) -> Desk {
        let (who, session) = (Arc::new(who), session.map(Arc::new));
        Desk {
            client,
            who,
            session,
            audit,
            metrics,
            history: None,
            history_link: false,
            rates: Default::default(),
        }
    }

    /// Shares `rates` (the board's, one bucket per user for all their pages) instead
    /// of a bucket of this desk's own.
    pub fn with_rates(mut self, rates: crate::limits::ActionRates) -> Desk {
        self.rates = rates;
        self
    }

    /// Records who parks and retrieves in `history` (the rows name the board user);
    /// `link`: the page links to the History page.
    pub fn with_history(mut self, history: Option<ami_parking_history::History>, link: bool) -> Desk {
        self.history_link = link && history.is_some();
        self.history = history;
        self
    }

    /// Whether the page links to the History page.
    pub fn history_link(&self) -> bool {
        self.history_link
    }

    /// Whether the page belongs to a login session (it then shows the user and a
    /// logout button).
    pub fn logged_in(&self) -> bool {
        self.session.is_some()
    }

    /// Whether the page shows lot `lot`.
    pub fn sees(&self, lot: &str) -> bool {
        self.who.sees(lot)
    }

    /// Whether the user is scoped to some lots (no park form by channel then).
    pub fn scoped(&self) -> bool {
        self.who.lots.is_some()
    }

    /// Whether the page shows controls (park form, clickable calls).
    pub fn acts(&self) -> bool {
        self.who.acts()
    }

    /// Where a retrieve rings: the user's phone, or (only on a board without logins)
    /// the channel typed on the page.
    pub fn destination(&self, typed: &str) -> String {
        self.who.phone.clone().unwrap_or_else(|| typed.trim().to_string())
    }

    fn check(&self, lot: &str) -> Result<(), DeskError> {
        if let Some(s) = &self.session {
            if !s.sessions.is_live(&s.token) {
                return Err(DeskError::Refused("the session has ended: log in again".into()));
            }
        }
        if !self.who.acts() {
            return Err(DeskError::Refused(format!("{} is a viewer", self.who.name)));
        }
        if !self.who.sees(lot) {
            return Err(DeskError::Refused(format!("{} may not use lot {lot}", self.who.name)));
        }
        Ok(())
    }

    /// Takes one of the user's actions a second (once per action, before its checks:
    /// refused attempts count too, so forged ones cannot fill the audit log).
    fn pace(&self) -> Result<(), DeskError> {
        if self.rates.take(&self.who.name, Instant::now()) {
            Ok(())
        } else {
            Err(DeskError::TooMany)
        }
    }

    fn finish<T>(&self, mut r: AuditRecord, started: Instant, out: &Result<T, DeskError>) {
        r.result = match out {
            Ok(_) => "ok".into(),
            Err(DeskError::Refused(why)) => format!("refused: {why}"),
            Err(DeskError::Parking(e)) => format!("failed: {e}"),
            Err(DeskError::TooMany) => {
                self.metrics.refused();
                return;
            }
        };
        if !matches!(out, Err(DeskError::Refused(_))) {
            self.metrics.request(r.action, out.is_ok(), started.elapsed());
        }
        self.audit.record(&r);
    }

    /// Retrieves `call` to the user's phone (`typed` only without logins).
    pub async fn retrieve(&self, call: &ParkedCall, typed: &str) -> Result<RetrievedFrom, DeskError> {
        let started = Instant::now();
        let to = self.destination(typed);
        let mut r = AuditRecord::new(&self.who, "retrieve");
        r.server = Some(call.server_id);
        r.lot = call.parking_lot.to_string();
        r.space = Some(call.parking_space);
        r.channel = call.channel().to_string();
        r.destination = Some(to.clone());
        let out = match self.pace().and_then(|()| self.check(&call.parking_lot)) {
            Err(e) => Err(e),
            Ok(()) if to.is_empty() => {
                Err(DeskError::Refused("no channel to ring: fill in Retrieve to".into()))
            }
            Ok(()) => {
                if let Some(h) = &self.history {
                    h.note_retrieve(call.server_id, &call.parking_lot, call.parking_space, &self.who.name);
                }
                self.client.retrieve_parked_call(call, &to).await.map_err(DeskError::from)
            }
        };
        self.finish(r, started, &out);
        out
    }

    /// Parks `channel` on `server` with `park` (its lot must be one of the user's).
    pub async fn park(&self, server: ServerId, channel: &str, park: Park) -> Result<ParkedAt, DeskError> {
        let started = Instant::now();
        let lot = park.lot.clone().unwrap_or_else(|| "default".into());
        let mut r = AuditRecord::new(&self.who, "park");
        r.server = Some(server);
        r.lot = lot.clone();
        r.channel = channel.to_string();
        let out = match self.pace().and_then(|()| self.check(&lot)) {
            Err(e) => Err(e),
            Ok(()) if channel.trim().is_empty() => {
                Err(DeskError::Refused("which channel? e.g. PJSIP/1001-00000001".into()))
            }
            // Parking any channel of the PBX by name is the supervisors' (users of
            // every lot): a user scoped to lots parks the caller of their own phone.
            Ok(()) if self.who.lots.is_some() => Err(DeskError::Refused(
                "parking a call by its channel is for supervisors (users of every lot): use Park my caller"
                    .into(),
            )),
            // Asterisk looks a Park's channel up by name, then by unique id: only a
            // name is taken (a unique id would reach a call in any lot).
            Ok(()) if !is_channel_name(channel.trim()) => Err(DeskError::Refused(
                "not a channel name: TECH/name in printable characters, e.g. PJSIP/1001-00000001".into(),
            )),
            // Asterisk parks a parked channel again as a move: from any lot, so also
            // from one this user may not see. A move is move_call's, checked both ways.
            Ok(()) if self.is_parked(server, channel.trim()) => {
                Err(DeskError::Refused("that channel is parked already: retrieve or move it instead".into()))
            }
            Ok(()) => {
                if let Some(h) = &self.history {
                    h.note_park(server, channel.trim(), &self.who.name);
                }
                self.client
                    .park_call_on(Target::Server(server), channel.trim(), park)
                    .await
                    .map_err(DeskError::from)
            }
        };
        if let Ok(at) = &out {
            r.space = Some(at.space);
        }
        self.finish(r, started, &out);
        out
    }

    /// Parks the caller on the line with the user's phone (`typed` only without
    /// logins) into `park`'s lot on `server` (one of the user's lots).
    pub async fn park_caller_of(
        &self,
        server: ServerId,
        typed: &str,
        park: Park,
    ) -> Result<ParkedCaller, DeskError> {
        let started = Instant::now();
        let lot = park.lot.clone().unwrap_or_else(|| "default".into());
        let phone = self.destination(typed);
        let mut r = AuditRecord::new(&self.who, "park_caller_of");
        r.server = Some(server);
        r.lot = lot.clone();
        r.destination = Some(phone.clone());
        let out = match self.pace().and_then(|()| self.check(&lot)) {
            Err(e) => Err(e),
            Ok(()) if phone.is_empty() => Err(DeskError::Refused(
                "which phone is yours? type it under \"My phone\", e.g. PJSIP/1001".into(),
            )),
            Ok(()) => self
                .client
                .park_caller_of_on(Target::Server(server), &phone, park)
                .await
                .map_err(DeskError::from),
        };
        if let Ok(at) = &out {
            r.space = Some(at.space);
            r.channel = at.call.channel().to_string();
        }
        self.finish(r, started, &out);
        out
    }

    /// Whether `channel` is parked now on `server` (whatever lot; another server may
    /// have a channel of the same name).
    fn is_parked(&self, server: ServerId, channel: &str) -> bool {
        self.client.store().is_channel_parked_now(Some(server), channel)
    }

    /// Moves `call` to `to` (both lots must be the user's).
    pub async fn move_call(&self, call: &ParkedCall, to: Park) -> Result<MovedTo, DeskError> {
        let started = Instant::now();
        let to_lot = to.lot.clone().unwrap_or_else(|| call.parking_lot.to_string());
        let mut r = AuditRecord::new(&self.who, "move");
        r.server = Some(call.server_id);
        r.lot = call.parking_lot.to_string();
        r.space = Some(call.parking_space);
        r.channel = call.channel().to_string();
        r.destination = Some(to_lot.clone());
        let out = match self
            .pace()
            .and_then(|()| self.check(&call.parking_lot))
            .and_then(|()| self.check(&to_lot))
        {
            Err(e) => Err(e),
            Ok(()) => self
                .client
                .move_call_on(Target::Server(call.server_id), Some(&call.parking_lot), call.parking_space, to)
                .await
                .map_err(DeskError::from),
        };
        if let Ok(m) = &out {
            r.destination = Some(format!("{} {}", m.lot, m.space));
        }
        self.finish(r, started, &out);
        out
    }
}

/// A channel name as Asterisk writes them: `TECH/name`, the technology of letters,
/// digits and `_`, printable ASCII without spaces, at most 128 bytes (what the
/// bridge's policy takes too).
pub fn is_channel_name(c: &str) -> bool {
    c.len() <= 128
        && c.split_once('/').is_some_and(|(tech, name)| {
            !tech.is_empty()
                && tech.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.is_empty()
        })
        && c.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_refs_debug_never_shows_its_token() {
        let sessions = Sessions::new(std::time::Duration::from_secs(60));
        let token = "s3cret-session-token-0123456789".to_string();
        let shown = format!("{:?}", SessionRef { sessions, token: token.clone() });
        assert!(!shown.contains(&token) && shown.contains("***"), "{shown}");
    }
}
