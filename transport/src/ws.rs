//! The amiws WebSocket link: the handshake with tungstenite's helpers, then a small
//! frame layer that takes text frames as bytes.
//!
//! amiws copies non-UTF-8 bytes (caller names) into text frames. A strict WebSocket
//! library fails the whole connection on such a frame (RFC 6455 says to), and the
//! resync after reconnecting would carry the same bytes and fail again, for ever. So
//! frames are read here as bytes and handed to the lenient amiws decoder; everything
//! else follows RFC 6455 (client frames masked, ping answered, close honoured,
//! fragments joined, sizes capped).

use crate::link::BoxIo;
use async_tungstenite::tungstenite::handshake::{client::generate_key, derive_accept_key};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};

/// Largest message accepted (amiws sends one AMI message per frame).
const MAX_MESSAGE: usize = 16 << 20;

/// What the server sent.
#[derive(Debug)]
pub(crate) enum WsIn {
    /// A text (or binary) message, as bytes.
    Data(Vec<u8>),
    /// A ping: answer with a pong carrying the payload.
    Ping(Vec<u8>),
    /// A pong (the answer to our keep-alive ping).
    Pong,
    /// The server closes.
    Close,
}

pub(crate) struct WsReader {
    r: ReadHalf<BoxIo>,
    buf: Vec<u8>,
    partial: Option<Vec<u8>>,
}

pub(crate) struct WsWriter {
    w: WriteHalf<BoxIo>,
}

/// Performs the client handshake on `io` and splits the link.
pub(crate) async fn connect(
    mut io: BoxIo,
    host: &str,
    port: u16,
    path: &str,
) -> Result<(WsReader, WsWriter), String> {
    let key = generate_key();
    let path = if path.is_empty() { "/" } else { path };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    io.write_all(req.as_bytes()).await.map_err(|e| format!("WebSocket handshake with {host} failed: {e}"))?;
    let mut buf = Vec::with_capacity(4096);
    let end = loop {
        if let Some(i) = memchr::memmem::find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 * 1024 {
            return Err(format!("WebSocket handshake with {host} failed: response headers too long"));
        }
        let mut chunk = [0u8; 4096];
        let n =
            io.read(&mut chunk).await.map_err(|e| format!("WebSocket handshake with {host} failed: {e}"))?;
        if n == 0 {
            return Err(format!("WebSocket handshake with {host} failed: connection closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1).is_none_or(|c| c != "101") {
        return Err(format!("WebSocket handshake with {host} failed: the server answered `{status}`"));
    }
    let accept = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case("Sec-WebSocket-Accept").then(|| v.trim().to_string())
    });
    if accept.as_deref() != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Err(format!("WebSocket handshake with {host} failed: wrong Sec-WebSocket-Accept"));
    }
    buf.drain(..end);
    let (r, w) = tokio::io::split(io);
    Ok((WsReader { r, buf, partial: None }, WsWriter { w }))
}

impl WsReader {
    /// The next message. Cancel-safe: bytes read stay in the buffer.
    pub(crate) async fn next(&mut self) -> Result<WsIn, String> {
        loop {
            if let Some(m) = self.parse()? {
                return Ok(m);
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = self.r.read(&mut chunk).await.map_err(|e| format!("WebSocket read failed: {e}"))?;
            if n == 0 {
                return Ok(WsIn::Close);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Takes one whole frame off the buffer, if there is one.
    fn parse(&mut self) -> Result<Option<WsIn>, String> {
        loop {
            let b = &self.buf;
            if b.len() < 2 {
                return Ok(None);
            }
            let fin = b[0] & 0x80 != 0;
            let opcode = b[0] & 0x0f;
            let masked = b[1] & 0x80 != 0;
            let (len, mut at) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                127 if b.len() >= 10 => {
                    let mut n = [0u8; 8];
                    n.copy_from_slice(&b[2..10]);
                    (usize::try_from(u64::from_be_bytes(n)).unwrap_or(usize::MAX), 10)
                }
                126 | 127 => return Ok(None),
                n => (n as usize, 2),
            };
            if len > MAX_MESSAGE {
                return Err(format!("WebSocket frame of {len} bytes exceeds the {MAX_MESSAGE}-byte limit"));
            }
            let mask = if masked {
                if b.len() < at + 4 {
                    return Ok(None);
                }
                let m = [b[at], b[at + 1], b[at + 2], b[at + 3]];
                at += 4;
                Some(m)
            } else {
                None
            };
            if b.len() < at + len {
                return Ok(None);
            }
            let mut payload: Vec<u8> = self.buf[at..at + len].to_vec();
            self.buf.drain(..at + len);
            if let Some(m) = mask {
                payload.iter_mut().enumerate().for_each(|(i, x)| *x ^= m[i % 4]);
            }
            match opcode {
                0x1 | 0x2 if fin && self.partial.is_none() => return Ok(Some(WsIn::Data(payload))),
                0x1 | 0x2 => self.partial = Some(payload),
                0x0 => {
                    let Some(p) = self.partial.as_mut() else {
                        return Err("WebSocket continuation frame without a first frame".into());
                    };
                    if p.len() + payload.len() > MAX_MESSAGE {
                        return Err(format!("WebSocket message exceeds the {MAX_MESSAGE}-byte limit"));
                    }
                    p.extend_from_slice(&payload);
                    if fin {
                        return Ok(self.partial.take().map(WsIn::Data));
                    }
                }
                0x8 => return Ok(Some(WsIn::Close)),
                0x9 => return Ok(Some(WsIn::Ping(payload))),
                0xA => return Ok(Some(WsIn::Pong)),
                other => return Err(format!("WebSocket frame with unknown opcode {other}")),
            }
        }
    }
}

impl WsWriter {
    async fn frame(&mut self, opcode: u8, payload: &[u8]) -> Result<(), String> {
        let mut f = Vec::with_capacity(payload.len() + 14);
        f.push(0x80 | opcode);
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
        let mask: [u8; 4] = rand::random();
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.w.write_all(&f).await.map_err(|e| format!("WebSocket send failed: {e}"))
    }

    /// Sends a text message (client frames are masked).
    pub(crate) async fn text(&mut self, data: &[u8]) -> Result<(), String> {
        self.frame(0x1, data).await
    }

    /// Sends a keep-alive ping.
    pub(crate) async fn ping(&mut self) -> Result<(), String> {
        self.frame(0x9, b"ami-parking").await
    }

    /// Answers a ping.
    pub(crate) async fn pong(&mut self, data: &[u8]) -> Result<(), String> {
        self.frame(0xA, data).await
    }

    /// Sends a close frame (normal closure).
    pub(crate) async fn close(&mut self) {
        let _ = self.frame(0x8, &1000u16.to_be_bytes()).await;
        let _ = self.w.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &[u8]) -> WsReader {
        let (a, _b) = tokio::io::duplex(64);
        let io: BoxIo = Box::new(a);
        let (r, _w) = tokio::io::split(io);
        WsReader { r, buf: bytes.to_vec(), partial: None }
    }

    #[test]
    fn text_frames_are_bytes_even_when_not_utf8() {
        let mut r = reader(&[0x81, 3, b'Z', 0xeb, b'x']);
        assert!(matches!(r.parse().unwrap(), Some(WsIn::Data(d)) if d == b"Z\xebx"));
    }

    #[test]
    fn fragments_join_and_partial_frames_wait() {
        let mut r = reader(&[0x01, 2, b'a', b'b', 0x80, 1]);
        assert!(r.parse().unwrap().is_none());
        r.buf.push(b'c');
        assert!(matches!(r.parse().unwrap(), Some(WsIn::Data(d)) if d == b"abc"));
    }

    #[test]
    fn extended_lengths_and_control_frames() {
        let mut bytes = vec![0x82, 126, 0x01, 0x00];
        bytes.extend(std::iter::repeat_n(7u8, 256));
        bytes.extend_from_slice(&[0x89, 1, b'p', 0x88, 0]);
        let mut r = reader(&bytes);
        assert!(matches!(r.parse().unwrap(), Some(WsIn::Data(d)) if d.len() == 256));
        assert!(matches!(r.parse().unwrap(), Some(WsIn::Ping(p)) if p == b"p"));
        assert!(matches!(r.parse().unwrap(), Some(WsIn::Close)));
    }

    #[test]
    fn oversized_and_unknown_frames_are_errors() {
        let mut r = reader(&[0x81, 127, 0xff, 0, 0, 0, 0, 0, 0, 0]);
        assert!(r.parse().is_err());
        let mut r = reader(&[0x83, 0]);
        assert!(r.parse().is_err());
    }
}
