//! The reconnect policy every transport follows (tokio, browser): exponential
//! backoff with jitter, capped. Pure: the transport draws the random number and sleeps.

use std::time::Duration;

/// Reconnect policy: exponential backoff with jitter, capped.
///
/// The default starts at 250 ms, doubles, and is capped at 3 s (±20 %): after a PBX
/// restart the client is back within about 3.6 s of Asterisk accepting logins, and a
/// PBX that stays down sees one attempt every few seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Cap.
    pub max: Duration,
    /// Growth per attempt.
    pub factor: f64,
    /// Random spread, 0..1 (0.2 = ±20 %).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_millis(250), max: Duration::from_secs(3), factor: 2.0, jitter: 0.2 }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (1-based), jitter drawn from `unit` in 0..1.
    ///
    /// ```
    /// use ami_parking::Backoff;
    /// use std::time::Duration;
    /// let b = Backoff { jitter: 0.0, ..Backoff::default() };
    /// assert_eq!(b.delay(1, 0.5), Duration::from_millis(250));
    /// assert_eq!(b.delay(3, 0.5), Duration::from_millis(1000));
    /// assert_eq!(b.delay(50, 0.5), Duration::from_secs(3));
    /// ```
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.initial.as_secs_f64() * self.factor.powi(attempt.saturating_sub(1).min(60) as i32);
        let capped = base.min(self.max.as_secs_f64());
        let spread = 1.0 + self.jitter * (unit * 2.0 - 1.0);
        // A policy whose numbers make no delay (a NaN jitter or factor, an initial
        // delay past what a `Duration` holds) waits the cap: never a panic (found by
        // a review: `jitter: f64::NAN` panicked here).
        let secs = (capped * spread).clamp(0.0, self.max.as_secs_f64());
        Duration::try_from_secs_f64(secs).map_or(self.max, |d| d.min(self.max))
    }
}

/// How long a link must stay logged in before its end counts as a fresh start (the
/// backoff starts over); a server that accepts the login and drops at once keeps
/// backing off instead of being hammered every quarter second.
pub const STABLE_LINK: Duration = Duration::from_secs(10);

/// Backoff after Asterisk refused the login: a wrong secret does not fix itself, and
/// fail2ban bans a host that keeps failing (its default: 5 failures in 10 minutes).
/// One minute, doubling to five: four attempts in the first ten minutes.
pub const REFUSED_LOGIN: Backoff =
    Backoff { initial: Duration::from_secs(60), max: Duration::from_secs(300), factor: 2.0, jitter: 0.1 };

/// The reconnect state of one client: which attempt this is and how long to wait.
///
/// ```
/// use ami_parking::{Backoff, Reconnect};
/// use std::time::Duration;
/// let mut r = Reconnect::new(Backoff { jitter: 0.0, ..Backoff::default() });
/// assert_eq!(r.after_link(None, false, 0.5), (1, Duration::from_millis(250)));          // never logged in
/// assert_eq!(r.after_link(Some(Duration::from_secs(1)), false, 0.5), (2, Duration::from_millis(500))); // dropped at once
/// assert_eq!(r.after_link(Some(Duration::from_secs(60)), false, 0.5), (1, Duration::from_millis(250))); // was stable
/// assert!(r.after_link(None, true, 0.5).1 >= Duration::from_secs(54));                   // refused: a minute
/// ```
#[derive(Debug, Clone)]
pub struct Reconnect {
    backoff: Backoff,
    refused: Backoff,
    attempt: u32,
    refusals: u32,
}

impl Reconnect {
    /// A client that follows `backoff` (and [`REFUSED_LOGIN`] after refusals).
    pub fn new(backoff: Backoff) -> Self {
        Self::with_refused(backoff, REFUSED_LOGIN)
    }

    /// A client that follows `backoff`, and `refused` after refused logins.
    pub fn with_refused(backoff: Backoff, refused: Backoff) -> Self {
        Reconnect { backoff, refused, attempt: 0, refusals: 0 }
    }

    /// Failed attempts in a row so far (0 at first and after a stable link).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// A link ended: `up_for` is how long it was logged in (`None`: never got there),
    /// `refused` whether Asterisk refused the login; `unit` is a random number in 0..1.
    /// Returns the attempt number to show and the wait before the next one.
    pub fn after_link(&mut self, up_for: Option<Duration>, refused: bool, unit: f64) -> (u32, Duration) {
        if up_for.is_some_and(|d| d >= STABLE_LINK) {
            self.attempt = 0;
            self.refusals = 0;
        }
        self.attempt += 1;
        if refused {
            self.refusals += 1;
            return (self.attempt, self.refused.delay(self.refusals, unit));
        }
        (self.attempt, self.backoff.delay(self.attempt, unit))
    }
}
