//! Logged-in sessions, kept in memory (a restart of the board logs everyone out), and
//! the throttle of failed logins per user and per address.

use crate::limits::address_key;
use crate::users::Principal;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session cookie's name over plain http (on loopback, or behind a proxy that
/// ends TLS).
pub const COOKIE: &str = "parkboard_session";
/// The session cookie's name under TLS. A browser takes a `__Host-` cookie only from
/// a secure page, for `Path=/` and without a `Domain`, so a sibling site
/// (`evil.example.com` beside `board.example.com`) cannot plant one.
pub const TLS_COOKIE: &str = "__Host-parkboard_session";

/// The session cookie's name on a board that serves https or not.
///
/// ```
/// assert_eq!(parkboard::sessions::cookie_name(true), "__Host-parkboard_session");
/// assert_eq!(parkboard::sessions::cookie_name(false), "parkboard_session");
/// ```
pub fn cookie_name(https: bool) -> &'static str {
    if https {
        TLS_COOKIE
    } else {
        COOKIE
    }
}
/// Sessions one user may hold at once (the oldest ends when a new one starts).
pub const SESSIONS_PER_USER: usize = 16;
/// Sessions the board holds at most.
pub const MAX_SESSIONS: usize = 10_000;

/// A session's token digest: tokens themselves are never stored.
type Digest32 = [u8; 32];

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Debug)]
struct Session {
    principal: Principal,
    started: Instant,
    expires: Instant,
}

/// The board's sessions.
#[derive(Debug, Clone)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<Digest32, Session>>>,
    ttl: Duration,
}

impl Sessions {
    /// No session yet; each lasts `ttl`.
    pub fn new(ttl: Duration) -> Sessions {
        Sessions { inner: Arc::default(), ttl }
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session for `principal`; its token (for the cookie).
    pub fn start(&self, principal: Principal) -> String {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.expires > now);
        let mut theirs: Vec<(Digest32, Instant)> = map
            .iter()
            .filter(|(_, s)| s.principal.name == principal.name)
            .map(|(d, s)| (*d, s.started))
            .collect();
        theirs.sort_by_key(|(_, started)| *started);
        let over = (theirs.len() + 1).saturating_sub(SESSIONS_PER_USER);
        for (d, _) in theirs.into_iter().take(over) {
            map.remove(&d);
        }
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.started).map(|(d, _)| *d) {
                map.remove(&oldest);
            }
        }
        map.insert(digest(&token), Session { principal, started: now, expires: now + self.ttl });
        token
    }

    /// The principal of a live session, and when it ends.
    pub fn get(&self, token: &str) -> Option<(Principal, Instant)> {
        let now = Instant::now();
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&digest(token)).filter(|s| s.expires > now).map(|s| (s.principal.clone(), s.expires))
    }

    /// Whether the session of `token` is still live.
    pub fn is_live(&self, token: &str) -> bool {
        self.get(token).is_some()
    }

    /// Ends a session (logout).
    pub fn end(&self, token: &str) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).remove(&digest(token));
    }

    /// Live sessions.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).values().filter(|s| s.expires > now).count()
    }

    /// No live session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Failed logins allowed per user name from one address within [`WINDOW`].
pub const PER_USER: usize = 5;
/// Failed logins allowed per user name from all addresses together within [`WINDOW`]:
/// higher than [`PER_USER`], so that one address cannot lock a user out (five wrong
/// passwords from anywhere did), while guesses spread over many addresses still stop.
pub const PER_USER_ALL: usize = 50;
/// Failed logins allowed per address within [`WINDOW`].
pub const PER_ADDRESS: usize = 20;
/// The throttle's window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failure records the throttle keeps at most. Past it, the records of addresses are
/// forgotten (logged), never the users' own counts: those are one a configured user,
/// so a flood from many addresses can neither lock every login out (it did, when a
/// full table refused everyone) nor wipe what guesses at a user cost.
const REMEMBERED: usize = 50_000;
/// How long an address a user logged in from stays known to the throttle for that user.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Addresses known for their users, at most (the oldest is forgotten first).
const KNOWN_MAX: usize = 4096;

/// What a failure is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// A configured user, from everywhere.
    User(String),
    /// A configured user from one address (an IPv6 host by its /64, as all these).
    UserFrom(String, IpAddr),
    /// A name that is no user, from one address: counted as a user's would be there
    /// (a shared record for all such names made them cheap to tell from real ones:
    /// 429 at once, where a real name got its password checked), with no record
    /// from all addresses (the address's own limit bounds how many it adds).
    NotAUserFrom(String, IpAddr),
    /// One address, whatever the name.
    Address(IpAddr),
}

#[derive(Debug, Default)]
struct Records {
    failures: HashMap<Key, VecDeque<Instant>>,
    /// Where each user logged in from lately: past the user's all-addresses budget
    /// these still get in (found by a review: wrong passwords from ten addresses
    /// locked a receptionist out of her own desk).
    known: HashMap<(String, IpAddr), Instant>,
}

impl Records {
    /// The records an attempt of `name` from `addr` counts against at `now`, with
    /// their limits: from a known address the user's budget from everywhere is
    /// neither checked nor spent (spending it let a withdrawn attempt free one for
    /// strangers).
    fn counted(&self, name: &str, is_user: bool, addr: IpAddr, now: Instant) -> Vec<(Key, usize)> {
        let known = is_user && self.knows(name, addr, now);
        keys(name, is_user, addr).into_iter().filter(|(k, _)| !(known && matches!(k, Key::User(_)))).collect()
    }

    /// Whether `name` logged in from `addr` within [`KNOWN_FOR`] of `now`.
    fn knows(&self, name: &str, addr: IpAddr, now: Instant) -> bool {
        self.known
            .get(&(name_of(name), address_key(addr)))
            .is_some_and(|t| now.duration_since(*t) < KNOWN_FOR)
    }
}

/// Failed logins, per user name and per address.
#[derive(Debug, Clone, Default)]
pub struct LoginThrottle {
    inner: Arc<Mutex<Records>>,
}

impl LoginThrottle {
    /// Nothing failed yet.
    pub fn new() -> LoginThrottle {
        LoginThrottle::default()
    }

    /// Starts a login attempt of `name` (`is_user`: a configured user's) from `addr`:
    /// `Err(wait)` when the name or the address has failed too often lately. An
    /// attempt counts as failed from the start (so parallel guesses cannot all pass
    /// the check before any is counted), until
    /// [`succeeded`](Self::succeeded) takes it back. A user's budget from all
    /// addresses does not hold back an address the user logged in from lately.
    pub fn attempt(&self, name: &str, is_user: bool, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let r = &mut *guard;
        let keys = r.counted(name, is_user, addr, now);
        let mut wait = None;
        for (key, limit) in &keys {
            if let Some(times) = r.failures.get_mut(key) {
                while times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                    times.pop_front();
                }
                if times.len() >= *limit {
                    let free = WINDOW.saturating_sub(now.duration_since(times[0]));
                    wait = Some(wait.map_or(free, |w: Duration| w.max(free)));
                }
            }
        }
        if let Some(w) = wait {
            return Err(w);
        }
        if r.failures.len() + keys.len() > REMEMBERED {
            r.failures.retain(|_, t| t.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
            if r.failures.len() + keys.len() > REMEMBERED {
                // A flood from many addresses: what addresses did is forgotten; what
                // each user's guesses cost is kept.
                // A user's records from its known addresses stay too: they are all
                // that bounds guesses from there (found by a review: floods, then
                // five guesses from a shared NAT after each, passed the budget).
                let known = &r.known;
                r.failures.retain(|k, _| match k {
                    Key::User(_) => true,
                    Key::UserFrom(u, a) => known.contains_key(&(u.clone(), *a)),
                    _ => false,
                });
                if let Some(held) = crate::limits::refusal_to_log() {
                    tracing::warn!(held, "the login throttle is full: the failures of addresses are forgotten (each user's are kept)");
                }
            }
        }
        for (key, limit) in keys {
            let times = r.failures.entry(key).or_default();
            times.push_back(now);
            while times.len() > limit {
                times.pop_front();
            }
        }
        Ok(())
    }

    /// The attempt of `name` from `addr` was not made (the board was busy): it is
    /// given back to the name and the address, and nothing else is cleared.
    pub fn withdraw(&self, name: &str, is_user: bool, addr: IpAddr) {
        let mut r = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for (key, _) in r.counted(name, is_user, addr, Instant::now()) {
            if let Some(times) = r.failures.get_mut(&key) {
                times.pop_back();
            }
        }
    }

    /// The attempt of `user` from `addr` succeeded: the user's failures are cleared,
    /// the address's count gives the attempt back, and the address is known for the
    /// user ([`KNOWN_FOR`]).
    pub fn succeeded(&self, user: &str, addr: IpAddr) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let r = &mut *guard;
        let name = name_of(user);
        r.failures.remove(&Key::User(name.clone()));
        r.failures.remove(&Key::UserFrom(name.clone(), address_key(addr)));
        if let Some(times) = r.failures.get_mut(&Key::Address(address_key(addr))) {
            times.pop_back();
        }
        if r.known.len() >= KNOWN_MAX && !r.known.contains_key(&(name.clone(), address_key(addr))) {
            if let Some(oldest) = r.known.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()) {
                r.known.remove(&oldest);
            }
        }
        r.known.insert((name, address_key(addr)), Instant::now());
    }

    /// Failure records kept now (names and addresses).
    pub fn remembered(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).failures.len()
    }
}

/// The failure records an attempt of `name` (`is_user`: a configured user's) from
/// `addr` counts against, with their limits.
fn keys(name: &str, is_user: bool, addr: IpAddr) -> Vec<(Key, usize)> {
    let (n, a) = (name_of(name), address_key(addr));
    if is_user {
        vec![
            (Key::UserFrom(n.clone(), a), PER_USER),
            (Key::User(n), PER_USER_ALL),
            (Key::Address(a), PER_ADDRESS),
        ]
    } else {
        vec![(Key::NotAUserFrom(n, a), PER_USER), (Key::Address(a), PER_ADDRESS)]
    }
}

fn name_of(user: &str) -> String {
    user.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::Role;

    fn who(name: &str) -> Principal {
        Principal { name: name.into(), role: Role::Viewer, phone: None, lots: None }
    }

    #[test]
    fn a_session_is_found_by_its_token_until_it_ends() {
        let s = Sessions::new(Duration::from_secs(60));
        let t = s.start(who("a"));
        assert_eq!(s.get(&t).unwrap().0.name, "a");
        assert!(s.get("forged").is_none());
        s.end(&t);
        assert!(s.get(&t).is_none());
        let short = Sessions::new(Duration::ZERO);
        let t = short.start(who("a"));
        assert!(short.get(&t).is_none(), "expired");
    }

    #[test]
    fn a_user_holds_at_most_sixteen_sessions() {
        let s = Sessions::new(Duration::from_secs(60));
        let first = s.start(who("a"));
        for _ in 0..SESSIONS_PER_USER {
            s.start(who("a"));
        }
        assert_eq!(s.len(), SESSIONS_PER_USER);
        assert!(s.get(&first).is_none(), "the oldest ended");
    }

    /// Guesses at one user spread over many addresses stop at [`PER_USER_ALL`].
    #[test]
    fn guesses_at_one_user_from_many_addresses_stop_too() {
        let th = LoginThrottle::new();
        let t0 = Instant::now();
        let from = |i: usize| -> IpAddr { format!("10.1.{}.{}", i / 200, i % 200).parse().unwrap() };
        for i in 0..PER_USER_ALL {
            assert!(th.attempt("reception", true, from(i), t0).is_ok(), "{i}");
        }
        assert!(th.attempt("reception", true, from(PER_USER_ALL), t0).is_err());
        assert!(th.attempt("wall", true, from(PER_USER_ALL), t0).is_ok(), "other users are not held");
    }

    #[test]
    fn failures_throttle_the_user_and_the_address() {
        let th = LoginThrottle::new();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        // Attempts count before their outcome is known: parallel guesses cannot race.
        for _ in 0..PER_USER {
            assert!(th.attempt("reception", true, a, t0).is_ok());
        }
        let wait = th.attempt("reception", true, a, t0).unwrap_err();
        assert!(wait > Duration::from_secs(60), "{wait:?}");
        // One address cannot lock the user out: from another, the user still logs in.
        assert!(th.attempt("reception", true, b, t0).is_ok(), "the user from another address");
        th.succeeded("reception", b);
        assert!(th.attempt("other", true, b, t0).is_ok(), "another user from another address");
        th.succeeded("other", b);
        assert!(th.attempt("reception", true, a, t0 + WINDOW).is_ok(), "the window passed");
        th.succeeded("reception", a);
        for i in 0..PER_ADDRESS {
            assert!(th.attempt(&format!("u{i}"), true, b, t0).is_ok(), "{i}");
        }
        assert!(th.attempt("fresh", true, b, t0).is_err(), "the address is throttled for every name");
    }

    /// Made-up names add no record from all addresses (found by a review: each made two
    /// records, and 25,000 attempts from 1,250 addresses filled the table, which then
    /// refused every login); and a full table forgets what addresses did, never
    /// refusing a user for it.
    #[test]
    fn made_up_names_cannot_fill_the_table_and_a_full_one_lets_users_in() {
        let th = LoginThrottle::new();
        let t0 = Instant::now();
        let from = |i: usize| -> IpAddr {
            format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256).parse().unwrap()
        };
        for i in 0..1000 {
            let _ = th.attempt(&format!("x{i}"), false, from(i % 50), t0);
        }
        assert!(
            th.remembered() <= 50 * (PER_ADDRESS + 1),
            "at most the address's own limit of names: {}",
            th.remembered()
        );
        // Many addresses, past what the table keeps.
        for i in 0..REMEMBERED {
            let _ = th.attempt(&format!("y{i}"), false, from(100 + i), t0);
        }
        assert!(th.remembered() <= REMEMBERED, "{}", th.remembered());
        assert!(th.attempt("reception", true, from(10_000_000), t0).is_ok(), "a user still gets in");
        // What guesses at a user cost is never forgotten.
        let guesses =
            (0..PER_USER_ALL).filter(|&i| th.attempt("wall", true, from(20_000 + i), t0).is_ok()).count();
        assert_eq!(guesses, PER_USER_ALL);
        for i in 0..REMEMBERED {
            let _ = th.attempt(&format!("z{i}"), false, from(200_000 + i), t0);
        }
        assert!(th.attempt("wall", true, from(30_000), t0).is_err(), "the user's budget is kept");
    }

    /// A throttle where `reception` logged in from its desk (10.9.9.9) at `t0`.
    fn reception_logged_in_at_desk() -> (LoginThrottle, Instant, IpAddr) {
        let th = LoginThrottle::new();
        let t0 = Instant::now();
        let desk: IpAddr = "10.9.9.9".parse().unwrap();
        assert!(th.attempt("reception", true, desk, t0).is_ok());
        th.succeeded("reception", desk);
        (th, t0, desk)
    }

    /// The `i`th of many addresses that are no user's known one.
    fn stranger(i: usize) -> IpAddr {
        format!("10.2.{}.{}", i / 5, i % 5).parse().unwrap()
    }

    /// Guesses at a user from many addresses stop, but not the user at a desk it
    /// logged in from lately (found by a review: ten addresses locked a user out).
    #[test]
    fn a_user_locked_for_new_addresses_still_gets_in_from_a_known_one() {
        let (th, t0, desk) = reception_logged_in_at_desk();
        for i in 0..PER_USER_ALL {
            assert!(th.attempt("reception", true, stranger(i), t0).is_ok(), "{i}");
        }
        let newcomer: IpAddr = "10.3.0.1".parse().unwrap();
        assert!(th.attempt("reception", true, newcomer, t0).is_err(), "a new address is held back");
        assert!(th.attempt("reception", true, desk, t0).is_ok(), "the desk gets in");
    }

    /// A name that is no user is throttled as a user's name would be: nothing tells
    /// the two apart (found by a review: a shared record for made-up names answered
    /// 429 at once, and only real names got their password checked).
    #[test]
    fn names_that_are_no_user_are_throttled_as_users_names_are() {
        let th = LoginThrottle::new();
        let t0 = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..PER_USER + 1 {
            assert!(th.attempt(&format!("nobody{i}"), false, a, t0).is_ok(), "a new name: {i}");
        }
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for (name, is_user) in [("reception", true), ("nobody", false)] {
            for i in 0..PER_USER {
                assert!(th.attempt(name, is_user, b, t0).is_ok(), "{name} {i}");
            }
            assert!(th.attempt(name, is_user, b, t0).is_err(), "{name}: the sixth from one address");
        }
    }

    /// Floods of the table do not give guesses from a user's known address back
    /// (found by a review: five more after each flood, from a NAT the user shares).
    #[test]
    fn a_full_table_keeps_what_guesses_from_a_known_address_cost() {
        let (th, t0, desk) = reception_logged_in_at_desk();
        for i in 0..PER_USER {
            assert!(th.attempt("reception", true, desk, t0).is_ok(), "{i}");
        }
        assert!(th.attempt("reception", true, desk, t0).is_err());
        let from = |i: usize| -> IpAddr {
            format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256).parse().unwrap()
        };
        for i in 0..REMEMBERED {
            let _ = th.attempt(&format!("flood{i}"), false, from(i), t0);
        }
        assert!(th.remembered() < REMEMBERED, "the table was flushed");
        assert!(th.attempt("reception", true, desk, t0).is_err(), "still held back from the desk");
    }

    /// An attempt from a known address neither checks nor spends the user's budget
    /// from everywhere (found by a review: spent, then withdrawn when the checker was
    /// busy, it gave strangers one more guess each time).
    #[test]
    fn a_withdrawn_attempt_from_a_known_address_frees_nothing_for_strangers() {
        let (th, t0, desk) = reception_logged_in_at_desk();
        for i in 0..PER_USER_ALL {
            assert!(th.attempt("reception", true, stranger(i), t0).is_ok(), "{i}");
        }
        for _ in 0..3 {
            assert!(th.attempt("reception", true, desk, t0).is_ok());
            th.withdraw("reception", true, desk);
        }
        assert!(th.attempt("reception", true, stranger(PER_USER_ALL), t0).is_err(), "still held back");
    }
}
