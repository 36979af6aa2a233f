//! A client's action frame, read strictly: one flat JSON object, each header once (in
//! any case), each value a string (an integer or a boolean is taken as its text),
//! header names of `[A-Za-z0-9-_.]`, no control character anywhere, no line longer
//! than Asterisk accepts. amiws turns an
//! array into repeated AMI lines; the bridge refuses it, as it refuses a header
//! given twice. A JSON error's line and column count in the client's own frame.

use crate::refusal::{Refusal, Refused};
use ami_parking::ami_codec::MAX_ACTION_LINE_BYTES;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// A decoded frame: its headers in order (`AMIServerID` taken out, as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFrame {
    /// The headers, in order, names as given.
    pub headers: Vec<(String, String)>,
    /// The `AMIServerID` value as given, if any.
    pub server: Option<String>,
}

impl ClientFrame {
    /// The value of header `key` (any case).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }
}

struct Pairs(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of AMI headers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Whether `s` holds a C0 control character or DEL.
pub fn has_control(s: &str) -> bool {
    // C0, DEL, C1 (U+0085 among them) and the Unicode line and paragraph separators.
    s.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
}

/// Reads one client frame, or says which header is wrong and why (with the frame's
/// ActionID when it has a readable one, so the client can match the refusal).
pub fn decode(bytes: &[u8]) -> Result<ClientFrame, Refusal> {
    let refusal = |action_id, why| Refusal { action_id, server: None, why };
    let Pairs(pairs) =
        serde_json::from_slice(bytes).map_err(|e| refusal(None, Refused::Unreadable(e.to_string())))?;
    // Echoed only when it could be sent (an AMI line): a refusal is never much bigger
    // than what it refuses, so refused frames cannot fill a queue faster than the
    // client writes them.
    let action_id = pairs.iter().find_map(|(k, v)| match v {
        Value::String(s)
            if k.eq_ignore_ascii_case("ActionID")
                && !has_control(s)
                && k.len() + 2 + s.len() <= MAX_ACTION_LINE_BYTES =>
        {
            Some(s.clone())
        }
        _ => None,
    });
    check(pairs).map_err(|why| refusal(action_id, why))
}

/// A refused header name as a refusal shows it: escaped, and its first 64 characters
/// only, with its length (a 60 KB name of quotes escaped in full made a 240 KB
/// error frame).
fn shown_key(k: &str) -> String {
    const SHOWN: usize = 64;
    let head: String = k.chars().take(SHOWN).collect();
    let head = head.escape_default().to_string();
    if k.chars().count() > SHOWN {
        format!("{head}... ({} bytes)", k.len())
    } else {
        head
    }
}

/// Headers one action may carry at most (no allowed action has nearly as many).
pub const MAX_HEADERS: usize = 32;

fn check(pairs: Vec<(String, Value)>) -> Result<ClientFrame, Refused> {
    if pairs.len() > MAX_HEADERS {
        return Err(Refused::TooMany { count: pairs.len(), max: MAX_HEADERS });
    }
    let mut headers: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    let mut server = None;
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    for (k, v) in pairs.iter() {
        if k.is_empty()
            || k.len() > 64
            || !k.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(Refused::BadKey { key: shown_key(k) });
        }
        if !seen.insert(k.to_ascii_lowercase()) {
            return Err(Refused::Repeated { key: k.clone() });
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
            _ => return Err(Refused::NotAString { key: k.clone() }),
        };
        if has_control(&text) {
            return Err(Refused::Control { key: k.clone() });
        }
        let len = k.len() + 2 + text.len();
        if len > MAX_ACTION_LINE_BYTES {
            return Err(Refused::TooLong { key: k.clone(), len, max: MAX_ACTION_LINE_BYTES });
        }
        if k.eq_ignore_ascii_case("AMIServerID") {
            server = Some(text);
        } else {
            headers.push((k.clone(), text));
        }
    }
    Ok(ClientFrame { headers, server })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_frame_reads_in_order() {
        let f = decode(br#"{"Action":"Park","Channel":"PJSIP/1001-1","AMIServerID":"2","Timeout":60000}"#)
            .unwrap();
        assert_eq!(
            f.headers,
            vec![
                ("Action".into(), "Park".into()),
                ("Channel".into(), "PJSIP/1001-1".into()),
                ("Timeout".into(), "60000".into())
            ]
        );
        assert_eq!(f.server.as_deref(), Some("2"));
    }

    #[test]
    fn repeats_arrays_controls_and_odd_keys_are_refused_by_name() {
        let r = |s: &str| decode(s.as_bytes()).unwrap_err().why.to_string();
        assert_eq!(
            r(r#"{"Action":["Ping","Command"]}"#),
            "header Action must be a string (arrays, objects, null and fractions are refused)"
        );
        assert_eq!(
            r(r#"{"Action":"Ping","action":"Command"}"#),
            "header action is given twice: each header may appear once"
        );
        assert!(r(r#"{"Action":"Ping","X":"a\u0000b"}"#).starts_with("header X holds a control character"));
        assert!(r(r#"{"Action":"Ping","X":"a\u007fb"}"#).starts_with("header X holds a control character"));
        assert!(r(r#"{"Action":"Ping","X":"a\tb"}"#).starts_with("header X holds a control character"));
        assert!(r(r#"{"Action":"Ping","X: y":"1"}"#).starts_with("header name \"X: y\" is not allowed"));
        assert!(r(r#"{"Action":"Ping","X":{"a":1}}"#).starts_with("header X must be a string"));
        assert!(r(r#"["Ping"]"#).starts_with("unreadable action frame"));
        // Found by the fuzz target: a value Asterisk's line limit refuses.
        let long = format!(r#"{{"Action":"Originate","Channel":"Local/{}"}}"#, "5".repeat(1100));
        assert!(r(&long).starts_with("header Channel makes an AMI line of 1115 bytes"), "{}", r(&long));
        let e = decode(br#"{"ActionID":"mine","Action":"Ping","Action":"Command"}"#).unwrap_err();
        assert_eq!(e.action_id.as_deref(), Some("mine"));
    }

    #[test]
    fn a_refusal_is_never_much_bigger_than_a_line() {
        // A 32,000-quote header name: named by its first 64 characters and its length.
        let quotes = format!(r#"{{"Action":"Ping","{}":"1"}}"#, r#"\""#.repeat(32_000));
        let e = decode(quotes.as_bytes()).unwrap_err().why.to_string();
        assert!(
            e.len() < 400 && e.contains("(32000 bytes)"),
            "{} bytes: {}",
            e.len(),
            &e[..200.min(e.len())]
        );
        // An ActionID no AMI line could carry is not echoed.
        let id = "7".repeat(60_000);
        let e = decode(format!(r#"{{"ActionID":"{id}","Action":"Ping","X":["a"]}}"#).as_bytes()).unwrap_err();
        assert_eq!(e.action_id, None);
        let e = decode(br#"{"ActionID":"short","Action":"Ping","X":["a"]}"#).unwrap_err();
        assert_eq!(e.action_id.as_deref(), Some("short"));
    }

    #[test]
    fn a_json_error_counts_from_the_clients_frame() {
        let e = decode(br#"{"Action": x}"#).unwrap_err().why.to_string();
        assert!(e.contains("line 1 column 12"), "{e}");
    }
}
