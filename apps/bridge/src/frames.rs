//! amiws frames, written as amiws 2.2 writes them (its spacing, a header Asterisk
//! repeats as repeated JSON keys), but always valid JSON and valid UTF-8: bytes
//! Asterisk sent that are not UTF-8 are replaced (U+FFFD), control characters are
//! escaped.

use ami_parking::amiws::FrameType;
use ami_parking::Message;
use serde_json::Value;

/// Where a frame comes from: a server (its `server_id`, `server_name`, and whether
/// the bridge reaches it over TLS), or the bridge itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// `server_id`: 1, 2, ... for a server; 0 for the bridge's own frames.
    pub id: u32,
    /// `server_name`.
    pub name: String,
    /// `ssl`: the link to that server is TLS.
    pub ssl: bool,
}

/// The `server_name` of the bridge's own frames (`server_id` 0).
pub const BRIDGE_NAME: &str = "ami-ws-bridge";

impl Source {
    /// The bridge itself: `server_id` 0, `server_name` `ami-ws-bridge`.
    pub fn bridge() -> Self {
        Source { id: 0, name: BRIDGE_NAME.into(), ssl: false }
    }
}

/// `{ "type": 3|4, "server_id": N, "server_name": "...", "ssl": false, "data": {...}}`.
pub fn frame(kind: FrameType, from: &Source, data: &Message) -> String {
    let text = |b: &[u8]| Value::from(String::from_utf8_lossy(b).into_owned()).to_string();
    let mut out = format!(
        "{{ \"type\": {}, \"server_id\": {}, \"server_name\": {}, \"ssl\": {}, \"data\": {{",
        kind.code(),
        from.id,
        Value::from(from.name.as_str()),
        from.ssl
    );
    for (i, (k, v)) in data.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&text(k));
        out.push_str(": ");
        out.push_str(&text(v));
    }
    out.push_str("}}");
    out
}

/// The error a client gets for an action the bridge refuses or cannot deliver, shaped
/// like Asterisk's own `Response: Error` (so amiws clients read it as one), from
/// `from`: the server the action named, or the bridge.
pub fn error(from: &Source, action_id: Option<&str>, message: &str) -> String {
    let mut m = Message::new();
    m.push(b"Response", b"Error");
    if let Some(id) = action_id {
        m.push(b"ActionID", id.as_bytes());
    }
    m.push(b"Message", message.as_bytes());
    frame(FrameType::Response, from, &m)
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
        let f = frame(FrameType::Event, &Source { id: 2, name: "pbx-b".into(), ssl: true }, &m);
        let v: Value = serde_json::from_str(&f).expect("valid JSON");
        assert_eq!(
            (v["type"].clone(), v["server_id"].clone(), v["ssl"].clone()),
            (3.into(), 2.into(), true.into())
        );
        assert_eq!(v["data"]["ParkeeCallerIDName"], "Zo\u{fffd} \"the\" \\ one\u{1}");
        // And the core reads it back as the same message, the repeated key twice.
        let back = ami_parking::amiws::decode_frame(f.as_bytes()).unwrap();
        assert_eq!(back.server_id, Some(2));
        assert_eq!(back.data.get_all("Variable").collect::<Vec<_>>(), [&b"A=1"[..], b"B=2"]);
    }

    /// The frame amiws 2.2.1 wrote for a VarSet with a repeated header, fed the same
    /// AMI bytes (`../shared/fixtures/amiws-2.2/repeated-header-varset.jsonl`).
    const AMIWS_VARSET: &str = r#"{ "type": 3, "server_id": 1, "server_name": "fake-pbx", "ssl": false, "data": {"Event": "VarSet","Privilege": "dialplan,all","Channel": "PJSIP/205-00003f7","Variable": "RTPAUDIOQOS","Value": "ssrc=1;themssrc=2;lp=0;rxjitter=0.000100;rxcount=10;txjitter=0.000200;txcount=10;rlp=0;rtt=0.001000","ChanVariable": "A=1","ChanVariable": "B=2"}}"#;

    #[test]
    fn a_repeated_header_goes_out_as_amiws_writes_it() {
        let m = Message::from_pairs([
            ("Event", "VarSet"),
            ("Privilege", "dialplan,all"),
            ("Channel", "PJSIP/205-00003f7"),
            ("Variable", "RTPAUDIOQOS"),
            ("Value", "ssrc=1;themssrc=2;lp=0;rxjitter=0.000100;rxcount=10;txjitter=0.000200;txcount=10;rlp=0;rtt=0.001000"),
            ("ChanVariable", "A=1"),
            ("ChanVariable", "B=2"),
        ]);
        let f = frame(FrameType::Event, &Source { id: 1, name: "fake-pbx".into(), ssl: false }, &m);
        assert_eq!(f, AMIWS_VARSET);
    }
}
