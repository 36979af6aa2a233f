//! Arbitrary bytes as an amiws frame: decoded leniently or refused with an error,
//! never a panic; a connection fed the frame survives it.
#![no_main]

use ami_parking::{Connection, ConnectionConfig, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ami_parking::amiws::decode_frame(data);
    let t = Timestamp::from_unix_millis(1);
    let mut conn = Connection::new(ConnectionConfig::amiws(), t);
    conn.handle_connected(t);
    let _ = conn.handle_frame(t, data);
    while conn.poll_output().is_some() {}
});
