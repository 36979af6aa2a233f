//! What the board's routes share: the client, users, sessions, the checks, the
//! audit trail, the counters and the open pages.

use crate::audit::Audit;
use crate::desk::SessionRef;
use crate::guard::Access;
use crate::metrics::Metrics;
use crate::sessions::{LoginThrottle, Sessions};
use crate::shutdown::Sockets;
use crate::users::{Principal, Users};
use ami_parking_transport::Client;
use axum::http::{header, HeaderMap};
use dioxus_liveview::LiveViewPool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Live pages open at once, at most (more are refused with 503).
pub const MAX_VIEWERS: usize = 1_000;
/// Live pages one user may have open at once.
pub const VIEWERS_PER_USER: usize = 16;

/// Everything the routes share.
#[derive(Clone)]
pub struct Board {
    /// Every server's client.
    pub client: Client,
    /// Who may log in (none: no login; the board then serves loopback only).
    pub users: Users,
    /// Live sessions.
    pub sessions: Sessions,
    /// Failed logins.
    pub throttle: LoginThrottle,
    /// Which Host and Origin the board accepts.
    pub access: Access,
    /// Where actions are recorded.
    pub audit: Audit,
    /// The board's counters.
    pub metrics: Metrics,
    /// Where retrieves ring by default without logins.
    pub retrieve_to: String,
    /// The open live pages.
    pub sockets: Sockets,
    /// The parking history (off when `None`).
    pub history: Option<ami_parking_history::History>,
    /// Whether viewers see the History page (operators always do).
    pub history_viewers: bool,
    /// Each user's actions a second, all their pages together.
    pub rates: crate::limits::ActionRates,
    pool: Arc<LiveViewPool>,
    verifying: Arc<tokio::sync::Semaphore>,
    verifier: crate::verifier::Verifier,
}

impl Board {
    /// A board for `client` on `access`, with `users` (none: no login).
    pub fn new(client: Client, users: Users, access: Access, session_ttl: Duration) -> Board {
        Board {
            client,
            users,
            sessions: Sessions::new(session_ttl),
            throttle: LoginThrottle::new(),
            access,
            audit: Audit::to_log(),
            metrics: Metrics::new(),
            retrieve_to: crate::config::DEFAULT_RETRIEVE_TO.into(),
            sockets: Sockets::new(),
            history: None,
            history_viewers: false,
            rates: Default::default(),
            pool: Arc::new(LiveViewPool::new()),
            // Password checks are slow on purpose: one at a time on the checker's
            // thread, one more waiting; more logins wait here.
            verifying: Arc::new(tokio::sync::Semaphore::new(2)),
            verifier: crate::verifier::Verifier::start().expect("a thread for password checks"),
        }
    }

    /// A board without logins on loopback `listen` (the demo, and tests).
    pub fn local(client: Client, listen: std::net::SocketAddr, retrieve_to: &str) -> Board {
        let mut b = Board::new(
            client,
            Users::default(),
            Access::new(listen, false, &[], &[]),
            Duration::from_secs(3600),
        );
        b.retrieve_to = retrieve_to.into();
        b
    }

    /// Whether users must log in.
    pub fn logins(&self) -> bool {
        !self.users.is_empty()
    }

    /// The user of the request's session: `None` without a live session; the local
    /// operator on a board without logins.
    pub fn who(&self, headers: &HeaderMap) -> Option<(Principal, Option<SessionRef>, Option<Instant>)> {
        if !self.logins() {
            return Some((Principal::local(), None, None));
        }
        let token = session_cookie(headers, crate::sessions::cookie_name(self.access.https()))?;
        let (who, until) = self.sessions.get(&token)?;
        Some((who, Some(SessionRef { sessions: self.sessions.clone(), token }), Some(until)))
    }

    pub(crate) fn pool(&self) -> Arc<LiveViewPool> {
        self.pool.clone()
    }

    pub(crate) fn verifying(&self) -> Arc<tokio::sync::Semaphore> {
        self.verifying.clone()
    }

    /// The password checker (one thread).
    pub(crate) fn verifier(&self) -> &crate::verifier::Verifier {
        &self.verifier
    }
}

/// The session token in a request's cookie `name` (see
/// [`cookie_name`](crate::sessions::cookie_name)); none when there are two or more.
///
/// Two session cookies are somebody's doing: over plain http a sibling site
/// (`evil.example.com` beside `board.example.com`) may plant one for a narrower path,
/// which the browser sends first, so the first one is not the user's (found by a
/// review: the page then ran as the planter's operator, and its retrieves rang the
/// planter's phone). Under TLS the cookie's `__Host-` name keeps such a cookie out.
///
/// ```
/// use axum::http::{header, HeaderMap, HeaderValue};
/// let mut h = HeaderMap::new();
/// h.insert(header::COOKIE, HeaderValue::from_static("theme=dark; parkboard_session=abc"));
/// assert_eq!(parkboard::state::session_cookie(&h, "parkboard_session").as_deref(), Some("abc"));
/// assert_eq!(parkboard::state::session_cookie(&h, "__Host-parkboard_session"), None);
/// // Another cookie's UTF-8 value does not hide it.
/// let v = HeaderValue::from_bytes("theme=café; parkboard_session=abc".as_bytes()).unwrap();
/// h.insert(header::COOKIE, v);
/// assert_eq!(parkboard::state::session_cookie(&h, "parkboard_session").as_deref(), Some("abc"));
/// ```
pub fn session_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    // Read as bytes: another cookie's value may be UTF-8 (found by a review: a
    // sibling site's `theme=café` made the whole header unreadable as text, so the
    // user was logged out, and a logout then ended no session).
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .filter_map(|c| c.trim_ascii().strip_prefix(name.as_bytes())?.strip_prefix(b"="));
    let token = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let token = std::str::from_utf8(token).ok()?;
    Some(token.to_string()).filter(|t| !t.is_empty() && t.len() <= 128)
}
