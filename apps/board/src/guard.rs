//! Same origin only: every request's `Host` must be one the board answers to (421
//! otherwise: DNS rebinding), every state-changing request and every live-socket
//! upgrade must come from the board's own origin (403 otherwise: cross-site request
//! forgery and WebSocket hijacking), and every answer carries the headers that keep
//! the page out of frames and other sites' reach.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

/// The page's Content-Security-Policy: scripts, styles and the socket from the
/// board's own origin only; never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                       img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Which hosts and origins the board accepts.
#[derive(Debug, Clone)]
pub struct Access {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    https: bool,
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl Access {
    /// The board on `listen` (`https` under TLS) answers to its listen address,
    /// `localhost` and the loopback addresses on its port, and `allowed_hosts` (with a
    /// port, or without one: then on the board's port or the scheme's default);
    /// sockets open from its own origin or `allowed_origins`.
    pub fn new(
        listen: SocketAddr,
        https: bool,
        allowed_hosts: &[String],
        allowed_origins: &[String],
    ) -> Access {
        let port = listen.port();
        let mut hosts = vec![
            normalize(&listen.to_string(), https),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ];
        for h in allowed_hosts {
            let h = h.to_ascii_lowercase();
            if has_port(&h) {
                hosts.push(normalize(&h, https));
            } else {
                hosts.push(format!("{h}:{port}"));
                hosts.push(normalize(&h, https));
            }
        }
        let origins = allowed_origins.iter().map(|o| o.trim_end_matches('/').to_ascii_lowercase()).collect();
        Access { inner: Arc::new(Inner { https, hosts, origins }) }
    }

    /// Whether the board serves https.
    pub fn https(&self) -> bool {
        self.inner.https
    }

    /// Whether `host` (a `Host` header) is one the board answers to.
    pub fn host_ok(&self, host: &str) -> bool {
        let h = normalize(&host.to_ascii_lowercase(), self.inner.https);
        self.inner.hosts.contains(&h)
    }

    /// Whether `origin` is the board's own (scheme, and a host it answers to) or an
    /// allowed one.
    pub fn origin_ok(&self, origin: &str) -> bool {
        self.own_origin(origin) || self.inner.origins.contains(&origin.trim().to_ascii_lowercase())
    }

    /// Whether `origin` is the board's own: its scheme, and a host it answers to.
    pub fn own_origin(&self, origin: &str) -> bool {
        let o = origin.trim().to_ascii_lowercase();
        let scheme = if self.inner.https { "https://" } else { "http://" };
        o.strip_prefix(scheme).is_some_and(|host| !host.contains('/') && self.host_ok(host))
    }

    /// The request's `Origin`, when it is present and allowed (the live socket's
    /// check: the board's own page, or one in `allowed_origins`).
    pub fn origin_of(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        match one_origin(headers) {
            None => Err("no Origin header: the live socket opens only from the board's page"),
            Some(Err(())) => Err("an unreadable or repeated Origin header"),
            Some(Ok(o)) if self.origin_ok(o) => Ok(()),
            Some(Ok(_)) => {
                Err("a foreign Origin: the board opens only from its own page (or allowed_origins)")
            }
        }
    }

    /// The request's `Origin`, when it is the board's own: what a `POST` needs.
    /// `allowed_origins` are for the live socket only: a page there (a wallboard's)
    /// may not log a browser in or out (found by a review: it could log a victim into
    /// the attacker's account, whose retrieves then ring the attacker's phone).
    pub fn own_origin_of(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        match one_origin(headers) {
            None => Err("no Origin header: forms post only from the board's own page"),
            Some(Err(())) => Err("an unreadable or repeated Origin header"),
            Some(Ok(o)) if self.own_origin(o) => Ok(()),
            Some(Ok(_)) => Err("a foreign Origin: forms post only from the board's own page"),
        }
    }
}

/// The request's `Origin`: `Some(Err)` when it is not text, or comes twice (a
/// browser sends one; found by a review: only the first of two was looked at).
fn one_origin(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let mut all = headers.get_all(header::ORIGIN).iter();
    let first = all.next()?;
    if all.next().is_some() {
        return Some(Err(()));
    }
    Some(first.to_str().map_err(drop))
}

fn has_port(h: &str) -> bool {
    match h.rfind(']') {
        Some(end) => h[end..].contains(':'),
        None => h.contains(':'),
    }
}

/// `host[:port]` with the scheme's default port made explicit.
fn normalize(h: &str, https: bool) -> String {
    if has_port(h) {
        h.to_string()
    } else {
        format!("{h}:{}", if https { 443 } else { 80 })
    }
}

/// The middleware: Host and Origin checks before the route, the security headers on
/// every answer.
pub async fn guard(State(access): State<Access>, req: Request<Body>, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    // Two Host headers: which one is meant is anybody's guess (no browser sends two).
    let two = req.headers().get_all(header::HOST).iter().nth(1).is_some();
    if two || !access.host_ok(host) {
        if let Some(held) = crate::limits::refusal_to_log() {
            let why = if two { "two Host headers" } else { "unknown Host" };
            tracing::warn!(host, path = %req.uri().path(), held, "refused: {why} (held: refusals not logged since the last line)");
        }
        return with_headers(
            (
                StatusCode::MISDIRECTED_REQUEST,
                "this board does not answer to that host name (allowed_hosts)\n",
            )
                .into_response(),
            &access,
        );
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if !safe && !same_origin_fetch(req.headers()) {
        if let Err(why) = access.own_origin_of(req.headers()) {
            if let Some(held) = crate::limits::refusal_to_log() {
                tracing::warn!(path = %req.uri().path(), why, held, "refused: cross-origin request (held: refusals not logged since the last line)");
            }
            return with_headers(
                (StatusCode::FORBIDDEN, format!("refused: {why}\n")).into_response(),
                &access,
            );
        }
    }
    // A body announced larger than the board reads is refused before any of it comes
    // (the body limit alone waited for the bytes, up to the request's deadline).
    let announced = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    if announced
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > crate::limits::MAX_BODY as u64)
    {
        let mut refused = (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("refused: a body over {} bytes\n", crate::limits::MAX_BODY),
        )
            .into_response();
        refused.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        return with_headers(refused, &access);
    }
    with_headers(next.run(req).await, &access)
}

/// A form post a browser marks as from the page's own origin while it sends `Origin:
/// null` (it does under a `no-referrer` policy). `Sec-Fetch-Site` cannot be set by
/// page script.
fn same_origin_fetch(headers: &HeaderMap) -> bool {
    let origin_null = matches!(one_origin(headers), Some(Ok("null")));
    origin_null && headers.get("sec-fetch-site").is_some_and(|s| s.as_bytes() == b"same-origin")
}

fn with_headers(mut r: Response, access: &Access) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if access.https() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        let a = Access::new("127.0.0.1:8080".parse().unwrap(), false, &["board.example".into()], &[]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
            "board.example:8080",
            "board.example",
        ] {
            assert!(a.host_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:8080",
            "127.0.0.1:8081",
            "localhost",
            "127.0.0.1.evil.example:8080",
        ] {
            assert!(!a.host_ok(bad), "{bad}");
        }
        assert!(a.origin_ok("http://127.0.0.1:8080"));
        assert!(a.origin_ok("http://board.example"));
        for bad in ["https://127.0.0.1:8080", "http://evil.example", "null", "http://127.0.0.1:8080/x", ""] {
            assert!(!a.origin_ok(bad), "{bad}");
        }
        let tls = Access::new(
            "0.0.0.0:443".parse().unwrap(),
            true,
            &["board.example".into()],
            &["https://wall.example".into()],
        );
        assert!(tls.host_ok("board.example") && tls.host_ok("board.example:443"));
        assert!(tls.origin_ok("https://board.example") && tls.origin_ok("https://wall.example"));
        assert!(!tls.origin_ok("http://board.example"));
    }

    #[test]
    fn two_origin_headers_are_none_of_them() {
        let a = Access::new("127.0.0.1:8080".parse().unwrap(), false, &[], &[]);
        let mut h = HeaderMap::new();
        h.append(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert_eq!(a.own_origin_of(&h), Ok(()));
        assert_eq!(a.origin_of(&h), Ok(()));
        h.append(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(a.own_origin_of(&h).is_err() && a.origin_of(&h).is_err());
    }
}
