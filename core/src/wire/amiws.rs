//! amiws frames: the JSON text frames of the amiws AMI-over-WebSocket proxy.
//!
//! amiws (2.2) writes one JSON object per AMI message, with the AMI headers in `data`.
//! Its JSON is not always valid: repeated AMI keys become repeated JSON keys, `\v`
//! is written as an invalid escape, other control bytes as wrong `\u00XX`, and
//! non-UTF-8 bytes are copied raw. So frames are parsed here as bytes, by a small
//! lenient parser that keeps `data` as ordered pairs; it never panics.

use crate::wire::action::Action;
use crate::wire::ami_codec::{check_action, EncodeError};
use crate::wire::message::Message;

/// The `type` of an amiws frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    /// 3: an AMI event.
    Event,
    /// 4: an AMI response.
    Response,
    /// 5: a response with old-style command output (text in one `Output` value).
    CommandOutput,
    /// 6: a queue list.
    QueueList,
    /// Any other value: reported, not fatal.
    Other(i64),
}

impl FrameType {
    /// The type amiws gives a message: an event (3) or a response (4).
    pub fn of(m: &Message) -> Self {
        if m.get("Event").is_some() {
            Self::Event
        } else {
            Self::Response
        }
    }

    /// The frame's `type` number.
    ///
    /// ```
    /// assert_eq!(ami_parking::amiws::FrameType::Response.code(), 4);
    /// ```
    pub fn code(self) -> i64 {
        match self {
            Self::Event => 3,
            Self::Response => 4,
            Self::CommandOutput => 5,
            Self::QueueList => 6,
            Self::Other(n) => n,
        }
    }

    fn from_code(n: i64) -> Self {
        match n {
            3 => Self::Event,
            4 => Self::Response,
            5 => Self::CommandOutput,
            6 => Self::QueueList,
            n => Self::Other(n),
        }
    }
}

/// One decoded amiws frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame's `type`.
    pub kind: FrameType,
    /// The Asterisk server the message came from (`server_id`).
    pub server_id: Option<u32>,
    /// The server's configured name (`server_name`).
    pub server_name: Option<String>,
    /// The AMI message, headers in the order amiws wrote them (duplicates kept).
    pub data: Message,
}

/// Why a frame could not be read. The connection survives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame is not a JSON object as amiws writes it.
    #[error("amiws frame is not a JSON object at byte {offset}: {reason}")]
    Syntax {
        /// Byte offset of the problem.
        offset: usize,
        /// What was expected.
        reason: &'static str,
    },
    /// The object has no `data` object.
    #[error("amiws frame has no `data` object (it carries no AMI message)")]
    NoData,
    /// Read as AMI headers, the frame would grow past its budget: an array under one
    /// key repeats the key for every element, so a small frame could become gigabytes.
    #[error("amiws frame of {frame} bytes would become more than {limit} bytes or {headers} headers of AMI message; refused")]
    TooBig {
        /// The frame's size.
        frame: usize,
        /// The byte budget of its message.
        limit: usize,
        /// The header budget.
        headers: usize,
    },
}

/// Headers one amiws message may hold.
pub const MAX_FRAME_HEADERS: usize = 4096;

/// The bytes (keys and values) one frame's message may hold: twice the frame, at
/// least 64 KiB. Asterisk's own messages stay far below (values are not repeated).
fn frame_budget(frame: usize) -> usize {
    (frame * 2).max(64 * 1024)
}

/// Decodes one amiws frame, leniently (see the module docs).
///
/// ```
/// use ami_parking::amiws::{decode_frame, FrameType};
/// let f = decode_frame(br#"{ "type": 3, "server_id": 2, "server_name": "pbx-b", "ssl": false,
///   "data": {"Event": "X","Output": "a","Output": "b","Bad": "\v"}}"#).unwrap();
/// assert_eq!(f.kind, FrameType::Event);
/// assert_eq!(f.server_id, Some(2));
/// assert_eq!(f.data.get_all("Output").count(), 2);
/// assert_eq!(f.data.get("Bad"), Some(&b"\x0b"[..]));
/// ```
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, FrameError> {
    let mut p = Parser { b: bytes, i: 0 };
    let mut kind = None;
    let mut server_id = None;
    let mut server_name = None;
    let mut data = None;
    p.ws();
    p.expect(b'{', "expected `{`")?;
    p.ws();
    if p.peek() == Some(b'}') {
        return Err(FrameError::NoData);
    }
    let mut key = Vec::new();
    loop {
        p.key(&mut key)?;
        match key.as_slice() {
            b"data" if p.peek() == Some(b'{') => data = Some(p.data_object()?),
            b"type" => kind = p.scalar_text()?.and_then(|t| t.parse::<i64>().ok()).map(FrameType::from_code),
            b"server_id" => server_id = p.scalar_text()?.and_then(|t| t.parse::<u32>().ok()),
            b"server_name" => server_name = p.scalar_text()?,
            _ => p.skip_value(0)?,
        }
        p.ws();
        match p.next() {
            Some(b',') => continue,
            Some(b'}') => break,
            _ => return Err(p.err("expected `,` or `}`")),
        }
    }
    let data = data.ok_or(FrameError::NoData)?;
    let kind =
        kind.unwrap_or(if data.get("Event").is_some() { FrameType::Event } else { FrameType::Response });
    Ok(Frame { kind, server_id, server_name, data })
}

/// Decodes a frame a client sends amiws: a flat JSON object of action headers, with
/// the server it names (`AMIServerID`) taken out. (What the model and the tests read
/// from a client.)
///
/// ```
/// let (action, server) = ami_parking::amiws::decode_action_frame(br#"{"Action":"Ping","AMIServerID":"2"}"#).unwrap();
/// assert_eq!((action.get_str("Action").as_deref(), server), (Some("Ping"), Some(2)));
/// ```
pub fn decode_action_frame(bytes: &[u8]) -> Result<(Message, Option<u32>), FrameError> {
    let mut wrapped = Vec::with_capacity(bytes.len() + 10);
    wrapped.extend_from_slice(b"{\"data\": ");
    wrapped.extend_from_slice(bytes);
    wrapped.push(b'}');
    let f = decode_frame(&wrapped)?;
    let mut action = Message::with_capacity(f.data.len(), 128);
    let mut server = None;
    for (k, v) in f.data.iter() {
        if k.eq_ignore_ascii_case(b"AMIServerID") {
            server = std::str::from_utf8(v).ok().and_then(|v| v.parse().ok());
        } else {
            action.push(k, v);
        }
    }
    Ok((action, server))
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> FrameError {
        FrameError::Syntax { offset: self.i, reason }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }
    fn expect(&mut self, c: u8, reason: &'static str) -> Result<(), FrameError> {
        if self.next() == Some(c) {
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }

    /// A string, escapes decoded leniently, bytes kept as they are.
    /// An object's key and its `:`, with the white space around them.
    fn key(&mut self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        self.ws();
        out.clear();
        self.string(out)?;
        self.ws();
        self.expect(b':', "expected `:` after a key")?;
        self.ws();
        Ok(())
    }

    fn string(&mut self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        self.expect(b'"', "expected a string")?;
        loop {
            let rest = &self.b[self.i..];
            let Some(j) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err(self.err("unterminated string"));
            };
            out.extend_from_slice(&rest[..j]);
            self.i += j;
            if self.next() == Some(b'"') {
                return Ok(());
            }
            let Some(e) = self.next() else {
                return Err(self.err("unterminated string"));
            };
            match e {
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'b' => out.push(8),
                b'f' => out.push(12),
                b'v' => out.push(11),
                b'a' => out.push(7),
                b'0' => out.push(0),
                b'u' => match self.hex4() {
                    Some(mut cp) => {
                        if (0xD800..0xDC00).contains(&cp) && self.b[self.i..].starts_with(b"\\u") {
                            let save = self.i;
                            self.i += 2;
                            match self.hex4() {
                                Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                }
                                _ => self.i = save,
                            }
                        }
                        let ch = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                        let mut tmp = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                    }
                    None => out.extend_from_slice(b"\\u"),
                },
                other => out.push(other),
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.b.get(self.i..self.i + 4)?;
        let s = std::str::from_utf8(h).ok()?;
        let v = u32::from_str_radix(s, 16).ok()?;
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        self.i += 4;
        Some(v)
    }

    /// A scalar's text: a string's content or a number/literal as written.
    fn scalar_text(&mut self) -> Result<Option<String>, FrameError> {
        match self.peek() {
            Some(b'"') => {
                let mut v = Vec::new();
                self.string(&mut v)?;
                Ok(Some(String::from_utf8_lossy(&v).into_owned()))
            }
            Some(b'{' | b'[') => {
                self.skip_value(0)?;
                Ok(None)
            }
            _ => {
                let start = self.i;
                while matches!(self.peek(), Some(c) if !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                {
                    self.i += 1;
                }
                if start == self.i {
                    return Err(self.err("expected a value"));
                }
                Ok(Some(String::from_utf8_lossy(&self.b[start..self.i]).into_owned()))
            }
        }
    }

    fn skip_value(&mut self, depth: usize) -> Result<(), FrameError> {
        if depth > 32 {
            return Err(self.err("nested too deeply"));
        }
        match self.peek() {
            Some(b'"') => self.string(&mut Vec::new()),
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                self.ws();
                if self.peek() == Some(close) {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    if open == b'{' {
                        self.string(&mut Vec::new())?;
                        self.ws();
                        self.expect(b':', "expected `:`")?;
                        self.ws();
                    }
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next() {
                        Some(b',') => continue,
                        Some(c) if c == close => return Ok(()),
                        _ => return Err(self.err("expected `,` or a closing bracket")),
                    }
                }
            }
            _ => self.scalar_text().map(|_| ()),
        }
    }

    /// The `data` object as ordered pairs; array values repeat the key.
    fn data_object(&mut self) -> Result<Message, FrameError> {
        self.expect(b'{', "expected `{`")?;
        let mut m = Message::with_capacity(16, self.b.len());
        let mut k = Vec::new();
        let mut v = Vec::new();
        let limit = frame_budget(self.b.len());
        let (mut bytes, mut headers) = (0usize, 0usize);
        let too_big = FrameError::TooBig { frame: self.b.len(), limit, headers: MAX_FRAME_HEADERS };
        let mut spend = |k: &[u8], v: &[u8]| {
            bytes += k.len() + v.len();
            headers += 1;
            if bytes > limit || headers > MAX_FRAME_HEADERS {
                Err(too_big.clone())
            } else {
                Ok(())
            }
        };
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(m);
        }
        loop {
            self.key(&mut k)?;
            match self.peek() {
                Some(b'"') => {
                    v.clear();
                    self.string(&mut v)?;
                    spend(&k, &v)?;
                    m.push(&k, &v);
                }
                Some(b'[') => {
                    self.i += 1;
                    loop {
                        self.ws();
                        if self.peek() == Some(b']') {
                            self.i += 1;
                            break;
                        }
                        if let Some(t) = self.scalar_text()? {
                            spend(&k, t.as_bytes())?;
                            m.push(&k, t.as_bytes());
                        }
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b']') => {}
                            _ => return Err(self.err("expected `,` or `]`")),
                        }
                    }
                }
                _ => {
                    if let Some(t) = self.scalar_text()? {
                        spend(&k, t.as_bytes())?;
                        m.push(&k, t.as_bytes());
                    }
                }
            }
            self.ws();
            match self.next() {
                Some(b',') => continue,
                Some(b'}') => return Ok(m),
                _ => return Err(self.err("expected `,` or `}` in data")),
            }
        }
    }
}

/// Encodes an action as the flat JSON object amiws expects: one key per header in
/// order, repeated keys as one array, raw UTF-8 (amiws does not decode `\u` escapes),
/// and `AMIServerID` when `server` names the target.
///
/// amiws drops a backslash and passes the next character, so `"` and `\` are written
/// escaped and arrive intact; control characters cannot be carried and are refused.
///
/// ```
/// use ami_parking::{amiws::encode_action, Action};
/// let mut out = Vec::new();
/// let a = Action::new("Originate").header("Variable", "A=1").header("Variable", "B=2").header("CallerID", "Zoë");
/// encode_action(&a, Some(2), &mut out).unwrap();
/// assert_eq!(String::from_utf8(out).unwrap(),
///     r#"{"Action":"Originate","Variable":["A=1","B=2"],"CallerID":"Zoë","AMIServerID":"2"}"#);
/// ```
pub fn encode_action(action: &Action, server: Option<u32>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_message(action.as_message(), server, out)
}

/// Like [`encode_action`] for any message.
pub fn encode_message(m: &Message, server: Option<u32>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    check_action(m)?;
    for (k, v) in m.iter() {
        if v.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Err(EncodeError::LineBreak { key: String::from_utf8_lossy(k).into_owned() });
        }
    }
    let pairs: Vec<(&[u8], &[u8])> = m.iter().collect();
    out.push(b'{');
    let mut first = true;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(pk, _)| pk == k) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        json_str(k, out);
        out.push(b':');
        let values: Vec<&[u8]> = pairs[i..].iter().filter(|(pk, _)| pk == k).map(|(_, v)| *v).collect();
        if values.len() == 1 {
            json_str(values[0], out);
        } else {
            out.push(b'[');
            for (j, v) in values.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                json_str(v, out);
            }
            out.push(b']');
        }
    }
    if let Some(id) = server {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"\"AMIServerID\":\"");
        out.extend_from_slice(id.to_string().as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
    Ok(())
}

fn json_str(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Writes a message as an amiws frame, as amiws 2.2 writes it (used by the reference
/// model and test servers).
pub fn write_frame(kind: FrameType, server_id: u32, server_name: &str, data: &Message, out: &mut Vec<u8>) {
    let code = kind.code();
    out.extend_from_slice(
        format!("{{ \"type\": {code}, \"server_id\": {server_id}, \"server_name\": ").as_bytes(),
    );
    json_str(server_name.as_bytes(), out);
    out.extend_from_slice(b", \"ssl\": false, \"data\": {");
    for (i, (k, v)) in data.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(k, out);
        out.extend_from_slice(b": ");
        out.push(b'"');
        for &b in v {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x0b => out.extend_from_slice(b"\\v"),
                b if b < 0x20 => out.extend_from_slice(format!("\\u00{b:02x}").as_bytes()),
                b => out.push(b),
            }
        }
        out.push(b'"');
    }
    out.extend_from_slice(b"}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_with_nested_values_are_passed_over() {
        let f = decode_frame(
            br#"{"extra": {"a": [1, {"b": "}]"}, [], {}], "c": {}}, "list": [ ], "obj": { },
                "s": "x\"y", "n": -1.5e3, "type": 3, "server_name": {"no": "name"},
                "server_id": [2], "data": {"Event": "A"}, "after": [true, null]}"#,
        )
        .unwrap();
        assert_eq!(f.data.get("Event"), Some(&b"A"[..]));
        assert_eq!(f.kind, FrameType::Event);
        assert_eq!((f.server_id, f.server_name.as_deref()), (None, None), "an object or array is no scalar");
        for bad in [
            &br#"{"x": [1 2], "data": {"Event": "A"}}"#[..],
            br#"{"x": {"a" 1}, "data": {"Event": "A"}}"#,
            br#"{"x": [1}, "data": {"Event": "A"}}"#,
            br#"{"x": {1: 2}, "data": {"Event": "A"}}"#,
            br#"{"x": "open, "data": {"Event": "A"}}"#,
        ] {
            assert!(decode_frame(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn values_nest_33_deep_and_no_deeper() {
        let nested =
            |n: usize| format!(r#"{{"x": {}{}, "data": {{"Event": "A"}}}}"#, "[".repeat(n), "]".repeat(n));
        assert!(decode_frame(nested(33).as_bytes()).is_ok());
        assert!(decode_frame(nested(34).as_bytes()).is_err());
    }

    #[test]
    fn an_empty_data_object_leaves_the_rest_of_the_frame_readable() {
        let f = decode_frame(br#"{"data": {}, "type": 3, "server_id": 2}"#).unwrap();
        assert!(f.data.is_empty());
        assert_eq!((f.kind, f.server_id), (FrameType::Event, Some(2)));
    }

    #[test]
    fn surrogate_pairs_join_and_lone_surrogates_become_replacement_characters() {
        let text = |json: &[u8]| {
            let f = decode_frame(json).unwrap();
            String::from_utf8(f.data.get("V").unwrap().to_vec()).unwrap()
        };
        assert_eq!(text(br#"{"data": {"V": "\ud83d\ude00"}}"#), "\u{1F600}");
        // A high surrogate then an escape that is no low surrogate: each stands alone.
        assert_eq!(text(br#"{"data": {"V": "\ud83d\u0041"}}"#), "\u{FFFD}A");
        // ... then no escape at all: the next six characters stay text.
        assert_eq!(text(br#"{"data": {"V": "\ud83dZZdc00"}}"#), "\u{FFFD}ZZdc00");
    }

    #[test]
    fn the_data_budget_holds_at_its_edges() {
        // Under 32 KiB of frame the budget is 64 KiB: 512 values of 28 bytes under a
        // 100-byte key are exactly that.
        let frame = |key_len: usize, value_len: usize, n: usize| {
            let values: Vec<String> = (0..n).map(|_| format!("\"{}\"", "v".repeat(value_len))).collect();
            format!(r#"{{"data":{{"{}":[{}]}}}}"#, "k".repeat(key_len), values.join(","))
        };
        let exact = frame(100, 28, 512);
        assert!(exact.len() < 32 * 1024);
        assert_eq!(decode_frame(exact.as_bytes()).expect("exactly the budget").data.len(), 512);
        assert!(matches!(decode_frame(frame(100, 29, 512).as_bytes()), Err(FrameError::TooBig { .. })));
        // At most MAX_FRAME_HEADERS headers.
        assert_eq!(
            decode_frame(frame(1, 1, MAX_FRAME_HEADERS).as_bytes()).unwrap().data.len(),
            MAX_FRAME_HEADERS
        );
        assert!(matches!(
            decode_frame(frame(1, 1, MAX_FRAME_HEADERS + 1).as_bytes()),
            Err(FrameError::TooBig { .. })
        ));
        // A plain value counts too: 70 KB in a 70 KB frame is within twice the frame.
        let long = format!(r#"{{"data":{{"V":"{}"}}}}"#, "v".repeat(70_000));
        assert!(decode_frame(long.as_bytes()).is_ok());
    }

    #[test]
    fn a_data_that_is_not_an_object_is_passed_over_for_the_one_that_is() {
        let f = decode_frame(br#"{"type":3,"data":"x","data":{"Event":"A"}}"#).unwrap();
        assert_eq!(f.data.get("Event"), Some(&b"A"[..]));
        assert_eq!(decode_frame(br#"{"type":3,"data":["x"]}"#).unwrap_err(), FrameError::NoData);
    }

    #[test]
    fn a_frame_may_grow_to_twice_its_size_as_headers_and_no_more() {
        // 2,000 values of 60 bytes under one 40-byte key: 100 bytes a header read as
        // AMI, about 1.6 times the frame (over 64 KiB): within the budget.
        let frame = |key_len: usize, value_len: usize, n: usize| {
            let values: Vec<String> = (0..n).map(|_| format!("\"{}\"", "v".repeat(value_len))).collect();
            format!(r#"{{"type":3,"data":{{"{}":[{}]}}}}"#, "k".repeat(key_len), values.join(","))
        };
        let ok = frame(40, 60, 2_000);
        let f = decode_frame(ok.as_bytes()).expect("1.6 times the frame is within the budget");
        assert_eq!(f.data.len(), 2_000);
        // 1-byte values under a 100-byte key: about 25 times the frame.
        let big = frame(100, 1, 2_000);
        assert!(matches!(decode_frame(big.as_bytes()), Err(FrameError::TooBig { .. })));
    }

    #[test]
    fn invalid_utf8_and_escapes_are_tolerated() {
        let mut f = br#"{"type": 3, "server_id": 1, "data": {"Event": "X","Name": "Zo"#.to_vec();
        f.extend_from_slice(&[0xeb, 0xff]);
        f.extend_from_slice(br#"\v\u00zz\q","N": 5}}"#);
        let fr = decode_frame(&f).unwrap();
        assert_eq!(fr.data.get("Name"), Some(&b"Zo\xeb\xff\x0b\\u00zzq"[..]));
        assert_eq!(fr.data.get("N"), Some(&b"5"[..]));
    }

    #[test]
    fn unknown_type_is_reported_not_fatal() {
        let fr = decode_frame(br#"{"type": 9, "server_id": 1, "data": {"A": "b"}}"#).unwrap();
        assert_eq!(fr.kind, FrameType::Other(9));
    }

    #[test]
    fn broken_frames_are_errors_not_panics() {
        for bad in [&b""[..], b"{", b"{\"data\": ", b"[1]", b"{\"type\": 3}", b"{\"data\": {\"a\": \"b"] {
            assert!(decode_frame(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn surrogate_pairs_decode() {
        let fr = decode_frame(br#"{"data": {"A": "\ud83d\ude00 \u00eb"}}"#).unwrap();
        assert_eq!(fr.data.get_str("A").unwrap(), "\u{1f600} ë");
    }

    #[test]
    fn encode_refuses_control_characters_and_injection() {
        let mut out = Vec::new();
        assert!(encode_action(&Action::new("Park").header("Channel", "a\tb"), None, &mut out).is_err());
        assert!(encode_action(&Action::new("Park").header("Channel", "a\nb"), None, &mut out).is_err());
        encode_action(&Action::new("Park").header("Channel", "a\"b\\c"), None, &mut out).unwrap();
        assert_eq!(out, br#"{"Action":"Park","Channel":"a\"b\\c"}"#);
    }

    #[test]
    fn a_string_passed_over_may_hold_commas_braces_and_quotes() {
        let f =
            decode_frame(br#"{"s": "a, \"b\": {c}]", "type": 3, "data": {"Event": "A"}, "t": "}"}"#).unwrap();
        assert_eq!(f.data.get("Event"), Some(&b"A"[..]));
        assert_eq!(f.kind, FrameType::Event);
    }

    #[test]
    fn write_frame_escapes_every_control_character() {
        let value: Vec<u8> = (0u8..0x20).chain([b'x']).collect();
        let mut m = Message::default();
        m.push(b"Event", b"A");
        m.push(b"V", &value);
        m.push(b"W", b"a b");
        let mut out = Vec::new();
        write_frame(FrameType::Event, 1, "pbx", &m, &mut out);
        assert!(out.iter().all(|&b| b >= 0x20), "{}", String::from_utf8_lossy(&out));
        assert!(out.windows(6).any(|w| w == br"\u0001") && out.windows(6).any(|w| w == br"\u001f"));
        assert!(out.windows(5).any(|w| w == br#""a b""#), "a space is no control character");
        assert_eq!(decode_frame(&out).unwrap().data, m);
    }

    #[test]
    fn write_frame_round_trips() {
        let m = Message::from_pairs([("Event", "A"), ("V", "x\"\\\n\x0b\x01y"), ("V", "2")]);
        let mut out = Vec::new();
        write_frame(FrameType::Event, 7, "pbx", &m, &mut out);
        let f = decode_frame(&out).unwrap();
        assert_eq!(f.data, m);
        assert_eq!(f.server_id, Some(7));
        assert_eq!(f.server_name.as_deref(), Some("pbx"));
    }
}
