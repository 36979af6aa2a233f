//! Time as a parameter: the core never reads a clock.

use std::time::Duration;

/// A point in time on the caller's clock, in milliseconds since the Unix epoch.
///
/// The core never reads a clock: every method that needs the time takes one of
/// these. The transport passes the system wall clock, so [`ParkedCall::parked_at`]
/// is a real date; tests pass whatever clock they simulate. Works on wasm32, where
/// `std::time::Instant` panics.
///
/// [`ParkedCall::parked_at`]: crate::ParkedCall::parked_at
///
/// ```
/// use ami_parking::Timestamp;
/// use std::time::Duration;
/// let t = Timestamp::from_unix_millis(1_000);
/// assert_eq!(t + Duration::from_secs(2), Timestamp::from_unix_millis(3_000));
/// assert_eq!(t.saturating_duration_since(Timestamp::from_unix_millis(5_000)), Duration::ZERO);
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch itself.
    pub const ZERO: Timestamp = Timestamp(0);

    /// From milliseconds since the Unix epoch.
    pub const fn from_unix_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_unix_millis(self) -> u64 {
        self.0
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// `self - d`, stopping at the epoch.
    pub fn saturating_sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(millis(d)))
    }

    /// The current system time (not available in the core on purpose: for callers).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_system_time(t: std::time::SystemTime) -> Self {
        Self(t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0))
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(millis(d)))
    }
}

/// `d` in whole milliseconds, at most `u64::MAX` (half a billion years): for
/// timestamps' arithmetic and for headers, as a `u64`, because formatting a `u128` is
/// code of its own in a browser build.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
