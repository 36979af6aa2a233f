//! The board's static parts, served from its own origin so the page's
//! Content-Security-Policy needs no inline script or style: the page shell, the
//! stylesheet, liveview's glue and the sound of a near-timeout warning.

use ami_parking::display::DEFAULT_CSS;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

/// The page shell: the live page fills `#main` over `/ws`. Its referrer policy is
/// `same-origin` (the header says `no-referrer`): under `no-referrer` a browser
/// sends `Origin: null` with a form post, and the board accepts posts only from its
/// own origin.
pub const PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Call parking</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"same-origin\">\
<link rel=\"stylesheet\" href=\"/board.css\"></head>\
<body><div id=\"main\"></div><script src=\"/glue.js\"></script><script src=\"/board.js\"></script></body></html>";

/// The board's own styles (after the library's default grid styles).
const BOARD_CSS: &str = r#"
body.history { margin: 0; padding: 1rem 1.5rem; }
body.history nav a { color: #1d4f91; }
body.history .glance { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
body.history .glance div { background: #fff; border: 1px solid #cfd6dd; border-radius: 8px; padding: .5rem 1rem; min-width: 7rem; }
body.history .glance b { display: block; font-size: 1.6rem; }
body.history table { border-collapse: collapse; margin: .5rem 0 1rem; background: #fff; }
body.history td, body.history th { border: 1px solid #cfd6dd; padding: .25rem .7rem; text-align: right; }
body.history td:first-child, body.history th:first-child { text-align: left; }
body.history svg.waits { background: #fff; border: 1px solid #cfd6dd; border-radius: 8px; }
body.history .legend .swatch { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 1rem; vertical-align: middle; }
body.history .legend .swatch.median { background: #3b7dd8; }
body.history .legend .swatch.p90 { background: #e39b2b; }
header.board-head a.history-link { color: #fff; border: 1px solid #8ea0b4; border-radius: 4px; padding: .15rem .6rem; text-decoration: none; font-size: .9rem; }
body { margin: 0; background: #f3f5f8; font-family: system-ui, sans-serif; color: #1d2733; }
header.board-head { display: flex; flex-wrap: wrap; gap: .75rem 1.5rem; align-items: center; padding: .7rem 1.2rem; background: #1d2733; color: #fff; }
header.board-head h1 { font-size: 1.25rem; margin: 0; }
header.board-head .total { font-size: 1.05rem; }
header.board-head .who { margin-left: auto; display: inline-flex; gap: .6rem; align-items: center; font-size: .9rem; }
header.board-head .who .role { padding: .1rem .5rem; border-radius: 999px; background: #3b4b5e; }
header.board-head .who form { margin: 0; }
header.board-head .who button { background: transparent; color: #fff; border: 1px solid #8ea0b4; border-radius: 4px; padding: .2rem .6rem; cursor: pointer; }
.server { display: inline-flex; gap: .4rem; align-items: center; padding: .2rem .6rem; border-radius: 999px; background: #2e3b4a; font-size: .85rem; }
.server .dot { width: .65rem; height: .65rem; border-radius: 50%; background: #9aa5b1; }
.server.up .dot { background: #3ccf6e; }
.server.down { background: #8c1d18; }
.server.down .dot { background: #ffb4ab; }
main.board-body { display: grid; grid-template-columns: minmax(0, 1fr) 20rem; gap: 1.2rem; padding: 1rem 1.2rem; }
aside.controls { display: flex; flex-direction: column; gap: 1rem; }
.panel { background: #fff; border: 1px solid #cfd6dd; border-radius: 8px; padding: .7rem .9rem; }
.panel h2 { font-size: 1rem; margin: 0 0 .5rem; }
.panel label { display: block; font-size: .85rem; margin: .35rem 0 .15rem; color: #444; }
.panel input, .panel select { width: 100%; box-sizing: border-box; padding: .35rem .4rem; font-size: .95rem; }
.panel button { margin-top: .6rem; padding: .4rem .9rem; font-size: .95rem; cursor: pointer; }
.panel .hint { font-size: .8rem; color: #666; margin-top: .3rem; }
.panel .phone { font-size: 1.15rem; font-weight: 600; }
.view-only .parking-space.occupied { cursor: default; }
.lots-area { display: flex; flex-direction: column; gap: 1rem; }
.lots-area .parking-lot { background: #fff; border: 1px solid #cfd6dd; border-radius: 8px; padding: .7rem .9rem; }
.lots-area .server-name { font-weight: normal; color: #555; font-size: .9rem; }
.empty-board { color: #666; }
#beeps { display: none; }
.parking-space[role=button]:focus-visible { outline: 3px solid #1d5fbf; outline-offset: 2px; }
.parking-lot.stale { border-style: dashed; border-color: #8c1d18; }
.parking-lot.stale .parking-space.occupied { background: #eef0f3; border-style: dashed; }
.stale-note { margin: 0 0 .5rem; padding: .35rem .6rem; background: #fdecea; color: #8c1d18; border-radius: 6px; font-size: .9rem; }
.large-lot { display: flex; gap: 1rem; align-items: center; margin-top: .6rem; color: #444; }
.large-lot button { padding: .3rem .8rem; cursor: pointer; }
header.board-head .total.incomplete { color: #ffd7d3; }
body.login { display: grid; place-items: center; min-height: 100vh; }
.login-box { background: #fff; border: 1px solid #cfd6dd; border-radius: 10px; padding: 1.5rem 1.8rem; width: 20rem; }
.login-box h1 { font-size: 1.3rem; margin: 0 0 1rem; }
.login-box label { display: block; margin: .7rem 0 .2rem; font-size: .9rem; }
.login-box input { width: 100%; box-sizing: border-box; padding: .45rem; font-size: 1rem; }
.login-box button { margin-top: 1.1rem; width: 100%; padding: .55rem; font-size: 1rem; background: #1d5fbf; color: #fff; border: 0; border-radius: 6px; cursor: pointer; }
.login-box .error { margin-top: .8rem; color: #8c1d18; }
.parking-lot h2.lot-name { margin: 0 0 .5rem; font-size: 1.1rem; }
.timeout-warnings h2 { margin: 0 0 .25rem; font-size: 1rem; color: #9a4f00; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
section.my-desk { display: flex; flex-wrap: wrap; gap: .6rem 1.2rem; align-items: center; padding: .7rem 1.2rem; background: #fff; border-bottom: 1px solid #cfd6dd; }
.my-desk .my-phone { display: flex; gap: .5rem; align-items: center; }
.my-desk .label { font-size: .9rem; color: #3d4a57; }
.my-desk .phone { font-size: 1.1rem; font-weight: 600; }
.my-desk input { padding: .45rem .5rem; font-size: 1rem; width: 12rem; }
.my-desk .my-actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.my-desk button { padding: .55rem 1rem; font-size: 1rem; border-radius: 6px; border: 1px solid #1d5fbf; background: #fff; color: #1d4f9c; cursor: pointer; }
.my-desk button.primary { background: #1d5fbf; color: #fff; font-weight: 600; }
.my-desk button[disabled] { opacity: .6; cursor: wait; }
.my-desk .key { display: inline-block; margin-left: .5rem; padding: 0 .35rem; border: 1px solid currentColor; border-radius: 4px; font-size: .8rem; }
.my-desk .hint { font-size: .85rem; color: #3d4a57; }
.my-desk .my-outcome { flex-basis: 100%; }
.my-desk .my-outcome:empty { display: none; }
.big-space { display: inline-flex; align-items: baseline; gap: .8rem; padding: .4rem 1rem; border-radius: 8px; background: #e6f4ea; color: #0d4f22; }
.big-space .big-number { font-size: 3rem; font-weight: 700; line-height: 1; }
.big-space .big-label, .big-space .big-who { font-size: 1.05rem; }
.warn-text { display: block; font-weight: 700; }
button:focus-visible, input:focus-visible, select:focus-visible, a:focus-visible { outline: 3px solid #1d5fbf; outline-offset: 2px; }
.parking-space .empty.unknown { color: #5a4a00; font-style: italic; }
.parking-space[data-drop=true].drop-over { outline: 3px dashed #1d5fbf; }
@media (max-width: 760px) {
  main.board-body { grid-template-columns: 1fr; padding: .6rem; }
  section.my-desk { padding: .6rem; }
  .my-desk .my-phone, .my-desk input { width: 100%; }
  .my-desk .my-actions button { flex: 1 1 100%; }
  .my-desk .hint { display: none; }
  header.board-head { padding: .5rem .6rem; }
}
"#;

/// A short two-tone beep each time the page's hidden `#beeps` counter goes up (the
/// server raises it on a near-timeout warning of a lot the user sees); silent where
/// the browser blocks audio (before a first click on the page).
const BOARD_JS: &str = r#"(function () {
  // Shortcuts: P parks my caller, R retrieves the longest waiting call (not while typing).
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target, tag = t && t.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || (t && t.isContentEditable)) return;
    const k = (e.key || "").toLowerCase();
    const id = k === "p" ? "park-my-caller" : k === "r" ? "retrieve-longest" : null;
    const b = id && document.getElementById(id);
    if (b && !b.disabled) { e.preventDefault(); b.click(); }
  });
  // My phone, typed once and remembered by this browser (boards without logins).
  const KEY = "parkboard.phone";
  function restorePhone() {
    const el = document.getElementById("my-phone-input");
    if (!el || el.__parkRestored) return;
    el.__parkRestored = true;
    let saved = null;
    try { saved = localStorage.getItem(KEY); } catch (e) {}
    if (saved && el.value !== saved) { el.value = saved; el.dispatchEvent(new Event("input", { bubbles: true })); }
    el.addEventListener("input", function () { try { localStorage.setItem(KEY, el.value.trim()); } catch (e) {} });
  }
  new MutationObserver(restorePhone).observe(document.body, { subtree: true, childList: true });
  // Drag a parked call onto another space: the move form is filled and sent.
  let dragged = null;
  function set(id, v, kind) {
    const el = document.getElementById(id);
    if (!el) return;
    el.value = v;
    el.dispatchEvent(new Event(kind, { bubbles: true }));
  }
  const dropCell = function (e) { return e.target.closest ? e.target.closest("[data-drop=true]") : null; };
  document.addEventListener("dragstart", function (e) {
    const cell = e.target.closest ? e.target.closest(".parking-space.occupied[draggable=true]") : null;
    const lot = cell && cell.closest("[data-lot]");
    if (!lot) return;
    dragged = { server: lot.dataset.server, lot: lot.dataset.lot, space: cell.dataset.space };
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", dragged.lot + " " + dragged.space);
  });
  document.addEventListener("dragover", function (e) {
    const cell = dropCell(e), lot = cell && cell.closest("[data-lot]");
    if (dragged && lot && lot.dataset.server === dragged.server) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
    }
  });
  document.addEventListener("drop", function (e) {
    const cell = dropCell(e), lot = cell && cell.closest("[data-lot]");
    const from = dragged;
    dragged = null;
    if (!from || !lot || lot.dataset.server !== from.server) return;
    e.preventDefault();
    if (lot.dataset.lot === from.lot && cell.dataset.space === from.space) return;
    set("move-from", from.server + "/" + from.lot + "/" + from.space, "change");
    set("move-lot", lot.dataset.lot, "change");
    set("move-space", cell.dataset.space, "input");
    const b = document.getElementById("move-button");
    if (b) b.click();
  });
  document.addEventListener("dragend", function () { dragged = null; });
  let last = null;
  function beep() {
    try {
      const ctx = window.__parkAudio || (window.__parkAudio = new AudioContext());
      [0, 0.25].forEach(function (t, i) {
        const o = ctx.createOscillator(), g = ctx.createGain();
        o.frequency.value = i ? 660 : 880; g.gain.value = 0.08;
        o.connect(g); g.connect(ctx.destination);
        o.start(ctx.currentTime + t); o.stop(ctx.currentTime + t + 0.18);
      });
    } catch (e) {}
  }
  new MutationObserver(function () {
    const el = document.getElementById("beeps");
    if (!el) return;
    const n = el.getAttribute("data-beeps");
    // A screen that opens a viewer's shared page is first sent the page's edits so
    // far: the warnings of its first 2 s happened before it opened.
    if (last !== null && n !== last && performance.now() > 2000) beep();
    last = n;
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-beeps"] });
})();
"#;

fn typed(kind: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// `GET /`'s page (after the session check).
pub fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// `GET /board.css`.
pub async fn css() -> Response {
    typed("text/css; charset=utf-8", format!("{DEFAULT_CSS}\n{BOARD_CSS}"))
}

/// `GET /glue.js`: liveview's interpreter, which opens `/ws` on the page's own host.
pub async fn glue() -> Response {
    let glue = dioxus_liveview::interpreter_glue("/ws");
    let js = glue.trim().trim_start_matches("<script>").trim_end_matches("</script>").to_string();
    typed("text/javascript; charset=utf-8", js)
}

/// `GET /board.js`.
pub async fn board_js() -> Response {
    typed("text/javascript; charset=utf-8", BOARD_JS.to_string())
}

/// The login page, with an error line when the last attempt failed.
pub fn login_page(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", html_escape(e)))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Call parking: log in</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"same-origin\">\
         <link rel=\"stylesheet\" href=\"/board.css\"></head><body class=\"login\"><main>\
         <form class=\"login-box\" method=\"post\" action=\"/login\"><h1>Call parking</h1>\
         <label for=\"user\">User</label><input id=\"user\" name=\"user\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Log in</button>{error}</form></main></body></html>"
    )
}

/// Text made safe inside HTML.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
