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
        Duration::from_secs_f64((capped * spread).clamp(0.0, self.max.as_secs_f64()))
    }
}
