//! What a UI shows of a space or a call at a given `now`, computed once for every
//! front end (the Leptos and Dioxus components, the web board, `parkwatch`): the
//! texts, the live timers and the CSS classes, so the frameworks only lay them out.

use crate::model::{sort_calls, ParkedCall, ParkingLot};
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// The calls near their timeout at `now` ([`ParkedCall::is_near_timeout`]: less than
/// the call's own threshold left, 30 s unless the store was told otherwise), soonest
/// deadline first: what a "near timeout" panel lists. A call past its deadline (its
/// timeout event not yet arrived) is near too, and comes first; calls with the same
/// deadline keep the order of `calls`.
///
/// ```
/// use ami_parking::{display, ParkedCall, Timestamp};
/// use std::{sync::Arc, time::Duration};
/// let now = Timestamp::from_unix_millis(1_000_000);
/// // Parked `ago` seconds before `now` with a timeout of `timeout` seconds.
/// let call = |space, ago: u64, timeout: u64| {
///     let mut c = ParkedCall::default(); // a near-timeout threshold of 30 s
///     c.parking_space = space;
///     c.parked_at = Timestamp::from_unix_millis(1_000_000 - ago * 1000);
///     c.set_timeout(Some(Duration::from_secs(timeout)));
///     Arc::new(c)
/// };
/// // 701: 300 s left; 702: 20 s; 703: 10 s; 704: 5 s past its deadline.
/// let calls = [call(701, 0, 300), call(702, 0, 20), call(703, 0, 10), call(704, 50, 45)];
/// let near: Vec<u32> = display::near_timeout(&calls, now).iter().map(|c| c.parking_space).collect();
/// assert_eq!(near, [704, 703, 702]);
/// ```
pub fn near_timeout<'a>(
    calls: impl IntoIterator<Item = &'a Arc<ParkedCall>>,
    now: Timestamp,
) -> Vec<Arc<ParkedCall>> {
    let mut near: Vec<_> = calls.into_iter().filter(|c| c.is_near_timeout(now)).cloned().collect();
    // A call near its timeout has one: its deadline orders it.
    sort_calls(&mut near, |a, b| a.deadline().cmp(&b.deadline()));
    near
}

/// A lot's count as its heading shows it: `occupied / spaces` (`3 / 20`), or
/// `N parked` while its range, and so its size, is unknown (a dynamic lot, or one
/// seen before its `Parkinglots` answer): never `3 / 0`.
///
/// ```
/// use ami_parking::{display, ParkingLot};
/// let mut lot = ParkingLot::unknown_range(1, "overflow".into());
/// lot.occupied = 3;
/// assert_eq!(display::lot_count(&lot), "3 parked");
/// (lot.start_space, lot.end_space, lot.total_spaces, lot.range_known) = (701, 720, 20, true);
/// assert_eq!(display::lot_count(&lot), "3 / 20");
/// ```
pub fn lot_count(lot: &ParkingLot) -> String {
    if lot.range_known {
        format!("{} / {}", lot.occupied, lot.total_spaces)
    } else {
        format!("{} parked", lot.occupied)
    }
}

/// `m:ss` of a duration, whole seconds cut: 75.9 s is `1:15`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(ami_parking::display::mm_ss(Duration::from_millis(75_900)), "1:15");
/// assert_eq!(ami_parking::display::mm_ss(Duration::from_secs(3600)), "60:00");
/// ```
pub fn mm_ss(d: Duration) -> String {
    format!("{}:{:02}", d.as_secs() / 60, d.as_secs() % 60)
}

/// A duration as Rust's `Debug` writes it, cut to the millisecond: `10s`, `1.5s`,
/// `300ms`; under a millisecond is `0ms` (the texts of timeouts in errors; `Debug`
/// itself would carry its float formatting into a browser build).
///
/// ```
/// use std::time::Duration;
/// use ami_parking::display::duration;
/// assert_eq!(duration(Duration::from_secs(10)), "10s");
/// assert_eq!(duration(Duration::from_millis(1_500)), "1.5s");
/// assert_eq!(duration(Duration::from_millis(2_025)), "2.025s");
/// assert_eq!(duration(Duration::from_millis(300)), "300ms");
/// assert_eq!(duration(Duration::from_micros(999)), "0ms");
/// assert_eq!(duration(Duration::MAX), "18446744073709551615.999s");
/// ```
pub fn duration(d: Duration) -> String {
    let (secs, mut frac) = (d.as_secs(), d.subsec_millis());
    if secs == 0 {
        return format!("{frac}ms");
    }
    if frac == 0 {
        return format!("{secs}s");
    }
    // The thousandths without their trailing zeros: 500 is `.5`, 25 is `.025`.
    let mut digits = 3;
    while frac % 10 == 0 {
        frac /= 10;
        digits -= 1;
    }
    format!("{secs}.{frac:0digits$}s")
}

/// `m:ss` of a countdown, rounded up: `0:30` until the last part of that second is gone.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(ami_parking::display::countdown(Duration::from_millis(29_100)), "0:30");
/// assert_eq!(ami_parking::display::countdown(Duration::ZERO), "0:00");
/// ```
pub fn countdown(d: Duration) -> String {
    mm_ss(d + Duration::from_millis(999))
}

/// A caller as one line: `Alice <1001>`, or the one that is known.
///
/// ```
/// use ami_parking::ParkedCall;
/// let mut c = ParkedCall::default();
/// c.set_caller_id_num("1001");
/// assert_eq!(ami_parking::display::caller(&c), "1001");
/// c.set_caller_id_name("Alice");
/// assert_eq!(ami_parking::display::caller(&c), "Alice <1001>");
/// ```
pub fn caller(call: &ParkedCall) -> String {
    let known = |s: &str| !s.is_empty() && s != "<unknown>";
    match (known(call.caller_id_name()), known(call.caller_id_num())) {
        (true, true) => format!("{} <{}>", call.caller_id_name(), call.caller_id_num()),
        (true, false) => call.caller_id_name().to_string(),
        (false, true) => call.caller_id_num().to_string(),
        (false, false) => "unknown caller".into(),
    }
}

/// Who took a call: the retriever's number when Asterisk knows it, else its channel.
///
/// ```
/// use ami_parking::Retriever;
/// let mut r = Retriever::default();
/// r.channel = "PJSIP/1002-00000007".into();
/// r.caller_id_num = "<unknown>".into();
/// assert_eq!(ami_parking::display::retriever(&r), "PJSIP/1002-00000007");
/// r.caller_id_num = "1002".into();
/// assert_eq!(ami_parking::display::retriever(&r), "1002");
/// ```
pub fn retriever(r: &crate::model::Retriever) -> String {
    if r.caller_id_num.is_empty() || r.caller_id_num == "<unknown>" {
        r.channel.to_string()
    } else {
        r.caller_id_num.to_string()
    }
}

/// One space of a lot grid as a UI shows it at `now`.
///
/// Classes (override them in your stylesheet): `parking-space` always, plus
/// `occupied` when a call is parked, plus `warning` when its timeout is nearer than
/// the call's near-timeout threshold.
///
/// ```
/// use ami_parking::{display::SpaceView, ParkedCall, Timestamp};
/// use std::time::Duration;
/// let now = Timestamp::from_unix_millis(100_000);
/// assert_eq!(SpaceView::new(701, None, now).class, "parking-space");
/// let mut c = ParkedCall::default();
/// c.parking_space = 702;
/// c.set_caller_id_name("Alice");
/// c.parked_at = Timestamp::from_unix_millis(35_000);
/// c.set_deadline(Some(now + Duration::from_secs(20))); // threshold: 30 s
/// let v = SpaceView::new(702, Some(&c), now);
/// assert_eq!((v.class, v.timer.as_str(), v.countdown.as_deref()), ("parking-space occupied warning", "1:05", Some("0:20")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceView {
    /// The space number.
    pub space: u32,
    /// Whether a call is parked there.
    pub occupied: bool,
    /// Under the near-timeout threshold.
    pub warning: bool,
    /// Caller name (empty when free or unknown).
    pub caller_name: String,
    /// Caller number (empty when free or unknown).
    pub caller_number: String,
    /// Time parked, `m:ss` (empty when free).
    pub timer: String,
    /// Time left before the timeout, `m:ss` rounded up (`None` when free or the call
    /// has no timeout).
    pub countdown: Option<String>,
    /// The CSS classes.
    pub class: &'static str,
}

impl SpaceView {
    /// The view of `space` holding `call` (or free) at `now`.
    pub fn new(space: u32, call: Option<&ParkedCall>, now: Timestamp) -> Self {
        let Some(c) = call else {
            return SpaceView {
                space,
                occupied: false,
                warning: false,
                caller_name: String::new(),
                caller_number: String::new(),
                timer: String::new(),
                countdown: None,
                class: "parking-space",
            };
        };
        let warning = c.is_near_timeout(now);
        let known = |s: &str| if s == "<unknown>" { String::new() } else { s.to_owned() };
        SpaceView {
            space,
            occupied: true,
            warning,
            caller_name: known(c.caller_id_name()),
            caller_number: known(c.caller_id_num()),
            timer: mm_ss(c.duration(now)),
            countdown: c.timeout_remaining(now).map(countdown),
            class: if warning { "parking-space occupied warning" } else { "parking-space occupied" },
        }
    }
}

/// The default stylesheet of the components (a grid of spaces, a dashboard, a
/// warning list). Every rule hangs on a class, so a user's own stylesheet overrides it.
pub const DEFAULT_CSS: &str = include_str!("display.css");
