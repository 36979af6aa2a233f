//! The amiws WebSocket link: the handshake with tungstenite's helpers, then the
//! sans-IO frame codec ([`crate::ws_codec`]) over the byte stream.

use crate::stream::BoxIo;
use crate::ws_codec::{encode_frame, Opcode, WsDecoder, WsIn};
use ami_parking::Secret;
use async_tungstenite::tungstenite::handshake::{client::generate_key, derive_accept_key};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};

/// Largest message accepted (amiws sends one AMI message per frame).
const MAX_MESSAGE: usize = 16 << 20;

pub(crate) struct WsReader {
    r: ReadHalf<BoxIo>,
    decoder: WsDecoder,
    chunk: Vec<u8>,
}

pub(crate) struct WsWriter {
    w: WriteHalf<BoxIo>,
}

/// Why a link could not be opened; `refused`: the server refused our credentials at
/// the upgrade (a WebSocket `401`, `403` or `429`), retried slowly like a refused
/// login.
#[derive(Debug)]
pub(crate) struct OpenError {
    pub(crate) message: String,
    pub(crate) refused: bool,
}

impl From<String> for OpenError {
    fn from(message: String) -> Self {
        OpenError { message, refused: false }
    }
}

/// Performs the client handshake on `io` and splits the link; `token` (an
/// `ami-ws-bridge`'s) goes in `Authorization: Bearer`.
pub(crate) async fn connect(
    mut io: BoxIo,
    host: &str,
    port: u16,
    path: &str,
    token: Option<&Secret>,
) -> Result<(WsReader, WsWriter), OpenError> {
    let key = generate_key();
    let path = if path.is_empty() { "/" } else { path };
    let authorization = match token.map(Secret::expose) {
        None | Some("") => String::new(),
        // A header carries visible ASCII only: anything else would end it early (and
        // let the token write headers of its own). Never quoted.
        Some(t) if !t.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(format!(
                "WebSocket handshake with {host}: the token has a space or a character a header cannot carry"
            )
            .into())
        }
        Some(t) => format!("Authorization: Bearer {t}\r\n"),
    };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{authorization}\r\n"
    );
    io.write_all(req.as_bytes()).await.map_err(|e| format!("WebSocket handshake with {host} failed: {e}"))?;
    let mut buf = Vec::with_capacity(4096);
    let end = loop {
        if let Some(i) = memchr::memmem::find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 * 1024 {
            return Err(format!("WebSocket handshake with {host} failed: response headers too long").into());
        }
        let mut chunk = [0u8; 4096];
        let n =
            io.read(&mut chunk).await.map_err(|e| format!("WebSocket handshake with {host} failed: {e}"))?;
        if n == 0 {
            return Err(format!("WebSocket handshake with {host} failed: connection closed").into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head.lines().next().unwrap_or("");
    match status.split_whitespace().nth(1) {
        Some("101") => {}
        // The credentials refused (a bridge's token, or its address's wrong tokens):
        // retried slowly, as a refused login is.
        Some("401" | "403" | "429") => {
            let message = format!("WebSocket handshake with {host} refused: the server answered `{status}`");
            return Err(OpenError { message, refused: true });
        }
        _ => {
            return Err(
                format!("WebSocket handshake with {host} failed: the server answered `{status}`").into()
            )
        }
    }
    let accept = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case("Sec-WebSocket-Accept").then(|| v.trim().to_string())
    });
    if accept.as_deref() != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Err(format!("WebSocket handshake with {host} failed: wrong Sec-WebSocket-Accept").into());
    }
    let mut decoder = WsDecoder::new(MAX_MESSAGE);
    decoder.feed(&buf[end..]);
    let (r, w) = tokio::io::split(io);
    Ok((WsReader { r, decoder, chunk: vec![0; 64 * 1024] }, WsWriter { w }))
}

impl WsReader {
    /// The next message. Cancel-safe: bytes read stay in the decoder. The link ends
    /// (`Ok(WsIn::Close)` with no payload) when the peer closes the stream.
    pub(crate) async fn next(&mut self) -> Result<WsIn, String> {
        loop {
            if let Some(m) = self.decoder.next_frame().map_err(|e| e.to_string())? {
                return Ok(m);
            }
            let n = self.r.read(&mut self.chunk).await.map_err(|e| format!("WebSocket read failed: {e}"))?;
            if n == 0 {
                return Ok(WsIn::Close(Vec::new()));
            }
            self.decoder.feed(&self.chunk[..n]);
        }
    }
}

impl WsWriter {
    async fn frame(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), String> {
        let f = encode_frame(opcode, payload, rand::random());
        self.w.write_all(&f).await.map_err(|e| format!("WebSocket send failed: {e}"))
    }

    /// Sends a text message (client frames are masked).
    pub(crate) async fn text(&mut self, data: &[u8]) -> Result<(), String> {
        self.frame(Opcode::Text, data).await
    }

    /// Sends a keep-alive ping.
    pub(crate) async fn ping(&mut self) -> Result<(), String> {
        self.frame(Opcode::Ping, b"ami-parking").await
    }

    /// Answers a ping.
    pub(crate) async fn pong(&mut self, data: &[u8]) -> Result<(), String> {
        self.frame(Opcode::Pong, data).await
    }

    /// Sends a close frame (`payload`: the status code and reason, e.g. the server's
    /// own, echoed) and shuts the stream.
    pub(crate) async fn close(&mut self, payload: &[u8]) {
        let _ = self.frame(Opcode::Close, payload).await;
        let _ = self.w.shutdown().await;
    }
}
