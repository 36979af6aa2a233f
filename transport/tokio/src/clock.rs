//! The transport's clock: the core reads none, so the driver passes it this one.

use ami_parking::Timestamp;
use std::time::SystemTime;

/// Now as the core's timestamp: the wall clock read once, then moved by the
/// monotonic clock. Deadlines and timers therefore never jump when the system clock
/// is stepped (NTP, an administrator, a VM resumed); times shown stay wall-clock
/// within the step.
pub fn now() -> Timestamp {
    static ANCHOR: std::sync::OnceLock<(SystemTime, std::time::Instant)> = std::sync::OnceLock::new();
    let (wall, mono) = *ANCHOR.get_or_init(|| (SystemTime::now(), std::time::Instant::now()));
    anchored(wall, mono, std::time::Instant::now())
}

/// The timestamp `at` on a clock anchored at (`wall`, `mono`).
fn anchored(wall: SystemTime, mono: std::time::Instant, at: std::time::Instant) -> Timestamp {
    Timestamp::from_system_time(wall + at.saturating_duration_since(mono))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn now_follows_the_monotonic_clock_not_the_wall_clock() {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mono = std::time::Instant::now();
        let later = mono + Duration::from_millis(1500);
        assert_eq!(anchored(wall, mono, later).as_unix_millis(), 1_700_000_001_500);
        // Whatever the system clock does meanwhile, the anchor does not move.
        let a = now();
        let b = now();
        assert!(b >= a);
    }
}
