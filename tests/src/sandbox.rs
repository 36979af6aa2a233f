//! The real Asterisk sandbox (`scripts/asterisk-sandbox`), for tests.
//!
//! Tests that claim Asterisk behaviour call [`require`]. It starts the instance if
//! it is not running. When it cannot start, the test fails loudly, unless
//! `AMI_PARKING_ALLOW_SKIP=1` is set: then it prints a clear skip message and the
//! test returns early.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The first instance's AMI port.
pub const PORT_A: u16 = 5038;
/// The second instance's AMI port.
pub const PORT_B: u16 = 5040;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/asterisk-sandbox")
}

/// Runs the sandbox script for `instance` (`a` or `b`).
pub fn run(instance: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(script())
        .args(["--instance", instance])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("asterisk-sandbox {instance} {args:?} failed: {text}"))
    }
}

/// Makes sure instance `instance` runs. `None` means: skip (only with AMI_PARKING_ALLOW_SKIP=1).
pub fn require(instance: &str) -> Option<()> {
    match run(instance, &["start"]) {
        Ok(_) => Some(()),
        Err(e) => {
            if std::env::var("AMI_PARKING_ALLOW_SKIP").as_deref() == Ok("1") {
                eprintln!(
                    "SKIPPED (AMI_PARKING_ALLOW_SKIP=1): the real Asterisk sandbox could not start: {e}"
                );
                None
            } else {
                panic!(
                    "the real Asterisk sandbox could not start, so this real-Asterisk test cannot run.\n{e}\n\
                     Run `scripts/asterisk-sandbox start` as root, or set AMI_PARKING_ALLOW_SKIP=1 to skip."
                )
            }
        }
    }
}

/// Asterisk CLI command on `instance`.
pub fn cli(instance: &str, command: &str) -> String {
    run(instance, &["cli", command]).unwrap_or_else(|e| panic!("{e}"))
}

/// Asterisk's own truth, read independently of the library: log in with a plain
/// socket, send `ParkedCalls`, collect `(lot, space, unique id)` of every item.
pub fn parked_truth(port: u16) -> Vec<(String, u32, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to Asterisk");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"Action: Login\r\nActionID: t1\r\nUsername: amiuser\r\nSecret: amisecret\r\nEvents: off\r\n\r\nAction: ParkedCalls\r\nActionID: truth\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut out = Vec::new();
    let mut cur: (Option<String>, Option<u32>, Option<String>) = (None, None, None);
    let mut in_item = false;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("Asterisk closed the truth connection");
        }
        let l = line.trim_end();
        if l == "Event: ParkedCallsComplete" {
            break;
        }
        if l == "Event: ParkedCall" {
            in_item = true;
            cur = (None, None, None);
        } else if l.is_empty() && in_item {
            in_item = false;
            if let (Some(lot), Some(space), Some(uid)) = cur.clone() {
                out.push((lot, space, uid));
            }
        } else if let Some(v) = l.strip_prefix("Parkinglot: ") {
            cur.0 = Some(v.into());
        } else if let Some(v) = l.strip_prefix("ParkingSpace: ") {
            cur.1 = v.parse().ok();
        } else if let Some(v) = l.strip_prefix("ParkeeUniqueid: ") {
            cur.2 = Some(v.into());
        }
    }
    let _ = s.write_all(b"Action: Logoff\r\n\r\n");
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    out.sort();
    out
}
