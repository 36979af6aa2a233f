//! What a client may cost: token buckets shared per principal (a token, or an
//! address where no token is needed), upgrade attempts per address, failed token
//! attempts per address. Every map is bounded: entries that hold nothing are
//! dropped when it grows.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A log line at most every 5 s, with how many were held back.
#[derive(Default)]
pub(crate) struct Quiet {
    last: Option<Instant>,
    held: u64,
}

impl Quiet {
    pub(crate) fn say(&mut self, line: &str) {
        if self.last.is_some_and(|t| t.elapsed() < Duration::from_secs(5)) {
            self.held += 1;
            return;
        }
        let more = if self.held > 0 { format!(" (and {} more like it)", self.held) } else { String::new() };
        eprintln!("ami-ws-bridge: {line}{more}");
        self.last = Some(Instant::now());
        self.held = 0;
    }
}

/// Logs a refused client: one line every 5 s at most, shared by every kind of
/// refusal (found by the review: an unauthenticated client made 3,000 refused
/// upgrades in 1.3 s, a log line each).
pub(crate) fn log_refusal(line: &str) {
    static REFUSALS: Mutex<Quiet> = Mutex::new(Quiet { last: None, held: 0 });
    REFUSALS.lock().unwrap_or_else(|e| e.into_inner()).say(line);
}

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
pub const DEFAULT_MAX_UNAUTHENTICATED: usize = 256;

/// Sockets one address may have still upgrading at once.
pub const UNAUTHENTICATED_PER_ADDRESS: usize = 16;

/// Failed token attempts per address: one every 10 s, after a burst of 5.
pub const FAILURES_PER_ADDRESS: (f64, u32) = (0.1, 5);

/// Addresses remembered per token as ones it got in from (see [`KnownTokens`]).
pub const KNOWN_ADDRESSES_PER_TOKEN: usize = 64;

pub use ami_parking_transport::admission::address_key;

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

    /// Gives back a token taken (up to the burst).
    pub fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.burst);
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

    /// Gives back to `key`'s bucket a token [`Buckets::take`] took.
    pub fn give_back(&self, key: K) {
        self.of(key).lock().unwrap_or_else(|e| e.into_inner()).give_back();
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

/// The addresses each token got in from. Past an address's budget of wrong tokens, a
/// token that got in from it before still does (a client's wrong guesses do not lock
/// out its neighbours behind the same NAT or proxy), a token that never did is refused
/// like a wrong one (so the budget still bounds guessing: a right guess past it gains
/// nothing). Kept per token, at most [`KNOWN_ADDRESSES_PER_TOKEN`] addresses each, the
/// least recently seen forgotten first: only a token's own logins can push an address
/// out of its memory (the tokens are those of the token file, so the map is as small).
/// A restart forgets them all.
#[derive(Debug, Default)]
pub struct KnownTokens {
    map: Mutex<HashMap<usize, VecDeque<IpAddr>>>,
}

impl KnownTokens {
    /// Token `principal` got in from `ip` (an [`address_key`]).
    pub fn note(&self, ip: IpAddr, principal: usize) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let seen = map.entry(principal).or_default();
        seen.retain(|a| *a != ip);
        if seen.len() == KNOWN_ADDRESSES_PER_TOKEN {
            seen.pop_front();
        }
        seen.push_back(ip);
    }

    /// Whether token `principal` got in from `ip` before.
    pub fn knows(&self, ip: IpAddr, principal: usize) -> bool {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&principal).is_some_and(|seen| seen.contains(&ip))
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
    fn a_token_remembers_the_addresses_it_got_in_from_and_only_its_own_logins_push_them_out() {
        let k = KnownTokens::default();
        let ip = address_key("2001:db8::1".parse().unwrap());
        assert!(!k.knows(ip, 3));
        k.note(ip, 3);
        assert!(k.knows(address_key("2001:db8::ffff:2".parse().unwrap()), 3), "the same /64");
        assert!(!k.knows(address_key("2001:db8:0:1::1".parse().unwrap()), 3), "another /64");
        // Another token's logins from thousands of addresses leave token 3's memory alone.
        for i in 0..10_000u32 {
            k.note(IpAddr::from(i.to_be_bytes()), 4);
        }
        assert!(k.knows(ip, 3));
        // Token 3's own logins from more addresses push out its least recently seen.
        for i in 0..KNOWN_ADDRESSES_PER_TOKEN as u32 {
            k.note(IpAddr::from((i + 1).to_be_bytes()), 3);
        }
        assert!(!k.knows(ip, 3), "the least recently seen forgotten past {KNOWN_ADDRESSES_PER_TOKEN}");
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
