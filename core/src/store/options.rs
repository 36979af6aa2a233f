//! Options of the parking feature, named as in the TypeScript original.

use crate::model::{ParkedCall, Retriever, DEFAULT_NEAR_TIMEOUT};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Keeps or drops a call (`parked_call_filter`).
pub type CallFilter = Arc<dyn Fn(&ParkedCall) -> bool + Send + Sync>;
/// Rewrites a call before it enters the store (`transform_parked_call`).
pub type CallTransform = Arc<dyn Fn(ParkedCall) -> ParkedCall + Send + Sync>;
/// Called with a call (`on_call_parked`, `on_call_timeout`, `on_call_give_up`).
pub type CallCallback = Arc<dyn Fn(&ParkedCall) + Send + Sync>;
/// Called with a retrieved call and its retriever (`on_call_retrieved`).
pub type RetrievedCallback = Arc<dyn Fn(&ParkedCall, &Retriever) + Send + Sync>;
/// Called with a moved call in its new place and as it was (`on_call_moved`).
pub type MovedCallback = Arc<dyn Fn(&ParkedCall, &ParkedCall) + Send + Sync>;
/// Called with a call and its remaining time (`on_call_near_timeout`).
pub type NearTimeoutCallback = Arc<dyn Fn(&ParkedCall, Duration) + Send + Sync>;

/// Default time a retrieve lets the retriever's phone ring: 30 s.
pub const DEFAULT_RETRIEVE_RING: Duration = Duration::from_secs(30);

/// Options of the parking store and of the connections writing into it (the seed's
/// `useAmiParking` options). Give them once, to [`ParkingStore::new`](crate::ParkingStore::new):
/// a connection reads them from its store.
///
/// ```
/// use ami_parking::ParkingOptions;
/// use std::time::Duration;
/// let opts = ParkingOptions::default()
///     .default_parking_lot("vip")
///     .poll_interval(Duration::from_secs(30))
///     .parked_call_filter(|c| &*c.parking_lot != "staff")
///     .on_call_parked(|c| println!("parked at {}", c.parking_space));
/// assert_eq!(opts.default_parking_lot, "vip");
/// ```
#[derive(Clone)]
pub struct ParkingOptions {
    /// Lot used when a request names none (`default`).
    pub default_parking_lot: String,
    /// Fetch lots and calls when the connection logs in, and again whenever it or a
    /// server behind amiws logs in again; list a server's lots again when a park
    /// names a lot its list did not (a dynamic lot) or a space outside a lot's listed
    /// range (default true).
    pub auto_refresh: bool,
    /// Periodic resync while logged in; zero turns it off (default).
    pub poll_interval: Duration,
    /// Threshold for [`ParkedCall::is_near_timeout`] (default 30 s).
    pub near_timeout_threshold: Duration,
    /// How long a retrieve lets the retriever's phone ring (the Originate's
    /// `Timeout`; the request waits that long plus `request_timeout`). Default 30 s.
    pub retrieve_ring_timeout: Duration,
    /// Calls for which this returns false are hidden from the views, the events and
    /// the callbacks. The store still holds them: lot counts stay Asterisk's, and a
    /// hidden call can be retrieved.
    pub parked_call_filter: Option<CallFilter>,
    /// Shapes what the views, events and callbacks show of a call (before the
    /// filter). It cannot move a call: server, lot, space and unique id stay
    /// Asterisk's.
    pub transform_parked_call: Option<CallTransform>,
    /// Called for each live `Parked` event.
    pub on_call_parked: Option<CallCallback>,
    /// Called for each `Retrieved` event.
    pub on_call_retrieved: Option<RetrievedCallback>,
    /// Called for each `TimedOut` event.
    pub on_call_timeout: Option<CallCallback>,
    /// Called for each `GaveUp` event.
    pub on_call_give_up: Option<CallCallback>,
    /// Called for each `NearTimeout` event.
    pub on_call_near_timeout: Option<NearTimeoutCallback>,
    /// Called for each `Moved` event (new place, old place).
    pub on_call_moved: Option<MovedCallback>,
    /// Events each [`EventStream`](crate::EventStream) holds for a consumer that is
    /// behind (default 10,000); past that the stream drops the newest and counts them
    /// in [`EventStream::missed`](crate::EventStream::missed).
    pub event_buffer: usize,
    /// Most calls the store holds, over every server (default 100,000). A park that
    /// would add one more, live or listed, is dropped and the store's
    /// [`error`](crate::ParkingStore::error) says so
    /// ([`ParkingError::StoreFull`](crate::ParkingError::StoreFull)): a server cannot
    /// make the client hold unbounded state.
    pub max_calls: usize,
    /// Most lots the store holds, over every server (default 10,000); past it, what
    /// would add a lot is dropped with
    /// [`ParkingError::StoreFull`](crate::ParkingError::StoreFull).
    pub max_lots: usize,
}

impl Default for ParkingOptions {
    fn default() -> Self {
        Self {
            default_parking_lot: "default".into(),
            auto_refresh: true,
            poll_interval: Duration::ZERO,
            near_timeout_threshold: DEFAULT_NEAR_TIMEOUT,
            retrieve_ring_timeout: DEFAULT_RETRIEVE_RING,
            parked_call_filter: None,
            transform_parked_call: None,
            on_call_parked: None,
            on_call_retrieved: None,
            on_call_timeout: None,
            on_call_give_up: None,
            on_call_near_timeout: None,
            on_call_moved: None,
            event_buffer: 10_000,
            max_calls: 100_000,
            max_lots: 10_000,
        }
    }
}

impl fmt::Debug for ParkingOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkingOptions")
            .field("default_parking_lot", &self.default_parking_lot)
            .field("auto_refresh", &self.auto_refresh)
            .field("poll_interval", &self.poll_interval)
            .field("near_timeout_threshold", &self.near_timeout_threshold)
            .field("retrieve_ring_timeout", &self.retrieve_ring_timeout)
            .field("parked_call_filter", &self.parked_call_filter.is_some())
            .field("transform_parked_call", &self.transform_parked_call.is_some())
            .field("event_buffer", &self.event_buffer)
            .field("max_calls", &self.max_calls)
            .field("max_lots", &self.max_lots)
            .finish_non_exhaustive()
    }
}

impl ParkingOptions {
    /// Sets `event_buffer`.
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.event_buffer = events;
        self
    }

    /// Sets `max_calls` and `max_lots`.
    ///
    /// ```
    /// let opts = ami_parking::ParkingOptions::default().caps(500, 20);
    /// assert_eq!((opts.max_calls, opts.max_lots), (500, 20));
    /// ```
    pub fn caps(mut self, max_calls: usize, max_lots: usize) -> Self {
        self.max_calls = max_calls;
        self.max_lots = max_lots;
        self
    }

    /// Sets `default_parking_lot`.
    pub fn default_parking_lot(mut self, lot: impl Into<String>) -> Self {
        self.default_parking_lot = lot.into();
        self
    }
    /// Sets `auto_refresh`.
    pub fn auto_refresh(mut self, on: bool) -> Self {
        self.auto_refresh = on;
        self
    }
    /// Sets `poll_interval` (zero = off).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }
    /// Sets the near-timeout threshold.
    pub fn near_timeout_threshold(mut self, t: Duration) -> Self {
        self.near_timeout_threshold = t;
        self
    }
    /// Sets `retrieve_ring_timeout`.
    pub fn retrieve_ring_timeout(mut self, t: Duration) -> Self {
        self.retrieve_ring_timeout = t;
        self
    }
    /// Sets `parked_call_filter`.
    pub fn parked_call_filter(mut self, f: impl Fn(&ParkedCall) -> bool + Send + Sync + 'static) -> Self {
        self.parked_call_filter = Some(Arc::new(f));
        self
    }
    /// Sets `transform_parked_call`.
    pub fn transform_parked_call(
        mut self,
        f: impl Fn(ParkedCall) -> ParkedCall + Send + Sync + 'static,
    ) -> Self {
        self.transform_parked_call = Some(Arc::new(f));
        self
    }
    /// Sets `on_call_parked`.
    pub fn on_call_parked(mut self, f: impl Fn(&ParkedCall) + Send + Sync + 'static) -> Self {
        self.on_call_parked = Some(Arc::new(f));
        self
    }
    /// Sets `on_call_retrieved`.
    pub fn on_call_retrieved(mut self, f: impl Fn(&ParkedCall, &Retriever) + Send + Sync + 'static) -> Self {
        self.on_call_retrieved = Some(Arc::new(f));
        self
    }
    /// Sets `on_call_timeout`.
    pub fn on_call_timeout(mut self, f: impl Fn(&ParkedCall) + Send + Sync + 'static) -> Self {
        self.on_call_timeout = Some(Arc::new(f));
        self
    }
    /// Sets `on_call_give_up`.
    pub fn on_call_give_up(mut self, f: impl Fn(&ParkedCall) + Send + Sync + 'static) -> Self {
        self.on_call_give_up = Some(Arc::new(f));
        self
    }
    /// Sets `on_call_moved`.
    pub fn on_call_moved(mut self, f: impl Fn(&ParkedCall, &ParkedCall) + Send + Sync + 'static) -> Self {
        self.on_call_moved = Some(Arc::new(f));
        self
    }
    /// Sets `on_call_near_timeout`.
    pub fn on_call_near_timeout(mut self, f: impl Fn(&ParkedCall, Duration) + Send + Sync + 'static) -> Self {
        self.on_call_near_timeout = Some(Arc::new(f));
        self
    }
}
