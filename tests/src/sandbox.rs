//! The real Asterisk sandbox (`scripts/asterisk-sandbox`), for tests.
//!
//! Tests that claim Asterisk behaviour call [`require`]. It starts the instance if
//! it is not running. When it cannot start, the test fails loudly, unless
//! `AMI_PARKING_ALLOW_SKIP=1` is set: then it prints a clear skip message, records
//! the skip in the test ledger ([`crate::skips`]) and the test returns early.

use crate::skips::{self, Needs};
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
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("asterisk-sandbox {instance} {args:?} failed: {text}"))
    }
}

/// Makes sure instance `instance` runs. `None` means: skip (only with
/// AMI_PARKING_ALLOW_SKIP=1; recorded in the test ledger, see [`crate::skips`]).
pub fn require(instance: &str) -> Option<()> {
    match run(instance, &["start"]) {
        Ok(_) => {
            skips::ran(Needs::Asterisk);
            Some(())
        }
        Err(e) => skips::skip(
            Needs::Asterisk,
            &format!(
                "the real Asterisk sandbox could not start, so this real-Asterisk test cannot run.\n{e}\n\
                 Run `scripts/asterisk-sandbox start` as root (once it runs, no root is needed)."
            ),
        ),
    }
}

/// Asterisk CLI command on `instance`.
pub fn cli(instance: &str, command: &str) -> String {
    run(instance, &["cli", command]).unwrap_or_else(|e| panic!("{e}"))
}

/// What a test that lost its link to `instance` prints: whether Asterisk still runs
/// and under which pid (`before`: its `status` when the test began), and the last
/// lines of its log (a crash or a restart shows there).
pub fn diagnosis(instance: &str, before: &str) -> String {
    let now = run(instance, &["status"]).unwrap_or_else(|e| e);
    let log = format!("/tmp/ami-parking-asterisk-{instance}.log");
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| format!("cannot read {log}: {e}"));
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    format!(
        "asterisk-sandbox {instance}: when the test began: {}; now: {}\nlast lines of {log}:\n{tail}",
        before.trim(),
        now.trim()
    )
}

/// Asterisk's own truth, read independently of the library: log in with a plain
/// socket, send `ParkedCalls`, collect `(lot, space, unique id)` of every item.
pub fn parked_truth(port: u16) -> Vec<(String, u32, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to Asterisk");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"Action: Login\r\nActionID: t1\r\nUsername: admin\r\nSecret: adminsecret\r\nEvents: off\r\n\r\nAction: ParkedCalls\r\nActionID: truth\r\n\r\n")
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

/// The channels Asterisk has now (`core show channels concise`, first field).
pub fn channels(instance: &str) -> Vec<String> {
    cli(instance, "core show channels concise")
        .lines()
        .filter_map(|l| l.split('!').next())
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Sends one action over a fresh plain socket and returns the raw reply text (up to
/// the first empty line after the login's answer).
pub fn send_action(port: u16, action: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to Asterisk");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = format!(
        "Action: Login\r\nActionID: l\r\nUsername: admin\r\nSecret: adminsecret\r\nEvents: off\r\n\r\n{}ActionID: x\r\n\r\nAction: Logoff\r\n\r\n",
        action.replace("\r\n", "\n").replace('\n', "\r\n")
    );
    s.write_all(body.as_bytes()).unwrap();
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    all
}

/// Sends several actions in one write over a fresh plain socket (so Asterisk starts
/// them together) and returns the raw reply text.
pub fn send_actions(port: u16, actions: &[String]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to Asterisk");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut body = String::from(
        "Action: Login\r\nActionID: l\r\nUsername: admin\r\nSecret: adminsecret\r\nEvents: off\r\n\r\n",
    );
    s.write_all(body.as_bytes()).unwrap();
    body.clear();
    for (i, a) in actions.iter().enumerate() {
        body += &format!("{}ActionID: x{i}\r\n\r\n", a.replace("\r\n", "\n").replace('\n', "\r\n"));
    }
    body += "Action: Logoff\r\n\r\n";
    s.write_all(body.as_bytes()).unwrap();
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    all
}

/// Parks a call from `caller` in `lot` through the dialplan.
pub fn park_dialplan(port: u16, caller: &str, lot: &str) {
    originate(port, "Local/s@hold", "caller", &[&format!("CALLERNUM={caller}"), &format!("LOT={lot}")]);
}

/// Parks a call from `caller` in the dynamic lot `lot`, which Asterisk makes at the
/// `Park` when it has none of that name (the sandbox's `dynpark` context: spaces
/// 901-905). Asterisk keeps the lot until it restarts: a test that makes one ends
/// with a restart ([`RestartOnDrop`]).
pub fn park_dynamic(port: u16, caller: &str, lot: &str) {
    originate(port, "Local/s@hold", "dynpark", &[&format!("CALLERNUM={caller}"), &format!("LOT={lot}")]);
}

/// Originates `channel` into extension `s` of `context`, with channel variables
/// `vars` (`NAME=value`), asynchronously (through the admin's AMI session).
pub fn originate(port: u16, channel: &str, context: &str, vars: &[&str]) {
    let vars: String = vars.iter().map(|v| format!("Variable: {v}\n")).collect();
    let r = send_action(
        port,
        &format!("Action: Originate\nChannel: {channel}\nContext: {context}\nExten: s\nPriority: 1\n{vars}Async: true\n"),
    );
    assert!(r.contains("Originate successfully queued"), "{r}");
}

/// Restarts a sandbox instance when dropped: held by a test that changes what
/// Asterisk keeps until a restart (a dynamic lot), so that a failure before the
/// test's own restart leaves the next tests a PBX as configured. `std::mem::forget`
/// it once the test restarted the instance itself.
pub struct RestartOnDrop(pub &'static str);

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        if let Err(e) = run(self.0, &["restart"]) {
            eprintln!("{e}");
        }
    }
}

/// Waits (with a deadline) until Asterisk's truth satisfies `pred`.
pub fn wait_truth(port: u16, pred: impl Fn(&[(String, u32, String)]) -> bool) -> Vec<(String, u32, String)> {
    let start = std::time::Instant::now();
    loop {
        let t = parked_truth(port);
        if pred(&t) {
            return t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "Asterisk did not reach the expected state: {t:?}"
        );
        // Each look logs in to Asterisk: pause between them.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The channels of `Status` (as the sandbox's admin lists them): (channel, bridge id;
/// empty when it is in no bridge).
pub fn status(port: u16) -> Vec<(String, String)> {
    let text = send_action(port, "Action: Status\n");
    text.split("\r\n\r\n")
        .filter(|block| block.contains("Event: Status\r\n"))
        .map(|block| {
            let field = |k: &str| {
                block.lines().find_map(|l| l.strip_prefix(k)).map(str::trim).unwrap_or("").to_owned()
            };
            (field("Channel: "), field("BridgeID: "))
        })
        .collect()
}

/// Waits (with a deadline) until `status` satisfies `pred`; what it listed then.
pub fn wait_status(
    port: u16,
    what: &str,
    pred: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let start = std::time::Instant::now();
    loop {
        let now = status(port);
        if pred(&now) {
            return now;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{what}: not reached within 10 s: {now:?}");
        // Each look logs in to Asterisk: pause between them.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A caller `number` (`name`) on the line with the desk phone `Local/<desk>@desk`
/// (the sandbox's `callerline` and `desk` contexts), bridged; the caller's channel.
pub fn call_desk(port: u16, number: &str, name: &str, desk: &str) -> String {
    let before: Vec<String> = status(port).into_iter().map(|s| s.0).collect();
    let r = send_action(
        port,
        &format!("Action: Originate\nChannel: Local/{number}@callerline\nCallerID: \"{name}\" <{number}>\nApplication: Dial\nData: Local/{desk}@desk\nAsync: true\n"),
    );
    assert!(r.contains("Originate successfully queued"), "{r}");
    let prefix = format!("Local/{number}@callerline-");
    let is_new_caller = |(ch, b): &(String, String)| {
        ch.starts_with(&prefix) && ch.ends_with(";1") && !b.is_empty() && !before.contains(ch)
    };
    let listed = wait_status(port, "the caller bridged with the desk", |l| l.iter().any(is_new_caller));
    listed.into_iter().find(is_new_caller).map(|(ch, _)| ch).expect("the caller's channel")
}
