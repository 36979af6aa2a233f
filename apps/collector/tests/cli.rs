//! The collector's command line: what it refuses before it connects anywhere (no
//! NATS and no Asterisk needed).

use std::process::Command;

/// Runs the collector with `args` and returns (success, stderr).
fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ami-parking-collector"))
        .args(args)
        .env_remove("AMI_SECRET")
        .env_remove("NATS_PASSWORD")
        .output()
        .expect("the collector runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_secret_written_in_a_url_on_the_command_line_is_refused_and_not_repeated() {
    let (ok, err) =
        run(&["--ami", "tcp://amiuser:hunter2-ami@127.0.0.1:1", "--nats", "nats://127.0.0.1:1/acme/pbx1"]);
    assert!(!ok);
    assert!(err.contains("--ami:") && err.contains("--ami-secret-file or AMI_SECRET"), "{err}");
    assert!(!err.contains("hunter2-ami"), "the secret is not repeated: {err}");

    let (ok, err) = run(&[
        "--ami",
        "tcp://amiuser@127.0.0.1:1",
        "--nats",
        "nats://board:hunter2-nats@127.0.0.1:1/acme/pbx1",
    ]);
    assert!(!ok);
    assert!(err.contains("--nats:") && err.contains("password_file=PATH or NATS_PASSWORD"), "{err}");
    assert!(!err.contains("hunter2-nats"), "the password is not repeated: {err}");
}

#[test]
fn an_ami_url_that_is_not_raw_ami_and_a_nats_url_that_is_not_nats_are_refused() {
    let (ok, err) = run(&["--ami", "ws://127.0.0.1:1/", "--nats", "nats://127.0.0.1:1/acme/pbx1"]);
    assert!(!ok);
    assert!(err.contains("is not raw AMI"), "{err}");
    let (ok, err) = run(&["--ami", "tcp://amiuser@127.0.0.1:1", "--nats", "ws://127.0.0.1:1/"]);
    assert!(!ok);
    assert!(err.contains("is not a nats:// URL"), "{err}");
}
