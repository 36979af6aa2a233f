//! Item 10 of issue 26: `--web-root DIR` serves DIR's files to plain requests, with
//! the board's security headers, never a file outside DIR; a WebSocket upgrade on
//! the same port still reaches the bridge. No Asterisk needed.

mod common;

use ami_parking_tests::ami_server::TestAmi;
use common::binary::{start, OPERATOR};
use common::{ask, ws_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: &str, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr.trim_start_matches("ws://")).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", addr.trim_start_matches("ws://")).as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out)).await.unwrap().unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn the_web_root_serves_its_files_and_the_socket_on_one_port() {
    let dir = std::env::temp_dir().join(format!("ami-ws-bridge-web-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>board</title>").unwrap();
    std::fs::write(dir.join("pkg/app_bg.wasm"), b"\0asm").unwrap();
    let ami = TestAmi::start().await;
    let url = format!("tcp://amiuser:test-only-secret@127.0.0.1:{}", ami.port);
    let b = start(&url, OPERATOR, &["--web-root", dir.to_str().unwrap()]).await;
    let index = get(&b.addr, "/").await;
    assert!(index.starts_with("HTTP/1.1 200 OK\r\n"), "{index}");
    assert!(index.contains("Content-Security-Policy: default-src 'none'"), "{index}");
    assert!(
        index.contains("X-Content-Type-Options: nosniff") && index.ends_with("<title>board</title>"),
        "{index}"
    );
    let wasm = get(&b.addr, "/pkg/app_bg.wasm").await;
    assert!(wasm.contains("Content-Type: application/wasm"), "{wasm}");
    // Not a regular file: a FIFO (opening it would wait for a writer: found by the
    // review, it hung the request and the bridge's shutdown) and a directory.
    let fifo = std::process::Command::new("mkfifo").arg(dir.join("pipe.html")).status().unwrap();
    assert!(fifo.success());
    for outside in [
        "/../../../../etc/passwd",
        "/pkg/%2e%2e/%2e%2e/%2e%2e/etc/hostname",
        "/.hidden",
        "/missing",
        "/pipe.html",
        "/pkg",
    ] {
        assert!(get(&b.addr, outside).await.starts_with("HTTP/1.1 404"), "{outside}");
    }
    let mut c = ws_with(&b.addr, OPERATOR).await;
    let pong = ask(&mut c, r#"{"Action":"Ping","ActionID":"p"}"#, "p").await;
    assert_eq!(pong["data"]["Response"], "Success");
    let _ = std::fs::remove_dir_all(dir);
}
