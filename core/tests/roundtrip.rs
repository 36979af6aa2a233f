//! Property: any action the encoder accepts decodes back to the same headers, over
//! raw AMI (any chunking) and over amiws.

use ami_parking::ami_codec::{encode_message, Decoded, Decoder};
use ami_parking::{amiws, Message};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_.()/-]{0,20}"
}

fn value() -> impl Strategy<Value = String> {
    // Any text without CR/LF, UTF-8 included (values are bytes on the wire).
    "[^\r\n]{0,60}"
}

fn printable() -> impl Strategy<Value = String> {
    // amiws cannot carry control characters: the encoder refuses them.
    "[^\x00-\x1f\x7f]{0,60}"
}

fn message() -> impl Strategy<Value = Message> {
    message_of(value().boxed())
}

fn message_of(values: BoxedStrategy<String>) -> impl Strategy<Value = Message> {
    prop::collection::vec((key(), values), 1..30).prop_map(|pairs| {
        let mut m = Message::new();
        m.push(b"Action", b"Test");
        for (k, v) in pairs {
            m.push(k.as_bytes(), v.as_bytes());
        }
        m
    })
}

fn normalise(m: &Message) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ami_encode_then_decode_round_trips(msgs in prop::collection::vec(message(), 1..5), cut in 0usize..4000) {
        let mut bytes = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
        for m in &msgs {
            encode_message(m, &mut bytes).unwrap();
        }
        let cut = cut.min(bytes.len());
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for chunk in [&bytes[..cut], &bytes[cut..]] {
            d.decode(chunk, |i| if let Decoded::Message(m) = i { got.push(m.to_message()) }).unwrap();
        }
        // A value's leading space is one of the separator's: the encoder writes `Key: Value`
        // and the decoder strips exactly one space, so values keep their own spaces.
        prop_assert_eq!(got.iter().map(normalise).collect::<Vec<_>>(), msgs.iter().map(normalise).collect::<Vec<_>>());
    }

    #[test]
    fn amiws_encode_then_decode_round_trips(m in message_of(printable().boxed())) {
        let mut out = Vec::new();
        amiws::encode_message(&m, Some(3), &mut out).unwrap();
        // What the client sends is a flat object; read it back as amiws `data`.
        let mut frame = b"{\"type\": 3, \"server_id\": 3, \"data\": ".to_vec();
        frame.extend_from_slice(&out);
        frame.push(b'}');
        let f = amiws::decode_frame(&frame).unwrap();
        let mut expected = normalise(&m);
        // Repeated keys are grouped as arrays (order within a key kept).
        let mut grouped: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut seen: Vec<Vec<u8>> = Vec::new();
        for (k, _) in &expected {
            if !seen.contains(k) {
                seen.push(k.clone());
                grouped.extend(expected.iter().filter(|(kk, _)| kk == k).cloned());
            }
        }
        grouped.push((b"AMIServerID".to_vec(), b"3".to_vec()));
        expected = grouped;
        prop_assert_eq!(normalise(&f.data), expected);
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000), cut in 0usize..2000) {
        let cut = cut.min(bytes.len());
        let mut d = Decoder::with_max_message_bytes(512);
        let _ = d.decode(&bytes[..cut], |_| {});
        let _ = d.decode(&bytes[cut..], |_| {});
        let _ = amiws::decode_frame(&bytes);
    }
}
