//! amiws frames, written so that every frame is valid JSON and valid UTF-8: bytes
//! Asterisk sent that are not UTF-8 are replaced (U+FFFD), a key Asterisk repeats
//! becomes an array (as amiws's own readers expect), control characters are escaped.

use ami_parking::amiws::FrameType;
use ami_parking::Message;
use serde_json::Value;

/// `{"type": 3|4, "server_id": N, "server_name": "...", "ssl": false, "data": {...}}`.
pub fn frame(kind: FrameType, server_id: u32, server_name: &str, data: &Message) -> String {
    let code = kind.code();
    let mut out = format!(
        "{{\"type\": {code}, \"server_id\": {server_id}, \"server_name\": {}, \"ssl\": false, \"data\": {{",
        Value::from(server_name)
    );
    let pairs: Vec<(&[u8], &[u8])> = data.iter().collect();
    let mut first = true;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(pk, _)| pk == k) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        let text = |b: &[u8]| Value::from(String::from_utf8_lossy(b).into_owned()).to_string();
        out.push_str(&text(k));
        out.push_str(": ");
        let values: Vec<&[u8]> = pairs[i..].iter().filter(|(pk, _)| pk == k).map(|(_, v)| *v).collect();
        if values.len() == 1 {
            out.push_str(&text(values[0]));
        } else {
            out.push('[');
            out.push_str(&values.iter().map(|v| text(v)).collect::<Vec<_>>().join(","));
            out.push(']');
        }
    }
    out.push_str("}}");
    out
}

/// The error a client gets for an action the bridge refuses or cannot deliver, shaped
/// like Asterisk's own `Response: Error` (so amiws clients read it as one).
pub fn error(server_id: u32, action_id: Option<&str>, message: &str) -> String {
    let mut m = Message::new();
    m.push(b"Response", b"Error");
    if let Some(id) = action_id {
        m.push(b"ActionID", id.as_bytes());
    }
    m.push(b"Message", message.as_bytes());
    frame(FrameType::Response, server_id, "ami-ws-bridge", &m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_valid_json_and_utf8_whatever_asterisk_sent() {
        let mut m = Message::new();
        m.push(b"Event", b"ParkedCall");
        m.push(b"ParkeeCallerIDName", b"Zo\xeb \"the\" \\ one\x01");
        m.push(b"Variable", b"A=1");
        m.push(b"Variable", b"B=2");
        let f = frame(FrameType::Event, 2, "pbx-b", &m);
        let v: Value = serde_json::from_str(&f).expect("valid JSON");
        assert_eq!(v["type"], 3);
        assert_eq!(v["server_id"], 2);
        assert_eq!(v["data"]["ParkeeCallerIDName"], "Zo\u{fffd} \"the\" \\ one\u{1}");
        assert_eq!(v["data"]["Variable"], serde_json::json!(["A=1", "B=2"]));
        // And the core reads it back as the same message.
        let back = ami_parking::amiws::decode_frame(f.as_bytes()).unwrap();
        assert_eq!(back.server_id, Some(2));
        assert_eq!(back.data.get_all("Variable").count(), 2);
    }
}
