//! What a client may cost: token buckets shared per principal (a token, or an
//! address where no token is needed), upgrade attempts per address, failed token
//! attempts per address. Every map is bounded: entries that hold nothing are
//! dropped when it grows.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The default action rate: 20 actions a second, bursts of 40.
pub const DEFAULT_RATE: (u32, u32) = (20, 40);

/// How long a client may take to finish the WebSocket upgrade (or a web request).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The default cap on connected sockets (`--max-clients`).
pub const DEFAULT_MAX_CLIENTS: usize = 1000;

/// The default cap on sockets one token (or, without tokens, one address) keeps
/// connected (`--max-clients-per-token`): one token cannot take every seat.
pub const DEFAULT_MAX_PER_PRINCIPAL: usize = 100;

/// The default cap on sockets that have not finished their upgrade.
pub const DEFAULT_MAX_UNAUTHENTICATED: usize = 64;

/// Sockets one address may have still upgrading at once.
pub const UNAUTHENTICATED_PER_ADDRESS: usize = 16;

/// Failed token attempts per address: one every 10 s, after a burst of 5.
pub const FAILURES_PER_ADDRESS: (f64, u32) = (0.1, 5);

/// How long a socket may have been upgrading before a new one may take its place
/// when every place is taken (see [`Upgrades`]).
pub const EVICT_AFTER: Duration = Duration::from_secs(1);

/// Tokens remembered per address as having got in (see [`KnownTokens`]).
pub const KNOWN_PER_ADDRESS: usize = 8;

/// The key of an address for the per-address limits: an IPv6 address by its /64 (a
/// host, or a customer, has a whole /64 to pick addresses from), an IPv4-mapped one
/// as its IPv4 address, an IPv4 address as itself.
///
/// ```
/// use ami_ws_bridge::limits::address_key;
/// let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
/// assert_eq!(a, address_key("2001:db8:1:2:bbbb::9".parse().unwrap()));
/// assert_eq!(address_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<std::net::IpAddr>().unwrap());
/// ```
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Entries a map keeps before it drops those that hold nothing.
const MAP_CAP: usize = 4096;

/// A token bucket: `rate` a second, bursts up to `burst`.
#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// Full at first.
    pub fn new(rate: f64, burst: u32) -> Self {
        RateLimit { rate, burst: burst.max(1) as f64, tokens: burst.max(1) as f64, at: Instant::now() }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
    }

    /// Takes one token; false when none is left.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether at least one token is left (nothing taken).
    pub fn has(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

/// Who a client is, for the action rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A token (its index).
    Token(usize),
    /// An address (no token needed).
    Address(IpAddr),
}

/// Shared buckets, one per key.
#[derive(Debug)]
pub struct Buckets<K> {
    rate: f64,
    burst: u32,
    map: Mutex<HashMap<K, Arc<Mutex<RateLimit>>>>,
}

impl<K: Eq + Hash + Copy> Buckets<K> {
    /// Buckets of `rate` a second and `burst`.
    pub fn new(rate: f64, burst: u32) -> Self {
        Buckets { rate, burst, map: Mutex::default() }
    }

    /// `key`'s bucket (shared by everyone holding it).
    pub fn of(&self, key: K) -> Arc<Mutex<RateLimit>> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAP_CAP && !map.contains_key(&key) {
            let now = Instant::now();
            map.retain(|_, b| {
                Arc::strong_count(b) > 1 || !b.lock().unwrap_or_else(|e| e.into_inner()).is_full(now)
            });
        }
        map.entry(key).or_insert_with(|| Arc::new(Mutex::new(RateLimit::new(self.rate, self.burst)))).clone()
    }

    /// Takes one token from `key`'s bucket.
    pub fn take(&self, key: K) -> bool {
        let b = self.of(key);
        let ok = b.lock().unwrap_or_else(|e| e.into_inner()).take(Instant::now());
        ok
    }

    /// Whether `key`'s bucket has a token left.
    pub fn has(&self, key: K) -> bool {
        let b = self.of(key);
        let ok = b.lock().unwrap_or_else(|e| e.into_inner()).has(Instant::now());
        ok
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sockets counted per key (an address still upgrading, a principal connected).
#[derive(Debug)]
pub struct Seats<K: Eq + Hash> {
    map: Mutex<HashMap<K, usize>>,
}

impl<K: Eq + Hash> Default for Seats<K> {
    fn default() -> Self {
        Seats { map: Mutex::default() }
    }
}

/// One socket's seat among its key's; given back when dropped.
#[derive(Debug)]
pub struct Seat<K: Eq + Hash + Copy> {
    of: Arc<Seats<K>>,
    key: K,
}

impl<K: Eq + Hash + Copy> Seats<K> {
    /// A seat for a socket of `key`, unless it already has `max`.
    pub fn enter(self: &Arc<Self>, key: K, max: usize) -> Option<Seat<K>> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Seat { of: self.clone(), key })
    }

    /// How many keys hold seats.
    pub fn keys(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl<K: Eq + Hash + Copy> Drop for Seat<K> {
    fn drop(&mut self) {
        let mut map = self.of.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// A socket's seat among its address's upgrading sockets.
pub type UpgradingPlace = Seat<IpAddr>;

/// The tokens that got in from each address. Past its budget of wrong tokens an
/// address still lets in a token it has seen get in (a client's wrong guesses do not
/// lock out its neighbours behind the same NAT or proxy), never one it has not (so
/// the budget still bounds guessing: a right guess past it is refused like a wrong
/// one). At most [`KNOWN_PER_ADDRESS`] tokens an address, the oldest forgotten.
#[derive(Debug, Default)]
pub struct KnownTokens {
    map: Mutex<HashMap<IpAddr, VecDeque<usize>>>,
}

impl KnownTokens {
    /// Token `principal` got in from `ip`.
    pub fn note(&self, ip: IpAddr, principal: usize) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAP_CAP && !map.contains_key(&ip) {
            if let Some(k) = map.keys().next().copied() {
                map.remove(&k);
            }
        }
        let known = map.entry(ip).or_default();
        if !known.contains(&principal) {
            if known.len() == KNOWN_PER_ADDRESS {
                known.pop_front();
            }
            known.push_back(principal);
        }
    }

    /// Whether token `principal` got in from `ip` before.
    pub fn knows(&self, ip: IpAddr, principal: usize) -> bool {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&ip).is_some_and(|k| k.contains(&principal))
    }
}

/// The sockets still upgrading (no token checked yet), oldest first, at most `max`.
/// When every place is taken, a new socket takes the place of the oldest if that one
/// has been upgrading for [`EVICT_AFTER`] (it is told to close): sockets held open
/// without finishing their upgrade cannot keep a client out, since a client's upgrade
/// takes milliseconds and theirs must outlast it.
#[derive(Debug)]
pub struct Upgrades {
    max: usize,
    list: Mutex<(u64, VecDeque<Upgrading>)>,
}

/// One socket upgrading: its ticket's id, since when, and how to tell it to close.
type Upgrading = (u64, Instant, Arc<Notify>);

/// A socket's place among those upgrading: given back when dropped.
#[derive(Debug)]
pub struct UpgradeTicket {
    of: Arc<Upgrades>,
    id: u64,
    evicted: Arc<Notify>,
}

impl UpgradeTicket {
    /// Resolves when a newer socket took this one's place: it should close.
    pub async fn evicted(&self) {
        self.evicted.notified().await
    }
}

/// What [`Upgrades::enter`] did.
#[derive(Debug)]
pub enum Entered {
    /// A free place.
    Free(UpgradeTicket),
    /// The place of the oldest, told to close.
    Evicted(UpgradeTicket),
    /// Every place taken by sockets younger than [`EVICT_AFTER`].
    Full,
}

impl Upgrades {
    /// At most `max` sockets upgrading.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Upgrades { max: max.max(1), list: Mutex::default() })
    }

    /// A place for a new socket (see [`Upgrades`]).
    pub fn enter(self: &Arc<Self>, now: Instant) -> Entered {
        let mut guard = self.list.lock().unwrap_or_else(|e| e.into_inner());
        let (next, list) = &mut *guard;
        let mut evicted = false;
        if list.len() >= self.max {
            match list.front() {
                Some(&(_, since, _)) if now.saturating_duration_since(since) >= EVICT_AFTER => {
                    if let Some((_, _, notify)) = list.pop_front() {
                        notify.notify_one();
                    }
                    evicted = true;
                }
                _ => return Entered::Full,
            }
        }
        *next += 1;
        let notify = Arc::new(Notify::new());
        list.push_back((*next, now, notify.clone()));
        let ticket = UpgradeTicket { of: self.clone(), id: *next, evicted: notify };
        if evicted {
            Entered::Evicted(ticket)
        } else {
            Entered::Free(ticket)
        }
    }

    /// Sockets upgrading now.
    pub fn len(&self) -> usize {
        self.list.lock().unwrap_or_else(|e| e.into_inner()).1.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for UpgradeTicket {
    fn drop(&mut self) {
        let mut guard = self.of.list.lock().unwrap_or_else(|e| e.into_inner());
        guard.1.retain(|(id, _, _)| *id != self.id);
    }
}

/// The bridge's limits, shared by every connection.
#[derive(Debug)]
pub struct Limits {
    /// Actions, per principal.
    pub actions: Buckets<Principal>,
    /// Failed token attempts, per address.
    pub failures: Buckets<IpAddr>,
    /// Tokens that got in, per address.
    pub known: KnownTokens,
    /// Sockets still upgrading, per address.
    pub upgrading: Arc<Seats<IpAddr>>,
    /// Sockets connected, per principal (a token, or an address without tokens).
    pub connected: Arc<Seats<Principal>>,
}

impl Limits {
    /// Actions at `rate` a second, bursts of `burst`, per principal.
    pub fn new(rate: u32, burst: u32) -> Self {
        Limits {
            actions: Buckets::new(rate as f64, burst),
            failures: Buckets::new(FAILURES_PER_ADDRESS.0, FAILURES_PER_ADDRESS.1),
            known: KnownTokens::default(),
            upgrading: Arc::default(),
            connected: Arc::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_allows_a_burst_then_the_rate() {
        let mut r = RateLimit::new(10.0, 3);
        let t = Instant::now();
        assert_eq!((0..5).map(|_| r.take(t)).filter(|&ok| ok).count(), 3);
        assert!(r.take(t + Duration::from_millis(100)));
        assert!(!r.take(t + Duration::from_millis(100)));
    }

    #[test]
    fn a_bucket_is_shared_by_its_key() {
        let b = Buckets::new(0.0, 3);
        let k = Principal::Token(1);
        assert_eq!((0..5).filter(|_| b.take(k)).count(), 3);
        assert!(!b.take(k) && b.take(Principal::Token(2)));
    }

    #[test]
    fn an_address_has_a_bounded_number_of_upgrading_sockets() {
        let u = Arc::new(Seats::<IpAddr>::default());
        let ip = IpAddr::from([10, 0, 0, 1]);
        let places: Vec<_> = (0..3).filter_map(|_| u.enter(ip, 2)).collect();
        assert_eq!(places.len(), 2);
        assert!(u.enter(IpAddr::from([10, 0, 0, 2]), 2).is_some(), "another address has its own");
        drop(places);
        assert_eq!(u.keys(), 0, "given back");
        assert!(u.enter(ip, 2).is_some());
    }

    #[test]
    fn a_full_house_of_upgrades_makes_room_by_closing_its_oldest_after_a_second() {
        let u = Upgrades::new(2);
        let t = Instant::now();
        let Entered::Free(a) = u.enter(t) else { panic!("a free place") };
        let Entered::Free(_b) = u.enter(t) else { panic!("a free place") };
        assert!(matches!(u.enter(t + Duration::from_millis(999)), Entered::Full), "the oldest is too young");
        let Entered::Evicted(_c) = u.enter(t + EVICT_AFTER) else { panic!("the oldest's place") };
        assert_eq!(u.len(), 2);
        let told = futures_util::FutureExt::now_or_never(a.evicted());
        assert!(told.is_some(), "the oldest is told to close");
        drop(a);
        assert_eq!(u.len(), 2, "an evicted ticket gives back nothing twice");
    }

    #[test]
    fn an_address_knows_the_tokens_that_got_in_and_an_ipv6_host_is_its_64() {
        let k = KnownTokens::default();
        let ip = address_key("2001:db8::1".parse().unwrap());
        assert!(!k.knows(ip, 3));
        k.note(ip, 3);
        assert!(k.knows(address_key("2001:db8::ffff:2".parse().unwrap()), 3), "the same /64");
        assert!(!k.knows(address_key("2001:db8:0:1::1".parse().unwrap()), 3), "another /64");
        for t in 10..10 + KNOWN_PER_ADDRESS {
            k.note(ip, t);
        }
        assert!(!k.knows(ip, 3), "the oldest forgotten past {KNOWN_PER_ADDRESS}");
    }

    #[test]
    fn idle_entries_go_when_the_map_is_full() {
        let b = Buckets::new(1.0, 1);
        for i in 0..(MAP_CAP as u32 + 10) {
            let _ = b.of(IpAddr::from(i.to_be_bytes()));
        }
        assert!(b.len() <= MAP_CAP + 1, "{}", b.len());
    }
}
