//! Raw AMI framing (TCP): an incremental decoder and an action encoder.
//!
//! The decoder takes bytes as they come off the socket, in chunks of any size, and
//! yields the banner line and then each message. Any chunking of the same bytes
//! gives the same messages. Messages are yielded as [`RawMessage`]s that borrow
//! the input: looking at the event name costs nothing, and only the messages the
//! caller cares about are turned into a [`Message`] with a header list.

use crate::wire::action::Action;
use crate::wire::message::Message;
use memchr::memmem;
use std::fmt;

pub use crate::wire::header_lines::{Headers, LineMode};

/// Default cap on one message's size: 1 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Longest line Asterisk accepts from a client, in bytes, without the line end.
pub const MAX_ACTION_LINE_BYTES: usize = 1024;
/// Most lines Asterisk accepts in one action.
pub const MAX_ACTION_HEADERS: usize = 128;

/// Why bytes from the server could not be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// One message grew past the configured cap without ending.
    #[error("an AMI message from the server exceeded {limit} bytes without ending; raise the decoder's max_message_bytes if the server really sends such messages (e.g. long Command output)")]
    MessageTooLarge {
        /// The cap in force.
        limit: usize,
    },
}

/// Why an action could not be encoded. Values are never quoted: they may be secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A key or value holds a CR or LF, which would inject headers.
    #[error("header `{key}` holds a CR or LF character; AMI lines cannot carry line breaks (header injection refused)")]
    LineBreak {
        /// The offending key (lossy text).
        key: String,
    },
    /// A key is empty or holds a character outside `[A-Za-z0-9-_.()/]`.
    #[error("header key `{key}` is empty or holds a character AMI keys may not contain")]
    InvalidKey {
        /// The offending key (lossy text).
        key: String,
    },
    /// A line is longer than Asterisk accepts.
    #[error("header `{key}` makes a line of {len} bytes; Asterisk rejects lines over {MAX_ACTION_LINE_BYTES} bytes")]
    LineTooLong {
        /// The offending key.
        key: String,
        /// The line's length in bytes.
        len: usize,
    },
    /// The action has more lines than Asterisk accepts.
    #[error("the action has {count} headers; Asterisk accepts at most {MAX_ACTION_HEADERS}")]
    TooManyHeaders {
        /// How many headers the action had.
        count: usize,
    },
}

/// One decoded item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// The greeting line, e.g. `Asterisk Call Manager/11.0.0`, without its line end.
    Banner(Banner<'a>),
    /// One message.
    Message(RawMessage<'a>),
}

/// The greeting line Asterisk sends on connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Banner<'a> {
    /// The whole line without its line end.
    pub line: &'a [u8],
}

impl Banner<'_> {
    /// The protocol version `N.N[.N]` after the last `/`, if it parses.
    ///
    /// ```
    /// use ami_parking::ami_codec::Banner;
    /// assert_eq!(Banner { line: b"Asterisk Call Manager/11.0.0" }.version(), Some((11, 0, 0)));
    /// assert_eq!(Banner { line: b"Asterisk Call Manager/1.1" }.version(), Some((1, 1, 0)));
    /// ```
    pub fn version(&self) -> Option<(u32, u32, u32)> {
        let text = std::str::from_utf8(self.line).ok()?;
        let v = text.rsplit('/').next()?.trim();
        let mut parts = v.split('.').map(|p| p.parse::<u32>());
        let a = parts.next()?.ok()?;
        let b = parts.next()?.ok()?;
        let c = match parts.next() {
            Some(c) => c.ok()?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some((a, b, c))
    }
}

/// One message, borrowed from the decoder's input; headers are parsed on demand.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RawMessage<'a> {
    body: &'a [u8],
    mode: LineMode,
}

impl fmt::Debug for RawMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_message(), f)
    }
}

impl<'a> RawMessage<'a> {
    /// A raw message over `body` (lines ended by `\r\n`, final line end optional).
    pub fn new(body: &'a [u8]) -> Self {
        Self { body, mode: LineMode::Crlf }
    }

    /// The message's bytes (every line with its line end).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.body
    }

    /// The headers in order, parsed lazily: split on the first `:`, one following space dropped.
    /// A line without `:` (old Command output) comes back with an empty key.
    pub fn headers(&self) -> Headers<'a> {
        Headers::new(self.body, self.mode)
    }

    /// The first value of `key` (ASCII case-insensitive).
    pub fn get(&self, key: &str) -> Option<&'a [u8]> {
        self.headers().find(|(k, _)| k.eq_ignore_ascii_case(key.as_bytes())).map(|(_, v)| v)
    }

    /// The first header, e.g. `(b"Event", b"Newexten")`, without scanning further.
    pub fn first(&self) -> Option<(&'a [u8], &'a [u8])> {
        self.headers().next()
    }

    /// The event name when the message starts with `Event:`.
    pub fn event_name(&self) -> Option<&'a [u8]> {
        self.first().filter(|(k, _)| k.eq_ignore_ascii_case(b"Event")).map(|(_, v)| v)
    }

    /// Builds the owned header list.
    pub fn to_message(&self) -> Message {
        let mut m = Message::with_capacity(16, self.body.len());
        for (k, v) in self.headers() {
            m.push(k, v);
        }
        m
    }
}

/// Incremental AMI decoder.
///
/// ```
/// use ami_parking::ami_codec::{Decoder, Decoded};
/// let mut d = Decoder::new();
/// let mut names = Vec::new();
/// let bytes = b"Asterisk Call Manager/11.0.0\r\nEvent: ParkedCall\r\nParkingSpace: 701\r\n\r\n";
/// for chunk in bytes.chunks(7) {
///     d.decode(chunk, |item| {
///         if let Decoded::Message(m) = item {
///             names.push(m.event_name().unwrap().to_vec());
///         }
///     }).unwrap();
/// }
/// assert_eq!(names, vec![b"ParkedCall".to_vec()]);
/// ```
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    mode: LineMode,
    banner_done: bool,
    max_message: usize,
    /// How far into the buffered partial message the search for its end has already
    /// looked: a message trickling in byte by byte is scanned once, not once per byte.
    resume: usize,
    /// Bytes the end search looked at (tests hold the scan linear with it).
    #[cfg(test)]
    scanned: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

static CRLF2: std::sync::OnceLock<memmem::Finder<'static>> = std::sync::OnceLock::new();

impl Decoder {
    /// A decoder expecting a banner line first, with the default 1 MiB message cap.
    pub fn new() -> Self {
        Self::with_max_message_bytes(DEFAULT_MAX_MESSAGE_BYTES)
    }

    /// A decoder with a cap on one message's size (a cap under 64 bytes counts as 64).
    pub fn with_max_message_bytes(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            mode: LineMode::Unknown,
            banner_done: false,
            max_message: max.max(64),
            resume: 0,
            #[cfg(test)]
            scanned: 0,
        }
    }

    /// A decoder for a stream that has no banner line (or whose banner was consumed).
    pub fn without_banner(mut self) -> Self {
        self.banner_done = true;
        self
    }

    /// Forgets all state (for a new connection).
    pub fn reset(&mut self) {
        *self = Self::with_max_message_bytes(self.max_message);
    }

    /// Feeds bytes; calls `f` for the banner and each complete message, in order.
    ///
    /// On error the decoder is reset and the connection should be dropped: the byte
    /// stream can no longer be framed reliably.
    pub fn decode<F: FnMut(Decoded<'_>)>(&mut self, input: &[u8], mut f: F) -> Result<(), DecodeError> {
        let result = if self.buf.is_empty() {
            self.resume = 0;
            match self.parse(input, &mut f) {
                Ok(used) => {
                    self.buf.extend_from_slice(&input[used..]);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        } else if self.banner_done && self.mode == LineMode::Crlf && !self.buf.starts_with(b"\r") {
            // (A buffer holding the `\r` of a blank line split by the read takes the
            // general path: the blank line is skipped before the next message's end is
            // searched, and the search's restart point counts from there.)
            self.complete_then_parse(input, &mut f)
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            buf.extend_from_slice(input);
            match self.parse(&buf, &mut f) {
                Ok(used) => {
                    buf.drain(..used);
                    self.buf = buf;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        if result.is_ok() && self.buf.len() > self.max_message {
            self.reset();
            return Err(DecodeError::MessageTooLarge { limit: self.max_message });
        }
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// A message begun in an earlier read (CRLF mode): only as much of `input` as ends
    /// it joins the buffer; the rest of `input` is read where it lies (a read is not
    /// copied whole into the buffer, nor moved again after).
    fn complete_then_parse<F: FnMut(Decoded<'_>)>(
        &mut self,
        input: &[u8],
        f: &mut F,
    ) -> Result<(), DecodeError> {
        let mut buf = std::mem::take(&mut self.buf);
        let end = crlf_end_across(&buf, input);
        #[cfg(test)]
        {
            self.scanned += end.unwrap_or(input.len());
        }
        let Some(k) = end else {
            // Still no end: search only the new bytes next time.
            buf.extend_from_slice(input);
            self.resume = buf.len().saturating_sub(3);
            self.buf = buf;
            return Ok(());
        };
        buf.extend_from_slice(&input[..k]);
        let used = self.parse(&buf, f)?;
        if used == buf.len() {
            let used = self.parse(&input[k..], f)?;
            buf.clear();
            buf.extend_from_slice(&input[k + used..]);
        } else {
            // Not the end of one message after all (not met with Asterisk): the buffer
            // takes the rest of the read, as for any other read.
            buf.drain(..used);
            buf.extend_from_slice(&input[k..]);
            let used = self.parse(&buf, f)?;
            buf.drain(..used);
        }
        self.buf = buf;
        Ok(())
    }

    fn parse<F: FnMut(Decoded<'_>)>(&mut self, data: &[u8], f: &mut F) -> Result<usize, DecodeError> {
        let mut pos = 0;
        if !self.banner_done || self.mode == LineMode::Unknown {
            let Some(nl) = memchr::memchr(b'\n', data) else {
                return Ok(0);
            };
            self.mode = if nl > 0 && data[nl - 1] == b'\r' { LineMode::Crlf } else { LineMode::Lf };
            if !self.banner_done {
                self.banner_done = true;
                let line = &data[..nl];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if !line.is_empty() && memchr::memchr(b':', line).is_none() {
                    f(Decoded::Banner(Banner { line }));
                    pos = nl + 1;
                }
            }
        }
        let finder = CRLF2.get_or_init(|| memmem::Finder::new(b"\r\n\r\n"));
        // The buffered partial message was searched up to here last time.
        let mut resume = std::mem::take(&mut self.resume);
        loop {
            // Empty lines between messages are ignored.
            loop {
                let rest = &data[pos..];
                if rest.starts_with(b"\r\n") {
                    pos += 2;
                } else if rest.starts_with(b"\n") {
                    pos += 1;
                } else {
                    break;
                }
            }
            let rest = &data[pos..];
            if rest.is_empty() {
                return Ok(pos);
            }
            let from = std::mem::take(&mut resume).min(rest.len());
            #[cfg(test)]
            {
                self.scanned += rest.len() - from;
            }
            let end = match self.mode {
                LineMode::Lf => find_lf_end(rest, from),
                _ => finder.find(&rest[from..]).map(|i| (from + i + 2, from + i + 4)),
            };
            let Some((body_len, used)) = end else {
                // Next time, search only what comes after (3 bytes kept for a split end).
                self.resume = rest.len().saturating_sub(3);
                return Ok(pos);
            };
            if body_len > self.max_message {
                return Err(DecodeError::MessageTooLarge { limit: self.max_message });
            }
            f(Decoded::Message(RawMessage { body: &rest[..body_len], mode: self.mode }));
            pos += used;
        }
    }
}

/// How much of `input` ends the message `buffered` holds the start of (CRLF mode:
/// the first `\r\n\r\n`, which may begin in the buffer's last three bytes).
fn crlf_end_across(buffered: &[u8], input: &[u8]) -> Option<usize> {
    let tail = buffered.len().min(3);
    let head = input.len().min(3);
    let mut joint = [0u8; 6];
    joint[..tail].copy_from_slice(&buffered[buffered.len() - tail..]);
    joint[tail..tail + head].copy_from_slice(&input[..head]);
    match memmem::find(&joint[..tail + head], b"\r\n\r\n") {
        Some(p) if p < tail => Some(p + 4 - tail),
        _ => CRLF2.get_or_init(|| memmem::Finder::new(b"\r\n\r\n")).find(input).map(|i| i + 4),
    }
}

/// In LF mode a message ends at `\n` followed by an empty line (`\n` or `\r\n`);
/// the search starts at `from`.
fn find_lf_end(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut from = from;
    while let Some(i) = memchr::memchr(b'\n', &data[from..]) {
        let at = from + i;
        let next = &data[at + 1..];
        if next.starts_with(b"\n") {
            return Some((at + 1, at + 2));
        }
        if next.starts_with(b"\r\n") {
            return Some((at + 1, at + 3));
        }
        from = at + 1;
    }
    None
}

/// Checks one header against Asterisk's limits for what a client may send.
pub(crate) fn check_header(key: &[u8], value: &[u8]) -> Result<(), EncodeError> {
    let lossy = || String::from_utf8_lossy(key).into_owned();
    if key.iter().chain(value).any(|&b| b == b'\r' || b == b'\n') {
        return Err(EncodeError::LineBreak { key: lossy() });
    }
    if key.is_empty() || !key.iter().all(|&b| b.is_ascii_alphanumeric() || b"-_.()/".contains(&b)) {
        return Err(EncodeError::InvalidKey { key: lossy() });
    }
    let len = key.len() + 2 + value.len();
    if len > MAX_ACTION_LINE_BYTES {
        return Err(EncodeError::LineTooLong { key: lossy(), len });
    }
    Ok(())
}

/// Checks a whole action against Asterisk's limits.
pub(crate) fn check_action(action: &Message) -> Result<(), EncodeError> {
    if action.len() > MAX_ACTION_HEADERS {
        return Err(EncodeError::TooManyHeaders { count: action.len() });
    }
    action.iter().try_for_each(|(k, v)| check_header(k, v))
}

/// Encodes an action as AMI bytes: one `Key: Value\r\n` per header, then `\r\n`.
///
/// ```
/// use ami_parking::{ami_codec::encode_action, Action};
/// let mut out = Vec::new();
/// encode_action(&Action::new("Ping"), &mut out).unwrap();
/// assert_eq!(out, b"Action: Ping\r\n\r\n");
/// assert!(encode_action(&Action::new("Park").header("Channel", "x\r\nAction: Hangup"), &mut out).is_err());
/// ```
pub fn encode_action(action: &Action, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_message(action.as_message(), out)
}

/// Encodes any message as AMI bytes, with the same checks as [`encode_action`].
pub fn encode_message(message: &Message, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    check_action(message)?;
    for (k, v) in message.iter() {
        out.extend_from_slice(k);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Writes a message as Asterisk writes it (no client-side limits): used by the
/// reference model and tests.
pub fn write_server_message(message: &Message, out: &mut Vec<u8>) {
    for (k, v) in message.iter() {
        out.extend_from_slice(k);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw message shows as its headers, a secret's value left out (a log of a
    /// borrowed message must not print the login's secret either).
    #[test]
    fn a_raw_message_shows_its_headers_and_hides_its_secret() {
        let raw = RawMessage::new(b"Action: Login\r\nUsername: amiuser\r\nSecret: s3cr3t-value\r\n");
        let shown = format!("{raw:?}");
        assert_eq!(shown, r#"[Action: Login, Username: amiuser, Secret: <redacted>]"#);
    }

    #[test]
    fn a_message_trickling_in_byte_by_byte_is_scanned_once() {
        for sep in ["\r\n", "\n"] {
            let mut msg = format!("Event: Big{sep}");
            while msg.len() < 100_000 {
                msg += &format!("Variable: {}{sep}", "x".repeat(60));
            }
            msg += sep;
            let mut d = Decoder::new().without_banner();
            let mut got = 0;
            for b in msg.as_bytes() {
                let count =
                    |m: Decoded<'_>| got += if let Decoded::Message(m) = m { m.headers().count() } else { 0 };
                d.decode(std::slice::from_ref(b), count).unwrap();
            }
            assert!(got > 1300, "the whole message was read: {got} headers");
            assert!(d.scanned >= msg.len(), "{} bytes scanned: less than the message", d.scanned);
            assert!(
                d.scanned < 4 * msg.len(),
                "{} bytes scanned for a {} byte message",
                d.scanned,
                msg.len()
            );
        }
    }

    fn decode_all(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<Message>) {
        let mut d = Decoder::new();
        let mut banners = Vec::new();
        let mut msgs = Vec::new();
        for c in chunks {
            d.decode(c, |item| match item {
                Decoded::Banner(b) => banners.push(b.line.to_vec()),
                Decoded::Message(m) => msgs.push(m.to_message()),
            })
            .unwrap();
        }
        (banners, msgs)
    }

    #[test]
    fn banner_line_is_handled_on_its_own() {
        let (b, m) = decode_all(&[b"Asterisk Call Manager/11.0.0\r\n", b"Response: Success\r\n\r\n"]);
        assert_eq!(b, vec![b"Asterisk Call Manager/11.0.0".to_vec()]);
        assert_eq!(m.len(), 1);
        assert_eq!(Banner { line: b"Asterisk Call Manager/13.0.0" }.version(), Some((13, 0, 0)));
        assert_eq!(Banner { line: b"Asterisk Call Manager/x" }.version(), None);
    }

    #[test]
    fn split_on_first_colon_and_strip_one_space() {
        let (_, m) = decode_all(&[b"Banner/1.1\r\nMessage: a: b:c\r\nKey:  two\r\nX-Y(z)/w.v: 1\r\n\r\n"]);
        assert_eq!(m[0].get("Message"), Some(&b"a: b:c"[..]));
        assert_eq!(m[0].get("key"), Some(&b" two"[..]));
        assert_eq!(m[0].get("x-y(z)/w.v"), Some(&b"1"[..]));
    }

    #[test]
    fn bare_lf_inside_a_value_is_kept() {
        let (_, m) = decode_all(&[b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nMessage: Park successful\n\r\n\r\nEvent: X\r\n\r\n"]);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].get("Message"), Some(&b"Park successful\n"[..]));
    }

    #[test]
    fn lf_only_input_is_tolerated() {
        let (b, m) = decode_all(&[b"Asterisk Call Manager/11.0.0\nEvent: A\nK: v\n\nEvent: B\n\n"]);
        assert_eq!(b.len(), 1);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].get("K"), Some(&b"v"[..]));
    }

    #[test]
    fn empty_messages_are_ignored() {
        let (_, m) = decode_all(&[b"A/1.0\r\n\r\n\r\nEvent: A\r\n\r\n\r\n"]);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn no_banner_when_first_line_is_a_header() {
        let (b, m) = decode_all(&[b"Event: A\r\n\r\n"]);
        assert!(b.is_empty());
        assert_eq!(m.len(), 1);
    }

    /// Every message of `bytes` fed in `chunks`-byte reads, as text.
    fn messages_of(d: &mut Decoder, bytes: &[u8], chunk: usize) -> Vec<String> {
        let mut out = Vec::new();
        for c in bytes.chunks(chunk) {
            d.decode(c, |item| {
                if let Decoded::Message(m) = item {
                    let m = m.to_message();
                    let text: Vec<String> = m
                        .iter()
                        .map(|(k, v)| {
                            format!("{}={}", String::from_utf8_lossy(k), String::from_utf8_lossy(v))
                        })
                        .collect();
                    out.push(text.join(";"));
                }
            })
            .unwrap();
        }
        out
    }

    #[test]
    fn blank_lines_between_messages_are_skipped_in_either_line_mode() {
        for (bytes, sep) in [
            (&b"Event: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n\r\n"[..], "crlf"),
            (&b"Event: A\n\n\n\nEvent: B\n\r\n\nEvent: C\n\n"[..], "lf"),
        ] {
            for chunk in [1, 2, 3, bytes.len()] {
                let got = messages_of(&mut Decoder::new().without_banner(), bytes, chunk);
                let want: &[&str] =
                    if sep == "crlf" { &["Event=A", "Event=B"] } else { &["Event=A", "Event=B", "Event=C"] };
                assert_eq!(got, want, "{sep}, reads of {chunk}");
            }
        }
    }

    #[test]
    fn lf_messages_end_at_an_empty_line_of_lf_or_crlf() {
        let bytes = b"Event: A\nX: 1\n\nEvent: B\nY: 2\n\r\nEvent: C\n\n";
        for chunk in [1, 2, 5, bytes.len()] {
            let got = messages_of(&mut Decoder::new().without_banner(), bytes, chunk);
            assert_eq!(got, ["Event=A;X=1", "Event=B;Y=2", "Event=C"], "reads of {chunk}");
        }
    }

    #[test]
    fn a_crlf_stream_stays_crlf_when_a_read_starts_with_a_bare_lf() {
        // The mode is the first line's; a later read starting with `\n` does not
        // change it, so a value may hold a bare `\n` (only `\r\n` ends a line).
        let mut d = Decoder::new();
        let mut got = messages_of(&mut d, b"Asterisk Call Manager/11.0.0\r\n", 64);
        got.extend(messages_of(&mut d, b"\nEvent: A\r\nData: x\ny\r\n\r\n", 64));
        assert_eq!(got, ["Event=A;Data=x\ny"]);
    }

    #[test]
    fn without_a_banner_a_first_line_without_a_colon_is_a_message() {
        let mut banners = 0;
        let mut d = Decoder::new().without_banner();
        d.decode(b"Goodbye\r\n\r\nEvent: A\r\n\r\n", |item| {
            if let Decoded::Banner(_) = item {
                banners += 1;
            }
        })
        .unwrap();
        assert_eq!(banners, 0);
        let got = messages_of(&mut Decoder::new().without_banner(), b"Goodbye\r\n\r\n", 64);
        assert_eq!(got.len(), 1, "{got:?}");
    }

    /// Found by a review: a read ending in the `\r` of a blank line between messages
    /// made the next message's end be searched from the wrong place (two messages came
    /// out as one). Every way to cut the bytes in three reads gives what one read gives.
    #[test]
    fn every_three_way_cut_of_messages_and_blank_lines_decodes_as_one_read() {
        let bytes: &[u8] = b"Asterisk Call Manager/5.0\r\nEvent: A\r\n\r\n\r\nEvent: B\r\nX: 1\r\n\r\n\r\n\r\nEvent: C\r\n\r\n";
        let decode = |reads: &[&[u8]]| {
            let mut d = Decoder::new();
            let mut out = Vec::new();
            for r in reads {
                d.decode(r, |item| match item {
                    Decoded::Message(m) => out.push(m.as_bytes().to_vec()),
                    Decoded::Banner(b) => out.push(b.line.to_vec()),
                })
                .unwrap();
            }
            out
        };
        let whole = decode(&[bytes]);
        assert_eq!(whole.len(), 4, "banner, A, B, C");
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let got = decode(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(got, whole, "cut at {i} and {j}");
            }
        }
    }

    #[test]
    fn a_message_of_exactly_the_cap_passes_buffered_or_whole() {
        let mut msg = b"Event: A\r\nX: ".to_vec();
        msg.resize(100 - 2, b'x');
        msg.extend_from_slice(b"\r\n");
        assert_eq!(msg.len(), 100);
        let mut whole = msg.clone();
        whole.extend_from_slice(b"\r\n");
        // Whole: its body (the headers and their line ends) is 100 bytes.
        let got =
            messages_of(&mut Decoder::with_max_message_bytes(100).without_banner(), &whole, whole.len());
        assert_eq!(got.len(), 1);
        // Buffered: 100 bytes wait for their end, then it comes.
        let mut d = Decoder::with_max_message_bytes(100).without_banner();
        d.decode(&msg, |_| {}).expect("100 bytes buffered is within the cap");
        assert_eq!(messages_of(&mut d, b"\r\n", 2).len(), 1);
        // One byte more is refused either way.
        let mut d = Decoder::with_max_message_bytes(100).without_banner();
        let mut over = msg.clone();
        over.insert(12, b'x');
        assert!(d.decode(&over, |_| {}).is_err());
    }

    #[test]
    fn header_and_action_limits_hold_at_their_edges() {
        // `Key: value` of exactly 1,024 bytes passes; 1,025 does not.
        let value = "v".repeat(MAX_ACTION_LINE_BYTES - 5);
        assert_eq!(check_header(b"Key", value.as_bytes()), Ok(()));
        let longer = format!("{value}v");
        assert_eq!(
            check_header(b"Key", longer.as_bytes()),
            Err(EncodeError::LineTooLong { key: "Key".into(), len: MAX_ACTION_LINE_BYTES + 1 })
        );
        assert_eq!(check_header(b"", b"x"), Err(EncodeError::InvalidKey { key: String::new() }));
        // 128 headers pass; 129 do not.
        let mut a = Action::new("Originate");
        for i in 1..MAX_ACTION_HEADERS {
            a.push(format!("H{i}"), "x");
        }
        assert_eq!(a.as_message().len(), MAX_ACTION_HEADERS);
        assert_eq!(check_action(a.as_message()), Ok(()));
        a.push("One", "more");
        assert_eq!(
            check_action(a.as_message()),
            Err(EncodeError::TooManyHeaders { count: MAX_ACTION_HEADERS + 1 })
        );
    }

    #[test]
    fn the_default_cap_is_one_mib() {
        let mut msg = b"Response: Follows\r\nOutput: ".to_vec();
        msg.resize(DEFAULT_MAX_MESSAGE_BYTES - 4, b'x');
        msg.extend_from_slice(b"\r\n\r\n");
        let mut d = Decoder::new().without_banner();
        let mut n = 0;
        for chunk in msg.chunks(64 * 1024) {
            d.decode(chunk, |_| n += 1).expect("a message of 1 MiB passes");
        }
        assert_eq!(n, 1);
        let mut d = Decoder::new().without_banner();
        let err = d.decode(&vec![b'x'; DEFAULT_MAX_MESSAGE_BYTES + 1], |_| {}).unwrap_err();
        assert_eq!(err, DecodeError::MessageTooLarge { limit: 1 << 20 });
    }

    #[test]
    fn a_raw_message_gives_its_bytes_first_header_event_name_and_values() {
        let body: &[u8] = b"Event: ParkedCall\r\nParkingSpace: 701\r\nparkingspace: 702\r\n";
        let raw = RawMessage::new(body);
        assert_eq!(raw.as_bytes(), body);
        assert_eq!(raw.first(), Some((&b"Event"[..], &b"ParkedCall"[..])));
        assert_eq!(raw.event_name(), Some(&b"ParkedCall"[..]));
        // The first of two values, the key matched ignoring case.
        assert_eq!(raw.get("PARKINGSPACE"), Some(&b"701"[..]));
        assert_eq!(raw.get("Parkinglot"), None);
        let response = RawMessage::new(b"Response: Success\r\nEvent: NotFirst\r\n");
        assert_eq!(response.event_name(), None, "only a first header names the event");
        assert_eq!(RawMessage::new(b"").first(), None);
    }

    #[test]
    fn a_first_read_that_starts_with_a_bare_lf_is_read_in_lf_mode() {
        let mut d = Decoder::new();
        let mut got = Vec::new();
        d.decode(b"\nEvent: A\n\n", |x| got.push(format!("{x:?}"))).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("Event: A"), "{got:?}");
    }

    #[test]
    fn after_a_message_too_large_the_decoder_starts_afresh() {
        let mut d = Decoder::with_max_message_bytes(100);
        // A message that never ends, buffered past the cap over two reads.
        d.decode(b"Asterisk Call Manager/11.0.0\r\nEvent: A\r\nX: ", |_| {}).unwrap();
        let err = d.decode(&[b'b'; 120], |_| {}).unwrap_err();
        assert_eq!(err, DecodeError::MessageTooLarge { limit: 100 });
        // What was buffered is gone; the next bytes are a new stream (banner first).
        let mut got = Vec::new();
        d.decode(b"Asterisk Call Manager/11.0.0\r\nEvent: B\r\n\r\n", |x| got.push(format!("{x:?}")))
            .unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].contains("Banner"), "{got:?}");
        assert!(got[1].contains("Event: B") && !got[1].contains("Event: A"), "{got:?}");
    }

    #[test]
    fn an_lf_message_keeps_its_last_line_end() {
        for input in [&b"Event: A\nX: 1\n\n"[..], b"Event: A\nX: 1\n\r\n"] {
            let mut d = Decoder::new().without_banner();
            let mut bodies = Vec::new();
            d.decode(input, |x| {
                if let Decoded::Message(m) = x {
                    bodies.push(m.as_bytes().to_vec());
                }
            })
            .unwrap();
            assert_eq!(bodies, vec![b"Event: A\nX: 1\n".to_vec()]);
        }
    }

    #[test]
    fn oversized_message_is_a_typed_error() {
        let mut d = Decoder::with_max_message_bytes(100);
        let big = vec![b'a'; 200];
        let err = d.decode(&big, |_| {}).unwrap_err();
        assert_eq!(err, DecodeError::MessageTooLarge { limit: 100 });
        assert!(err.to_string().contains("100 bytes"));
        // Same for a complete message past the cap, whatever the chunking.
        let mut d = Decoder::with_max_message_bytes(100);
        let mut m = b"Event: A\r\nX: ".to_vec();
        m.extend(std::iter::repeat_n(b'b', 150));
        m.extend_from_slice(b"\r\n\r\n");
        assert!(d.decode(&m, |_| {}).is_err());
    }

    #[test]
    fn encoder_refuses_injection_long_lines_and_too_many_headers() {
        let mut out = Vec::new();
        let e = encode_action(&Action::new("Park").header("Channel", "a\nb"), &mut out).unwrap_err();
        assert!(matches!(e, EncodeError::LineBreak { .. }));
        let e = encode_action(&Action::new("Park").header("Chan\rnel", "a"), &mut out).unwrap_err();
        assert!(matches!(e, EncodeError::LineBreak { .. }));
        let long = "x".repeat(1100);
        let e = encode_action(&Action::new("Park").header("Channel", &long), &mut out).unwrap_err();
        assert!(matches!(e, EncodeError::LineTooLong { .. }));
        let mut a = Action::new("Originate");
        for i in 0..130 {
            a = a.header("Variable", format!("v{i}=1"));
        }
        assert!(matches!(
            encode_action(&a, &mut out).unwrap_err(),
            EncodeError::TooManyHeaders { count: 131 }
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn encoder_error_never_quotes_the_value() {
        let mut out = Vec::new();
        let e = encode_action(&Action::new("Login").header("Secret", "hunter2\n"), &mut out).unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }
}
