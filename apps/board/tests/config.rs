//! The config file and the safe default, through the binary: each class of mistake
//! (an unknown key, a missing secret file, a bad hash) and a non-loopback address
//! without users end the board with exit code 2 and one line naming the key and the
//! file, before it listens; `hash-password` makes a hash the board accepts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A directory of this test's own, removed when the test ends (also when it fails).
fn dir(name: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("parkboard-config-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

fn parkboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parkboard"))
        .args(args)
        .env_remove("AMI_SECRET")
        .stdin(Stdio::null())
        .output()
        .expect("parkboard runs")
}

/// Exit 2, one line on stderr, and nothing listened.
fn refused(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("the board is on"), "it listened first: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err
}

fn hash_of(password: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parkboard"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn an_unknown_key_is_named_with_its_file() {
    let d = dir("unknown");
    let f = write(&d.join("board.toml"), "listen = \"127.0.0.1:0\"\nlisten_adress = \"x\"\n");
    let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
    assert!(err.contains(f.to_str().unwrap()) && err.contains("listen_adress"), "{err}");
    let f =
        write(&d.join("board2.toml"), "[[user]]\nname = \"a\"\npassword = \"plain\"\nrole = \"viewer\"\n");
    let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
    assert!(err.contains("unknown field `password`"), "{err}");
}

#[test]
fn a_demo_rate_the_demo_cannot_make_is_refused_in_the_file_and_on_the_command_line() {
    let d = dir("rate");
    let f = write(&d.join("board.toml"), "listen = \"127.0.0.1:0\"\ndemo_rate = 0.0\n");
    let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
    assert!(err.contains("demo_rate") && err.contains("1 to 1000000"), "{err}");
    let out = parkboard(&["--demo-rate", "2000000"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--demo-rate") && err.contains("1 to 1000000"), "{err}");
}

/// A bridge token that a header cannot carry (a space, a line break) is refused when
/// the config is read, named by its server, never shown.
#[test]
fn a_bridge_token_a_header_cannot_carry_is_refused_at_start() {
    let d = dir("wstoken");
    let token = write(&d.join("bridge.token"), "half-a-token\r\nX-Injected: yes\n");
    let f = write(
        &d.join("board.toml"),
        &format!("[[server]]\nurl = \"ws://127.0.0.1:8088/\"\nsecret_file = \"{}\"\n", token.display()),
    );
    let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
    assert!(err.contains("server[1]") && err.contains("header cannot carry"), "{err}");
    assert!(!err.contains("half-a-token") && !err.contains("Injected"), "{err}");
}

#[test]
fn a_missing_secret_file_is_named_with_its_server() {
    let d = dir("secret");
    let missing = d.join("pbx1.secret");
    let f = write(
        &d.join("board.toml"),
        &format!(
            "[[server]]\nurl = \"tcp://amiuser@127.0.0.1:5038\"\nsecret_file = \"{}\"\n",
            missing.display()
        ),
    );
    let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
    assert!(
        err.contains("server[1]") && err.contains("secret_file") && err.contains(missing.to_str().unwrap()),
        "{err}"
    );
    // The secret itself never shows, even when the file is read.
    write(&missing, "s3cret-ami-pass\n");
    let f = write(
        &d.join("board2.toml"),
        &format!(
            "[[server]]\nurl = \"tcp://amiuser@127.0.0.1:5038\"\nsecret_file = \"{}\"\n[[server]]\nurl = \"nope://x\"\n",
            missing.display()
        ),
    );
    let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
    assert!(err.contains("server[2]") && !err.contains("s3cret"), "{err}");
}

#[test]
fn a_bad_hash_is_named_with_its_user() {
    let d = dir("hash");
    let f = write(
        &d.join("board.toml"),
        "[[user]]\nname = \"reception\"\npassword_hash = \"hunter2\"\nrole = \"operator\"\nphone = \"PJSIP/1002\"\n",
    );
    let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
    assert!(
        err.contains("user \"reception\".password_hash") && err.contains("parkboard hash-password"),
        "{err}"
    );
    assert!(err.contains(f.to_str().unwrap()), "{err}");
    // An operator without a phone: named too.
    let f = write(
        &d.join("board2.toml"),
        &format!("[[user]]\nname = \"r\"\npassword_hash = \"{}\"\nrole = \"operator\"\n", hash_of("pw")),
    );
    let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
    assert!(err.contains("user \"r\".phone"), "{err}");
}

#[test]
fn off_loopback_without_users_is_refused() {
    for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.10:8080"] {
        let err = refused(&parkboard(&["--listen", listen]));
        assert!(err.contains("without logins") && err.contains("[[user]]"), "{listen}: {err}");
    }
    // With users but every address and no host names: the Host check would refuse
    // everyone, so the start does.
    let d = dir("hosts");
    let f = write(
        &d.join("board.toml"),
        &format!(
            "listen = \"0.0.0.0:0\"\n[[user]]\nname = \"w\"\npassword_hash = \"{}\"\nrole = \"viewer\"\n",
            hash_of("pw")
        ),
    );
    let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
    assert!(err.contains("allowed_hosts"), "{err}");
}

#[test]
fn hash_password_makes_a_hash_the_board_accepts() {
    let phc = hash_of("correct horse battery");
    assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
    let user =
        parkboard::users::User::new("a".into(), &phc, parkboard::users::Role::Viewer, None, None).unwrap();
    let users = parkboard::users::Users::new(vec![user]);
    assert!(users.verify("a", "correct horse battery").is_some());
    assert!(users.verify("a", "correct horse").is_none());
    let empty = Command::new(env!("CARGO_BIN_EXE_parkboard"))
        .arg("hash-password")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(empty.status.code(), Some(2), "no password on stdin");
}

#[test]
fn errors_never_echo_the_files_values() {
    let d = dir("echo");
    for (name, text) in [
        ("secret.toml", "[[server]]\nurl = \"tcp://amiuser@127.0.0.1:5038\"\nsecret = \"S3CRET-E\"\n"),
        ("typed.toml", "demo_rate = \"S3CRET-E\"\n"),
        ("stray.toml", "[[user]]\nname = \"a\"\npassword_hash = \"$argon2id$S3CRET-E\" x\n"),
    ] {
        let f = write(&d.join(name), text);
        let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
        assert!(!err.contains("S3CRET"), "{name}: {err}");
        assert!(err.contains("line "), "{name}: the line is named: {err}");
    }
}

#[test]
fn a_bad_history_database_is_named_without_its_password() {
    let d = dir("history");
    let f = write(&d.join("h.toml"), "history_db = \"mysql://board:S3CRET-H@db/parking\"\n");
    let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
    assert!(!err.contains("S3CRET"), "{err}");
    assert!(err.contains("history_db") && err.contains("sqlite:PATH"), "{err}");
    let f = write(&d.join("days.toml"), "history_days = 0\n");
    let err = refused(&parkboard(&["--config", f.to_str().unwrap()]));
    assert!(err.contains("history_days"), "{err}");
}
