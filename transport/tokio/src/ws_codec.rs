//! The WebSocket frame codec of the amiws link, sans-IO (RFC 6455, client side).
//!
//! amiws copies non-UTF-8 bytes (caller names) into text frames. A strict WebSocket
//! library fails the whole connection on such a frame (RFC 6455 says to), and the
//! resync after reconnecting would carry the same bytes and fail again, for ever. So
//! text frames are taken here as bytes and handed to the lenient amiws decoder; that
//! is the one place this codec departs from the RFC. Everything else follows it: a
//! frame with RSV bits set, a masked server frame, a control frame over 125 bytes or
//! fragmented, a continuation without a start, or a data frame inside a fragmented
//! message is an error that ends the link; a close is echoed; sizes are capped.
//!
//! ```
//! use ami_parking_transport::ws_codec::{WsDecoder, WsIn};
//! let mut d = WsDecoder::new(1 << 20);
//! d.feed(&[0x81, 3, b'Z', 0xeb, b'x']);
//! assert_eq!(d.next_frame().unwrap(), Some(WsIn::Data(b"Z\xebx".to_vec())));
//! assert_eq!(d.next_frame().unwrap(), None);
//! ```

/// Largest control-frame payload (RFC 6455 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// What the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsIn {
    /// A whole text (or binary) message, as bytes.
    Data(Vec<u8>),
    /// A ping: answer with a pong carrying the payload.
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// The server closes, with its status code and reason (echo it, then close).
    Close(Vec<u8>),
}

/// Why the link must end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// Reserved bits set without a negotiated extension.
    #[error("WebSocket frame with reserved bits set (no extension was negotiated)")]
    Reserved,
    /// A server must not mask its frames.
    #[error("WebSocket frame from the server is masked (servers must not mask)")]
    Masked,
    /// A control frame longer than 125 bytes or fragmented.
    #[error("WebSocket control frame is fragmented or longer than 125 bytes")]
    BadControl,
    /// A continuation frame without a first frame.
    #[error("WebSocket continuation frame without a first frame")]
    StrayContinuation,
    /// A new data frame while a fragmented message is incomplete.
    #[error("WebSocket data frame inside an unfinished fragmented message")]
    Interleaved,
    /// An opcode RFC 6455 does not define.
    #[error("WebSocket frame with unknown opcode {0}")]
    Opcode(u8),
    /// A message over the cap.
    #[error("WebSocket message of {0} bytes exceeds the {1}-byte limit")]
    TooLarge(u64, usize),
}

/// Incremental decoder: feed bytes as they come, take whole frames.
#[derive(Debug)]
pub struct WsDecoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed (drained lazily, so many frames in one read
    /// cost one move).
    start: usize,
    partial: Option<Vec<u8>>,
    max_message: usize,
}

struct Header {
    fin: bool,
    opcode: u8,
    len: usize,
    at: usize,
}

impl WsDecoder {
    /// A decoder refusing messages over `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self { buf: Vec::new(), start: 0, partial: None, max_message }
    }

    /// Bytes read from the link.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message or control frame, `None` until more bytes come.
    pub fn next_frame(&mut self) -> Result<Option<WsIn>, WsError> {
        loop {
            let Some(h) = self.header()? else {
                self.compact();
                return Ok(None);
            };
            let payload = self.buf[self.start + h.at..self.start + h.at + h.len].to_vec();
            self.start += h.at + h.len;
            if let Some(out) = self.frame(h.fin, h.opcode, payload)? {
                return Ok(Some(out));
            }
        }
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Reads the next frame's header when the whole frame is buffered.
    fn header(&self) -> Result<Option<Header>, WsError> {
        let b = &self.buf[self.start..];
        if b.len() < 2 {
            return Ok(None);
        }
        let (fin, opcode) = (b[0] & 0x80 != 0, b[0] & 0x0f);
        if b[0] & 0x70 != 0 {
            return Err(WsError::Reserved);
        }
        if b[1] & 0x80 != 0 {
            return Err(WsError::Masked);
        }
        let (len, at) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().unwrap_or([0xff; 8])), 10),
            126 | 127 => return Ok(None),
            n => (u64::from(n), 2),
        };
        if opcode >= 0x8 && (!fin || len > MAX_CONTROL_PAYLOAD as u64) {
            return Err(WsError::BadControl);
        }
        let held = self.partial.as_ref().map_or(0, Vec::len) as u64;
        if len.saturating_add(held) > self.max_message as u64 {
            return Err(WsError::TooLarge(len.saturating_add(held), self.max_message));
        }
        let len = len as usize;
        Ok((b.len() >= at + len).then_some(Header { fin, opcode, len, at }))
    }

    /// One frame: a whole message or control frame, or `None` for a fragment.
    fn frame(&mut self, fin: bool, opcode: u8, payload: Vec<u8>) -> Result<Option<WsIn>, WsError> {
        match opcode {
            0x1 | 0x2 if self.partial.is_some() => Err(WsError::Interleaved),
            0x1 | 0x2 if fin => Ok(Some(WsIn::Data(payload))),
            0x1 | 0x2 => {
                self.partial = Some(payload);
                Ok(None)
            }
            0x0 => {
                let p = self.partial.as_mut().ok_or(WsError::StrayContinuation)?;
                p.extend_from_slice(&payload);
                Ok(if fin { self.partial.take().map(WsIn::Data) } else { None })
            }
            0x8 => Ok(Some(WsIn::Close(payload))),
            0x9 => Ok(Some(WsIn::Ping(payload))),
            0xA => Ok(Some(WsIn::Pong)),
            other => Err(WsError::Opcode(other)),
        }
    }
}

/// Frame opcodes a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// A text message.
    Text = 0x1,
    /// A close (status code and reason).
    Close = 0x8,
    /// A ping.
    Ping = 0x9,
    /// A pong (the answer to a ping).
    Pong = 0xA,
}

/// Encodes one client frame (FIN set), masked with `mask` as RFC 6455 requires of
/// clients. A control payload is cut to 125 bytes.
///
/// ```
/// use ami_parking_transport::ws_codec::{encode_frame, Opcode};
/// assert_eq!(encode_frame(Opcode::Text, b"hi", [0, 0, 0, 0]), [0x81, 0x82, 0, 0, 0, 0, b'h', b'i']);
/// ```
pub fn encode_frame(opcode: Opcode, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let payload = match opcode {
        Opcode::Text => payload,
        _ => &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)],
    };
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode as u8);
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= u16::MAX as usize => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Vec<Result<Option<WsIn>, WsError>> {
        let mut d = WsDecoder::new(1 << 20);
        d.feed(bytes);
        (0..4).map(|_| d.next_frame()).collect()
    }

    #[test]
    fn text_frames_are_bytes_even_when_not_utf8() {
        assert_eq!(decode(&[0x81, 3, b'Z', 0xeb, b'x'])[0], Ok(Some(WsIn::Data(b"Z\xebx".to_vec()))));
    }

    #[test]
    fn fragments_join_and_partial_frames_wait() {
        let mut d = WsDecoder::new(1 << 20);
        d.feed(&[0x01, 2, b'a', b'b', 0x80, 1]);
        assert_eq!(d.next_frame(), Ok(None));
        d.feed(b"c");
        assert_eq!(d.next_frame(), Ok(Some(WsIn::Data(b"abc".to_vec()))));
    }

    #[test]
    fn a_control_frame_may_come_between_fragments() {
        let got = decode(&[0x01, 1, b'a', 0x89, 1, b'p', 0x80, 1, b'b']);
        assert_eq!(got[0], Ok(Some(WsIn::Ping(b"p".to_vec()))));
        assert_eq!(got[1], Ok(Some(WsIn::Data(b"ab".to_vec()))));
    }

    #[test]
    fn extended_lengths_and_control_frames() {
        let mut bytes = vec![0x82, 126, 0x01, 0x00];
        bytes.extend(std::iter::repeat_n(7u8, 256));
        bytes.extend_from_slice(&[0x89, 1, b'p', 0x88, 2, 0x03, 0xe8]);
        let got = decode(&bytes);
        assert!(matches!(&got[0], Ok(Some(WsIn::Data(d))) if d.len() == 256));
        assert_eq!(got[1], Ok(Some(WsIn::Ping(b"p".to_vec()))));
        assert_eq!(got[2], Ok(Some(WsIn::Close(vec![0x03, 0xe8]))));
    }

    #[test]
    fn what_rfc_6455_forbids_is_an_error() {
        assert_eq!(decode(&[0xC1, 0])[0], Err(WsError::Reserved));
        assert_eq!(decode(&[0x81, 0x81, 1, 2, 3, 4, 5])[0], Err(WsError::Masked));
        assert_eq!(decode(&[0x89, 126, 0, 126])[0], Err(WsError::BadControl));
        assert_eq!(decode(&[0x09, 0])[0], Err(WsError::BadControl));
        assert_eq!(decode(&[0x80, 0])[0], Err(WsError::StrayContinuation));
        assert_eq!(decode(&[0x01, 1, b'a', 0x81, 1, b'b'])[0], Err(WsError::Interleaved));
        assert_eq!(decode(&[0x83, 0])[0], Err(WsError::Opcode(3)));
        assert!(matches!(decode(&[0x81, 127, 0xff, 0, 0, 0, 0, 0, 0, 0])[0], Err(WsError::TooLarge(..))));
    }

    #[test]
    fn the_cap_counts_the_whole_fragmented_message() {
        let mut d = WsDecoder::new(4);
        d.feed(&[0x01, 3, b'a', b'b', b'c', 0x80, 2, b'd', b'e']);
        assert!(matches!(d.next_frame(), Err(WsError::TooLarge(5, 4))));
    }

    #[test]
    fn encoded_frames_are_masked_and_control_payloads_capped() {
        let f = encode_frame(Opcode::Text, b"abc", [1, 2, 3, 4]);
        assert_eq!(f, [0x81, 0x83, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2, b'c' ^ 3]);
        let ping = encode_frame(Opcode::Ping, &[0u8; 300], [0; 4]);
        assert_eq!(ping[1], 0x80 | 125);
        assert_eq!(encode_frame(Opcode::Text, &[0u8; 70_000], [0; 4])[1], 0x80 | 127);
    }
}
