//! One table of named deadlines, in the style of quinn-proto's `TimerTable`: the
//! connection's `poll_timeout` is its soonest entry, and `handle_timeout` asks it
//! which entries are due. Time is always passed in; nothing here reads a clock.

use super::request::RequestId;
use crate::small_map::SmallMap;
use crate::time::Timestamp;

/// A named deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    /// The login must complete (banner, challenge, login answer) by then.
    Login,
    /// The automatic refresh refused by Asterisk is tried again.
    RefreshRetry,
    /// The next `ParkedCalls` poll (`poll_interval`).
    Poll,
    /// The next keep-alive (an AMI `Ping`, or a WebSocket ping behind amiws).
    Keepalive,
    /// A WebSocket ping must be answered (by anything) by then.
    KeepaliveAnswer,
    /// A request's deadline.
    Request(RequestId),
}

#[derive(Debug, Default)]
pub(super) struct TimerTable {
    at: SmallMap<Timer, Timestamp>,
}

impl TimerTable {
    pub(super) fn set(&mut self, timer: Timer, at: Timestamp) {
        self.at.insert(timer, at);
    }

    pub(super) fn stop(&mut self, timer: Timer) {
        self.at.remove(&timer);
    }

    pub(super) fn get(&self, timer: Timer) -> Option<Timestamp> {
        self.at.get(&timer).copied()
    }

    /// True when `timer` is set and due at `now`.
    pub(super) fn is_due(&self, timer: Timer, now: Timestamp) -> bool {
        self.get(timer).is_some_and(|t| t <= now)
    }

    /// The soonest deadline.
    pub(super) fn next(&self) -> Option<Timestamp> {
        self.at.values().copied().min()
    }

    /// The request deadlines due at `now`, in request order.
    pub(super) fn due_requests(&self, now: Timestamp) -> Vec<RequestId> {
        let requests = self.at.range_from(&Timer::Request(RequestId(0)));
        requests
            .filter(|(_, at)| **at <= now)
            .filter_map(|(t, _)| match t {
                Timer::Request(id) => Some(*id),
                _ => None,
            })
            .collect()
    }

    /// How many request deadlines are set.
    pub(super) fn requests(&self) -> usize {
        self.at.range_from(&Timer::Request(RequestId(0))).count()
    }

    /// Stops every timer but the request deadlines (the link dropped).
    pub(super) fn stop_link_timers(&mut self) {
        self.at.retain(|t, _| matches!(t, Timer::Request(_)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_the_soonest_and_due_requests_are_in_order() {
        let t = Timestamp::from_unix_millis;
        let mut table = TimerTable::default();
        table.set(Timer::Poll, t(50));
        table.set(Timer::Request(RequestId(2)), t(10));
        table.set(Timer::Request(RequestId(1)), t(20));
        table.set(Timer::Request(RequestId(3)), t(99));
        assert_eq!(table.next(), Some(t(10)));
        assert_eq!(table.due_requests(t(20)), vec![RequestId(1), RequestId(2)]);
        assert!(table.is_due(Timer::Poll, t(50)) && !table.is_due(Timer::Login, t(50)));
        table.stop_link_timers();
        assert_eq!(table.get(Timer::Poll), None);
        assert_eq!(table.next(), Some(t(10)));
    }
}
