//! Logged-in sessions, kept in memory (a restart of the board logs everyone out), and
//! the throttle of failed logins per user and per address.

use crate::users::Principal;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "parkboard_session";
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
/// Names and addresses the throttle remembers at most (beyond: it refuses until the
/// window frees room, failing closed).
const REMEMBERED: usize = 50_000;

/// Failed logins, per user name and per address.
#[derive(Debug, Clone, Default)]
pub struct LoginThrottle {
    inner: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl LoginThrottle {
    /// Nothing failed yet.
    pub fn new() -> LoginThrottle {
        LoginThrottle::default()
    }

    /// Starts a login attempt of `user` from `addr`: `Err(wait)` when either has
    /// failed too often lately. An attempt counts as failed from the start (so
    /// parallel guesses cannot all pass the check before any is counted), until
    /// [`succeeded`](Self::succeeded) takes it back.
    pub fn attempt(&self, user: &str, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = None;
        let keys = [
            (user_from_key(user, addr), PER_USER),
            (user_key(user), PER_USER_ALL),
            (addr_key(addr), PER_ADDRESS),
        ];
        for (key, limit) in keys.iter().cloned() {
            if let Some(times) = map.get_mut(&key) {
                while times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                    times.pop_front();
                }
                if times.len() >= limit {
                    let free = WINDOW.saturating_sub(now.duration_since(times[0]));
                    wait = Some(wait.map_or(free, |w: Duration| w.max(free)));
                }
            }
        }
        if map.len() >= REMEMBERED {
            map.retain(|_, t| t.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
            if map.len() >= REMEMBERED {
                wait = Some(wait.unwrap_or(Duration::from_secs(60)));
            }
        }
        if let Some(w) = wait {
            return Err(w);
        }
        for (key, limit) in keys {
            let times = map.entry(key).or_default();
            times.push_back(now);
            while times.len() > limit {
                times.pop_front();
            }
        }
        Ok(())
    }

    /// The attempt of `user` from `addr` was not made (the board was busy): it is
    /// given back to the user and the address, and nothing else is cleared.
    pub fn withdraw(&self, user: &str, addr: IpAddr) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for key in [user_from_key(user, addr), user_key(user), addr_key(addr)] {
            if let Some(times) = map.get_mut(&key) {
                times.pop_back();
            }
        }
    }

    /// The attempt of `user` from `addr` succeeded: the user's failures are cleared
    /// and the address's count gives the attempt back.
    pub fn succeeded(&self, user: &str, addr: IpAddr) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&user_key(user));
        map.remove(&user_from_key(user, addr));
        if let Some(times) = map.get_mut(&addr_key(addr)) {
            times.pop_back();
        }
    }
}

fn user_key(user: &str) -> String {
    let mut k = String::from("u:");
    k.extend(user.chars().take(64));
    k
}

fn user_from_key(user: &str, addr: IpAddr) -> String {
    format!("{}@{}", user_key(user), addr_key(addr))
}

fn addr_key(addr: IpAddr) -> String {
    // An IPv6 host owns its /64: throttle the prefix.
    format!("a:{}", crate::limits::address_key(addr))
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
            assert!(th.attempt("reception", from(i), t0).is_ok(), "{i}");
        }
        assert!(th.attempt("reception", from(PER_USER_ALL), t0).is_err());
        assert!(th.attempt("wall", from(PER_USER_ALL), t0).is_ok(), "other users are not held");
    }

    #[test]
    fn failures_throttle_the_user_and_the_address() {
        let th = LoginThrottle::new();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        // Attempts count before their outcome is known: parallel guesses cannot race.
        for _ in 0..PER_USER {
            assert!(th.attempt("reception", a, t0).is_ok());
        }
        let wait = th.attempt("reception", a, t0).unwrap_err();
        assert!(wait > Duration::from_secs(60), "{wait:?}");
        // One address cannot lock the user out: from another, the user still logs in.
        assert!(th.attempt("reception", b, t0).is_ok(), "the user from another address");
        th.succeeded("reception", b);
        assert!(th.attempt("other", b, t0).is_ok(), "another user from another address");
        th.succeeded("other", b);
        assert!(th.attempt("reception", a, t0 + WINDOW).is_ok(), "the window passed");
        th.succeeded("reception", a);
        for i in 0..PER_ADDRESS {
            assert!(th.attempt(&format!("u{i}"), b, t0).is_ok(), "{i}");
        }
        assert!(th.attempt("fresh", b, t0).is_err(), "the address is throttled for every name");
    }
}
