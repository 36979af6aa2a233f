//! `GET /login` (the form), `POST /login` (303 to `/` with a session cookie, 401
//! for a wrong password, 429 when throttled) and `POST /logout`.

use crate::assets::login_page;
use crate::metrics::Login;
use crate::peer::Peer;
use crate::sessions::cookie_name;
use crate::state::{session_cookie, Board};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use std::time::Instant;

/// How long a login waits for its turn at the password checker before it is told
/// the board is busy.
pub const VERIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The login form's fields.
#[derive(Deserialize)]
pub struct Credentials {
    user: String,
    password: String,
}

/// `GET /login`.
pub async fn form(State(board): State<Board>) -> Response {
    if !board.logins() {
        return Redirect::to("/").into_response();
    }
    Html(login_page(None)).into_response()
}

/// `POST /login`.
pub async fn submit(
    State(board): State<Board>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Form(c): Form<Credentials>,
) -> Response {
    if !board.logins() {
        return Redirect::to("/").into_response();
    }
    let (user, addr) = (c.user.trim().to_string(), peer.ip());
    // What the logs name: a configured user, never what else was typed there (a
    // password typed into the name field by mistake would be written to the log).
    let logged = if board.users.exists(&user) { user.as_str() } else { "(not a user)" };
    if user.len() > 64 || c.password.len() > 1024 {
        board.metrics.login(Login::Failed);
        return (StatusCode::UNAUTHORIZED, Html(login_page(Some("Wrong user name or password."))))
            .into_response();
    }
    let is_user = board.users.exists(&user);
    if let Err(wait) = board.throttle.attempt(&user, is_user, addr, Instant::now()) {
        board.metrics.login(Login::Throttled);
        tracing::warn!(user = logged, %addr, "login throttled");
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let page = login_page(Some(&format!("Too many failed logins: try again in {minutes} min.")));
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())],
            Html(page),
        )
            .into_response();
    }
    let verified = {
        // A flood of logins queues here: past a few seconds the answer is "busy" (and
        // the attempt is not counted against the user), not a wait without end.
        let slot = tokio::time::timeout(VERIFY_WAIT, board.verifying().acquire_owned()).await;
        let Ok(Ok(slot)) = slot else {
            board.throttle.withdraw(&user, is_user, addr);
            tracing::warn!(user = logged, %addr, "login refused: password checks are busy");
            let page = login_page(Some("The board is busy checking logins: try again in a moment."));
            return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], Html(page))
                .into_response();
        };
        // The place goes with the check: a client that goes away does not free it
        // for another while its check still waits to run.
        board.verifier().verify_holding(slot, board.users.clone(), &user, &c.password).await
    };
    let Some(who) = verified else {
        board.metrics.login(Login::Failed);
        tracing::warn!(user = logged, %addr, "login failed");
        return (StatusCode::UNAUTHORIZED, Html(login_page(Some("Wrong user name or password."))))
            .into_response();
    };
    board.throttle.succeeded(&user, addr);
    board.metrics.login(Login::Ok);
    tracing::info!(user, role = who.role.as_str(), %addr, "logged in");
    let token = board.sessions.start(who);
    let (name, secure) = cookie_of(&board);
    let cookie = format!(
        "{name}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        board.sessions.ttl().as_secs()
    );
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `POST /logout`: ends the session (its open pages can no longer act) and clears
/// the cookie.
pub async fn logout(State(board): State<Board>, headers: HeaderMap) -> Response {
    let (name, secure) = cookie_of(&board);
    if let Some(token) = session_cookie(&headers, name) {
        if let Some((who, _)) = board.sessions.get(&token) {
            tracing::info!(user = who.name, "logged out");
        }
        board.sessions.end(&token);
    }
    let clear = format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&clear) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The session cookie's name and its `Secure` attribute (both from whether the board
/// serves https: a `__Host-` cookie must be `Secure`).
fn cookie_of(board: &Board) -> (&'static str, &'static str) {
    let https = board.access.https();
    (cookie_name(https), if https { "; Secure" } else { "" })
}
