//! Arbitrary bytes from a WebSocket server, split at a fuzzer-chosen point: the
//! frame codec never panics, the split changes nothing, and no message exceeds the cap.
#![no_main]

use ami_parking_transport::ws_codec::{WsDecoder, WsIn};
use libfuzzer_sys::fuzz_target;

const CAP: usize = 4096;

fn decode(chunks: &[&[u8]]) -> Vec<Result<WsIn, String>> {
    let mut d = WsDecoder::new(CAP);
    let mut out = Vec::new();
    for c in chunks {
        d.feed(c);
        loop {
            match d.next_frame() {
                Ok(Some(m)) => out.push(Ok(m)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else { return };
    let at = usize::from(cut) * bytes.len() / 256;
    let whole = decode(&[bytes]);
    assert_eq!(whole, decode(&[&bytes[..at], &bytes[at..]]), "a split changes nothing");
    for m in whole.iter().flatten() {
        if let WsIn::Data(d) = m {
            assert!(d.len() <= CAP);
        }
    }
});
