//! The web root (`--web-root DIR`), as amiws has one: a request that is not a
//! WebSocket upgrade gets a static file of DIR, from the bridge's own origin (so a
//! page served here passes the Origin check without configuration), with the
//! board's security headers. GET and HEAD only; a path that leaves DIR, hidden
//! files and anything but regular files are refused (404).

use ami_parking_transport::BoxIo;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The longest request head read (bytes).
const MAX_HEAD: usize = 8 * 1024;

/// The largest file served (bytes).
const MAX_FILE: u64 = 64 * 1024 * 1024;

/// The board's headers, but scripts may compile WebAssembly (`'wasm-unsafe-eval'`)
/// and styles may be inline (the Leptos components' `<style>`); scripts, the socket
/// and everything else from the same origin only.
const HEADERS: &str = "Content-Security-Policy: default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; \
base-uri 'none'\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n\
Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Resource-Policy: same-origin\r\nCache-Control: no-store\r\n";

/// A stream whose first bytes were already read: they are read again first.
pub(crate) struct Replay {
    head: Vec<u8>,
    at: usize,
    io: BoxIo,
}

impl AsyncRead for Replay {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.at < self.head.len() {
            let n = buf.remaining().min(self.head.len() - self.at);
            let at = self.at;
            buf.put_slice(&self.head[at..at + n]);
            self.at += n;
            if self.at == self.head.len() {
                self.head = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Replay {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// What came in: a WebSocket upgrade (the stream, its head to be read again), or a
/// request that was answered here.
pub(crate) enum Request {
    /// An upgrade: hand the stream to the WebSocket handshake.
    Upgrade(BoxIo),
    /// Answered (a file, or an error).
    Served,
}

/// Reads the request head; an upgrade goes on as a WebSocket, anything else is
/// answered from `root`.
pub(crate) async fn route(mut io: BoxIo, root: &Path) -> std::io::Result<Request> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let end = loop {
        let n = io.read(&mut buf).await?;
        if n == 0 {
            return Ok(Request::Served);
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > MAX_HEAD {
            respond(
                &mut io,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"request head too large\n",
                false,
            )
            .await?;
            return Ok(Request::Served);
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let upgrade = text.lines().skip(1).any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("upgrade") && v.trim().eq_ignore_ascii_case("websocket")
        })
    });
    if upgrade {
        return Ok(Request::Upgrade(Box::new(Replay { head, at: 0, io })));
    }
    let mut first = text.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (first.next().unwrap_or_default(), first.next().unwrap_or_default());
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        respond(&mut io, "405 Method Not Allowed", "text/plain", b"GET or HEAD only\n", false).await?;
        return Ok(Request::Served);
    }
    let found = match file_for(root, target) {
        Some(path) => open_file(root, &path).await.map(|f| (f, path)),
        None => None,
    };
    match found {
        Some(((file, len), path)) => send_file(&mut io, content_type(&path), file, len, head_only).await?,
        None => respond(&mut io, "404 Not Found", "text/plain", b"not found\n", head_only).await?,
    }
    Ok(Request::Served)
}

/// The file of `root` a request target names (`/` is `index.html`); `None` for a
/// path that would leave `root` or names a hidden file.
pub(crate) fn file_for(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let path = ami_parking_transport::percent_decode(path);
    let mut out = root.to_path_buf();
    for c in Path::new(path.trim_start_matches('/')).components() {
        match c {
            Component::Normal(p) if !p.to_string_lossy().starts_with('.') => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if out == root || path.ends_with('/') {
        out.push("index.html");
    }
    Some(out)
}

/// The file opened, and its length, when it is a file of `root` (a symbolic link
/// that leads out of the directory is not).
async fn open_file(root: &Path, path: &Path) -> Option<(tokio::fs::File, u64)> {
    let real = tokio::fs::canonicalize(path).await.ok()?;
    let real_root = tokio::fs::canonicalize(root).await.ok()?;
    if !real.starts_with(&real_root) {
        return None;
    }
    // A regular file, checked before it is opened: opening a FIFO waits for a writer
    // (found by the review: a FIFO in the root hung its request and the shutdown).
    let regular = |m: &std::fs::Metadata| m.is_file() && m.len() <= MAX_FILE;
    if !regular(&tokio::fs::metadata(&real).await.ok()?) {
        return None;
    }
    let file = tokio::fs::File::open(&real).await.ok()?;
    let meta = file.metadata().await.ok()?;
    regular(&meta).then_some((file, meta.len()))
}

/// A file's answer: its head, then its bytes as they are read (a copy's buffer at a
/// time, never the whole file in memory: a client that does not read holds a few KiB,
/// not the file).
async fn send_file(
    io: &mut BoxIo,
    kind: &str,
    file: tokio::fs::File,
    len: u64,
    head_only: bool,
) -> std::io::Result<()> {
    io.write_all(head("200 OK", kind, len).as_bytes()).await?;
    if !head_only {
        // What the length said, no more (a file that grew meanwhile is cut there).
        let sent = tokio::io::copy(&mut file.take(len), io).await?;
        if sent < len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file shrank while it was sent",
            ));
        }
    }
    io.shutdown().await
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn respond(
    io: &mut BoxIo,
    status: &str,
    kind: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    io.write_all(head(status, kind, body.len() as u64).as_bytes()).await?;
    if !head_only {
        io.write_all(body).await?;
    }
    io.shutdown().await
}

/// An answer's head: its status, type and length, the security headers, and the
/// connection's end after it.
fn head(status: &str, kind: &str, len: u64) -> String {
    format!("HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len}\r\n{HEADERS}Connection: close\r\n\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_never_leaves_the_root() {
        let root = Path::new("/srv/web");
        assert_eq!(file_for(root, "/"), Some(root.join("index.html")));
        assert_eq!(file_for(root, "/app.js?v=1"), Some(root.join("app.js")));
        assert_eq!(file_for(root, "/pkg/app_bg.wasm"), Some(root.join("pkg/app_bg.wasm")));
        assert_eq!(file_for(root, "/../etc/passwd"), None);
        assert_eq!(file_for(root, "/pkg/%2e%2e/%2e%2e/etc/passwd"), None);
        assert_eq!(file_for(root, "/.git/config"), None);
    }
}
