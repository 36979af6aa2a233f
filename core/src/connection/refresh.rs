//! Keeping the store in step with Asterisk: the refresh after every login (and
//! behind amiws after a server's re-login), the optional poll, and the retry of an
//! automatic refresh Asterisk refused (right after a restart its modules may still be
//! loading).

use super::login::LoginPhase;
use super::request::{Request, Target};
use super::timers::Timer;
use super::Connection;
use crate::model::ServerId;
use crate::small_map::SmallSet;
use crate::time::Timestamp;
use std::time::Duration;

/// Delay before a refused automatic refresh is tried again (doubling after each
/// failure in a row, up to a minute).
const REFRESH_RETRY: Duration = Duration::from_secs(1);
const REFRESH_RETRY_MAX: Duration = Duration::from_secs(60);

/// The automatic refresh's retry state.
#[derive(Debug, Default)]
pub(super) struct Refresh {
    /// What the pending retry covers.
    retry: Option<Target>,
    /// Automatic refreshes refused in a row.
    failures: u32,
    /// Servers that wanted a refresh while one covering them was in flight: when that
    /// one ends without their answer, they get their own.
    deferred: SmallSet<ServerId>,
}

impl Connection {
    /// Lists the lots and the calls of `target` (internal requests).
    pub(super) fn refresh(&mut self, now: Timestamp, target: Target) {
        let _ = self.start(now, Request::ParkingLots, target, None, true);
        let _ = self.start(now, Request::ParkedCalls { lot: None }, target, None, true);
    }

    /// A live `ParkedCall` (or swap) or a `ParkedCalls` answer made known a lot
    /// `server`'s `Parkinglots` answer did not list (Asterisk made a dynamic lot at a
    /// `Park` since), or put a call outside the lot's listed range (a reload changed
    /// it): its lots are listed again when `auto_refresh` is on, so the lot's range
    /// and size become known (its grid, its spaces). Once per lot and change while
    /// Asterisk's lists agree with its events: the lot is known, or its range unknown,
    /// from then on (a server whose lists never name a lot it parks in can make one
    /// list per live event or answer that makes the lot known again, never more).
    /// Also when a list is in flight already: it may have been taken before Asterisk
    /// made the lot.
    pub(super) fn learn_lots(&mut self, now: Timestamp, server: ServerId) {
        if self.store.options().auto_refresh && self.login.phase == LoginPhase::Up {
            let _ = self.start(now, Request::ParkingLots, Target::Server(server), None, true);
        }
    }

    /// `server` needs a refresh (it is new, or it logged in again behind amiws). When
    /// a refresh that covers it is in flight and it has not answered it yet, that one
    /// is enough (connecting to amiws brings both signals at once, on top of the
    /// refresh after login): it gets its own only if that one ends without its answer.
    pub(super) fn want_refresh(&mut self, now: Timestamp, server: ServerId) {
        let covered = self.pending.values().any(|p| {
            p.is_refresh()
                && matches!(p.req, Request::ParkedCalls { lot: None })
                && p.hears(server)
                && !p.done.contains_key(&server)
        });
        if covered {
            self.refreshing.deferred.insert(server);
        } else {
            self.refresh(now, Target::Server(server));
        }
    }

    /// A parking event was lost (unreadable, or in an amiws frame that could not be
    /// read: `server` unknown): whatever it changed, a list of the server's calls (of
    /// every known server when unknown) brings the store back in step, when
    /// `auto_refresh` is on. Refreshes already in flight cover it.
    pub(super) fn lost_event(&mut self, now: Timestamp, server: Option<ServerId>) {
        if !self.store.options().auto_refresh || self.login.phase != LoginPhase::Up {
            return;
        }
        let servers: Vec<ServerId> = match server {
            Some(s) => vec![s],
            None => self.known_servers.iter().copied().collect(),
        };
        for s in servers {
            self.want_refresh(now, s);
        }
    }

    /// An automatic `ParkedCalls` refresh ended: deferred servers it did not hear from
    /// get their own refresh; those it heard from are done.
    pub(super) fn refresh_ended(&mut self, now: Timestamp, answered: &SmallSet<ServerId>) {
        let deferred = std::mem::take(&mut self.refreshing.deferred);
        for server in deferred {
            if !answered.contains(&server) && self.login.phase == LoginPhase::Up {
                self.want_refresh(now, server);
            }
        }
    }

    pub(super) fn schedule_poll(&mut self, now: Timestamp) {
        let every = self.store.options().poll_interval;
        if every.is_zero() || self.login.phase != LoginPhase::Up {
            self.timers.stop(Timer::Poll);
        } else {
            self.timers.set(Timer::Poll, now + every);
        }
    }

    /// The poll and the refresh retry, when due.
    pub(super) fn refresh_timers(&mut self, now: Timestamp) {
        if self.timers.is_due(Timer::RefreshRetry, now) {
            self.timers.stop(Timer::RefreshRetry);
            if let Some(target) = self.refreshing.retry.take() {
                if self.login.phase == LoginPhase::Up {
                    self.refresh(now, target);
                }
            }
        }
        if self.timers.is_due(Timer::Poll, now) {
            let _ = self.start(now, Request::ParkedCalls { lot: None }, Target::All, None, true);
            self.schedule_poll(now);
        }
    }

    /// An internal request ended: a refused refresh is tried again later, backing off.
    /// `refresh` says whether it was a refresh, of what, and whether it was the list of
    /// calls. The backoff ends when a refresh works whole: its list of calls (sent
    /// after its list of lots) answered with no part of it waiting to be tried again,
    /// so a server that answers one list and refuses the other (one over
    /// `max_list_items`) is asked ever less often, not every second.
    pub(super) fn note_internal_outcome(&mut self, now: Timestamp, refresh: (bool, Target, bool), ok: bool) {
        let (is_refresh, target, calls) = refresh;
        if ok {
            if calls && self.refreshing.retry.is_none() {
                self.refreshing.failures = 0;
            }
        } else if is_refresh && self.login.phase == LoginPhase::Up && self.refreshing.retry.is_none() {
            let delay = REFRESH_RETRY * 2u32.saturating_pow(self.refreshing.failures.min(6));
            self.timers.set(Timer::RefreshRetry, now + delay.min(REFRESH_RETRY_MAX));
            self.refreshing.retry = Some(target);
            self.refreshing.failures += 1;
        }
    }

    /// The link dropped: no retry is pending any more.
    pub(super) fn forget_refresh_retry(&mut self) {
        self.refreshing.retry = None;
        self.refreshing.deferred.clear();
    }
}
