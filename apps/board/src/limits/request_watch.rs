//! What a capped connection is waiting for: a request head, its body, the board's
//! answer, or nothing (a WebSocket). The bytes it reads and the first bytes of each
//! answer move it on; [`super::CappedIo`] closes it when the wait is over, or makes
//! room with it when it waits on its client.

use super::{MAX_HEAD, REQUEST_DEADLINE};
use std::future::Future;
use std::pin::Pin;
use std::task::Context;

/// Where a connection is in its requests.
pub(super) enum Watch {
    /// Waiting for a request head (`head`: its bytes so far) until `deadline`.
    Head { deadline: Pin<Box<tokio::time::Sleep>>, head: Vec<u8> },
    /// The head came: the board is reading its body (`body_due` bytes still to come,
    /// which must come by `deadline` too; `usize::MAX`: a chunked body) or answering
    /// (its first write says whether it switched protocols). `next`: bytes past the
    /// body, a next request sent ahead of the answer (pipelined), watched as its
    /// head once the board answers.
    Answering { deadline: Pin<Box<tokio::time::Sleep>>, body_due: usize, next: Vec<u8> },
    /// The board answered a request whose chunked body it may not have read to its
    /// end: where the next request starts is unknown, so no head is looked for in
    /// what follows (its bytes could make one up); the client is waited on until
    /// `deadline`, then the connection is closed. Browsers do not send chunked
    /// requests.
    Unframed { deadline: Pin<Box<tokio::time::Sleep>> },
    /// A WebSocket now: no deadline here.
    Upgraded,
}

/// The length of the body a request head announces (`usize::MAX`: chunked, until
/// the board answers). A `Transfer-Encoding` wins over any `Content-Length`, before
/// or after it, as it does in hyper (found by a review: `chunked` then
/// `Content-Length: 0` made a connection hyper still read look done, so it was never
/// the one made room for).
pub(super) fn body_length(head: &[u8]) -> usize {
    let mut due = 0;
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (line[..colon].trim_ascii(), line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return usize::MAX;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            due = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()).unwrap_or(usize::MAX);
        }
    }
    due
}

/// Where a request head that `bytes` hold ends (just past its empty line), the line
/// ends being `\r\n` or a bare `\n` as hyper reads them; searched from `from`.
/// Empty lines before the request line are skipped, as hyper skips them (found by a
/// review: `\n\n` first looked like a whole head, and the rest of a 200 KiB head was
/// then read unwatched).
pub(super) fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let start = bytes.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let from = from.max(start);
    let at = bytes[from..].iter().position(|&b| b == b'\n').map(|i| from + i)?;
    let mut at = at;
    loop {
        // `at` is a line's end: the next line is empty when it is `\n` or `\r\n`.
        match bytes.get(at + 1..) {
            Some([b'\n', ..]) => return Some(at + 2),
            Some([b'\r', b'\n', ..]) => return Some(at + 3),
            _ => {}
        }
        at = at + 1 + bytes.get(at + 1..)?.iter().position(|&b| b == b'\n')?;
    }
}

impl Watch {
    pub(super) fn head() -> Watch {
        Watch::Head { deadline: Box::pin(tokio::time::sleep(REQUEST_DEADLINE)), head: Vec::new() }
    }

    /// Bytes read: the head ends at its first empty line, then its body is counted.
    /// False when the head has passed [`MAX_HEAD`] without ending.
    pub(super) fn read(&mut self, bytes: &[u8]) -> bool {
        match self {
            Watch::Head { head, .. } => {
                // A line end among the last three bytes may start the empty line that
                // ends the head (`\n`, then `\r\n` still to come).
                let from = head.len().saturating_sub(3);
                head.extend_from_slice(bytes);
                match head_end(head, from) {
                    // The head ends in these bytes (the body may follow in them).
                    Some(end) if end <= MAX_HEAD => {
                        let body_due = body_length(&head[..end]);
                        let rest = head.split_off(end);
                        let deadline = Box::pin(tokio::time::sleep(REQUEST_DEADLINE));
                        *self = Watch::Answering { deadline, body_due, next: Vec::new() };
                        // The body's bytes that came with the head, and what follows.
                        self.read(&rest)
                    }
                    Some(_) => false,
                    None => head.len() <= MAX_HEAD,
                }
            }
            Watch::Answering { body_due, next, .. } => {
                let body = bytes.len().min(*body_due);
                // A chunked body (`usize::MAX`) stays chunked: its end is not counted.
                if *body_due != usize::MAX {
                    *body_due -= body;
                }
                // A next request sent ahead (found by a review: its body, counted
                // as this one's then dropped, was later watched as a head, and a
                // `\n\n` in it made it look whole, so it escaped eviction). More
                // than a head's worth sent ahead closes the connection.
                next.extend_from_slice(&bytes[body..]);
                next.len() <= MAX_HEAD
            }
            Watch::Unframed { .. } | Watch::Upgraded => true,
        }
    }

    /// Whether the board waits for the client to send its request: a head, or a body
    /// still due.
    pub(super) fn waits_on_client(&self) -> bool {
        match self {
            Watch::Head { .. } | Watch::Unframed { .. } => true,
            Watch::Answering { body_due, .. } => *body_due > 0,
            Watch::Upgraded => false,
        }
    }

    /// The board writes `first`. A write that does not start an answer (`HTTP/1.`)
    /// is the rest of one begun: nothing changes (found by a review: a second write
    /// of one answer started the wait for a head again, dropping what was watched).
    /// A switch to a WebSocket ends the watch; an interim answer alone (`100
    /// Continue`: hyper writes it when a handler starts reading the body) leaves the
    /// body still due; any other answer starts the wait for the next request head,
    /// with the bytes of it already sent (pipelined), or, after a chunked body, the
    /// wait of [`Watch::Unframed`]. (Found by a review: after a `100 Continue` the body
    /// was watched as a new head, and three bytes made it look whole, so a body
    /// trickled for 15 s was never the one cut to make room.)
    pub(super) fn write(&mut self, first: &[u8]) {
        if !first.starts_with(b"HTTP/1.") {
            return;
        }
        let interim_alone = first.starts_with(b"HTTP/1.1 1")
            && first.windows(4).position(|w| w == b"\r\n\r\n").is_none_or(|end| end + 4 == first.len());
        match self {
            Watch::Upgraded | Watch::Unframed { .. } => {}
            Watch::Answering { .. } if first.starts_with(b"HTTP/1.1 101") => *self = Watch::Upgraded,
            Watch::Answering { .. } if interim_alone => {}
            Watch::Answering { body_due: usize::MAX, .. } => {
                *self = Watch::Unframed { deadline: Box::pin(tokio::time::sleep(REQUEST_DEADLINE)) };
            }
            Watch::Answering { next, .. } => {
                let ahead = std::mem::take(next);
                *self = Watch::head();
                // At most a head's worth (`read` kept no more): it fits.
                self.read(&ahead);
            }
            Watch::Head { .. } => *self = Watch::head(),
        }
    }

    /// Whether the wait for a head is over.
    pub(super) fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        match self {
            Watch::Head { deadline, .. }
            | Watch::Answering { deadline, .. }
            | Watch::Unframed { deadline } => deadline.as_mut().poll(cx).is_ready(),
            Watch::Upgraded => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_encoding_wins_over_content_length_before_or_after_it() {
        let te_then_cl = b"POST /login HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n";
        let cl_then_te = b"POST /login HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(body_length(te_then_cl), usize::MAX);
        assert_eq!(body_length(cl_then_te), usize::MAX);
        assert_eq!(body_length(b"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n"), 12);
    }

    #[tokio::test]
    async fn a_head_ends_at_its_first_empty_line_with_bare_line_feeds_too() {
        // Bare `\n` ends lines as hyper reads them: a `Content-Length` further on is body.
        let bare = b"POST /login HTTP/1.1\nTransfer-Encoding: chunked\n\nX: y\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(head_end(bare, 0), Some(49));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: h\r\n\r\nbody", 0), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: h\n\r\n", 0), Some(26));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: h\r\n", 0), None);
        // Empty lines before the request line are no head (hyper skips them).
        for lead in ["\n\n", "\r\n\n", "\r\n\r\n", "\n\r\n\n"] {
            assert_eq!(head_end(lead.as_bytes(), 0), None, "{lead:?}");
            let whole = format!("{lead}GET / HTTP/1.1\r\nHost: h\r\n\r\n");
            assert_eq!(head_end(whole.as_bytes(), 0), Some(whole.len()), "{lead:?}");
        }
        // Read a byte at a time, the head is found where it ends.
        let whole = b"\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
        let mut w = Watch::head();
        let mut ended = None;
        for (i, b) in whole.iter().enumerate() {
            assert!(w.read(std::slice::from_ref(b)));
            if ended.is_none() && matches!(w, Watch::Answering { .. }) {
                ended = Some(i + 1);
            }
        }
        assert_eq!(ended, Some(whole.len()));
    }

    #[tokio::test]
    async fn a_request_sent_ahead_is_watched_from_its_head_with_its_body() {
        // A GET and a POST's head in one send: the POST's body is its body once the
        // GET is answered, a `\n\n` in it no head.
        let mut w = Watch::head();
        assert!(w.read(
            b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\nPOST /login HTTP/1.1\r\nContent-Length: 16000\r\n\r\n"
        ));
        assert!(matches!(w, Watch::Answering { body_due: 0, .. }), "the GET has no body");
        w.write(b"HTTP/1.1 200 OK\r\n");
        assert!(matches!(w, Watch::Answering { body_due: 16000, .. }), "the POST's head was sent ahead");
        assert!(w.read(b"a\n\n"));
        assert!(matches!(w, Watch::Answering { body_due: 15997, .. }), "body bytes, not a head");
        assert!(w.waits_on_client(), "a trickled body can be the one cut to make room");
        // A body and a next head's start in one read: the rest waits as the next head.
        let mut w = Watch::head();
        assert!(w.read(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET / HT"));
        assert!(matches!(w, Watch::Answering { body_due: 0, ref next, .. } if next == b"GET / HT"));
        w.write(b"HTTP/1.1 303 See Other\r\n");
        assert!(matches!(w, Watch::Head { ref head, .. } if head == b"GET / HT"));
        // An answer in several writes: only its first moves the watch on.
        let mut w = Watch::head();
        assert!(w.read(b"GET / HTTP/1.1\r\n\r\nPOST /login HTTP/1.1\r\nContent-Length: 16000\r\n\r\n"));
        w.write(b"HTTP/1.1 200 OK\r\n");
        w.write(b"content-type: text/html\r\n\r\n<html>");
        w.write(b"</html>");
        assert!(w.read(b"a\n\n"));
        assert!(matches!(w, Watch::Answering { body_due: 15997, .. }), "the POST's body, still due");
        // After a chunked body, whatever follows is no head the watch could find.
        let mut w = Watch::head();
        let chunked = b"POST /login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nu=a\r\n0\r\n\r\n";
        assert!(w.read(chunked));
        assert!(w.read(b"POST /login HTTP/1.1\r\nContent-Length: 16000\r\n\r\n"));
        w.write(b"HTTP/1.1 303 See Other\r\n");
        assert!(w.read(b"a\n\n"));
        assert!(matches!(w, Watch::Unframed { .. }) && w.waits_on_client(), "evictable, on a deadline");
        w.write(b"HTTP/1.1 200 OK\r\n");
        assert!(matches!(w, Watch::Unframed { .. }), "until the connection ends");
        // More than a head's worth sent ahead closes the connection.
        let mut w = Watch::head();
        assert!(w.read(b"GET / HTTP/1.1\r\n\r\n"));
        assert!(!w.read(&vec![b'x'; MAX_HEAD + 1]));
    }

    #[tokio::test]
    async fn a_body_after_100_continue_is_still_a_body() {
        let head = b"POST /login HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 16000\r\n\r\n";
        let mut w = Watch::head();
        assert!(w.read(head));
        w.write(b"HTTP/1.1 100 Continue\r\n\r\n");
        assert!(matches!(w, Watch::Answering { body_due: 16000, .. }), "the body is still due");
        assert!(w.read(b"a\n\n"));
        assert!(matches!(w, Watch::Answering { body_due: 15997, .. }), "body bytes, not a head");
        // The final answer, alone or after the interim one in the same write, ends it.
        w.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n");
        assert!(matches!(w, Watch::Head { .. }));
        let mut w = Watch::head();
        assert!(w.read(head));
        w.write(b"HTTP/1.1 303 See Other\r\n");
        assert!(matches!(w, Watch::Head { .. }));
    }
}
