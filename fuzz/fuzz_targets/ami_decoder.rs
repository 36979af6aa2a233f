//! Raw AMI bytes, split at a fuzzer-chosen point, through the decoder and a logged-in
//! connection: no panic, and the split never changes the messages.
#![no_main]

use ami_parking::ami_codec::{Decoded, Decoder};
use ami_parking::{Connection, ConnectionConfig, Timestamp};
use libfuzzer_sys::fuzz_target;

fn decode(chunks: &[&[u8]]) -> Result<Vec<Vec<(Vec<u8>, Vec<u8>)>>, ()> {
    let mut d = Decoder::with_max_message_bytes(4096);
    let mut out = Vec::new();
    for c in chunks {
        d.decode(c, |i| {
            if let Decoded::Message(m) = i {
                out.push(m.headers().map(|(k, v)| (k.to_vec(), v.to_vec())).collect());
            }
        })
        .map_err(|_| ())?;
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let split = data[0] as usize % data.len().max(1);
    let body = &data[1..];
    let split = split.min(body.len());
    let whole = decode(&[body]);
    let parts = decode(&[&body[..split], &body[split..]]);
    if let (Ok(a), Ok(b)) = (&whole, &parts) {
        assert_eq!(a, b);
    }
    let t = Timestamp::from_unix_millis(1);
    let mut conn = Connection::new(ConnectionConfig::ami("u", "s"), t);
    conn.handle_connected(t);
    let _ = conn.handle_input(t, b"Asterisk Call Manager/11.0.0\r\n");
    let _ = conn.handle_input(t, body);
    while conn.poll_output().is_some() {}
    let _ = conn.handle_timeout(Timestamp::from_unix_millis(u64::MAX / 2));
});
