//! [`RecordingAmi`]: the demo PBX behind a loopback proxy that records every byte an
//! app sends it, so a test sees what the app said (its Login, its Logoff) without a
//! real Asterisk.

use ami_parking::ami_codec::{Decoded, Decoder};
use ami_parking_transport::demo::DemoPbx;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

/// The demo PBX behind a recording proxy that, like Asterisk, answers a `Logoff`
/// with `Response: Goodbye` and closes the connection (unless started with
/// [`start_ignoring_logoff`](Self::start_ignoring_logoff)). Stops when dropped.
pub struct RecordingAmi {
    addr: std::net::SocketAddr,
    sent: watch::Receiver<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
    _pbx: DemoPbx,
}

impl Drop for RecordingAmi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RecordingAmi {
    /// Starts a quiet demo PBX (about one change a minute) and the proxy in front of
    /// it on a free loopback port.
    pub async fn start() -> RecordingAmi {
        Self::start_with(true).await
    }

    /// Like [`start`](Self::start), but a `Logoff` gets no answer and the connection
    /// stays open: a server that does not let go.
    pub async fn start_ignoring_logoff() -> RecordingAmi {
        Self::start_with(false).await
    }

    async fn start_with(goodbye: bool) -> RecordingAmi {
        let pbx = DemoPbx::start(1.0).await.expect("the demo PBX starts");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let (tx, sent) = watch::channel(Vec::new());
        let upstream = pbx.addr();
        let task = tokio::spawn(async move {
            while let Ok((app, _)) = listener.accept().await {
                let Ok(pbx) = TcpStream::connect(upstream).await else { return };
                tokio::spawn(proxy(app, pbx, tx.clone(), goodbye));
            }
        });
        RecordingAmi { addr, sent, task, _pbx: pbx }
    }

    /// The AMI URL apps connect to (the demo's test-only credentials, on loopback).
    pub fn url(&self) -> String {
        format!("tcp://amiuser:amisecret@{}", self.addr)
    }

    /// Every byte the apps sent so far, in order.
    pub fn sent(&self) -> Vec<u8> {
        self.sent.borrow().clone()
    }

    /// Waits until the apps have sent `text` (e.g. `"Action: Logoff"`); panics after
    /// `within` showing what they did send.
    pub async fn wait_sent(&self, text: &str, within: Duration) {
        let mut rx = self.sent.clone();
        let found = rx.wait_for(|b| b.windows(text.len()).any(|w| w == text.as_bytes()));
        if tokio::time::timeout(within, found).await.map(|r| r.is_ok()) != Ok(true) {
            let sent = String::from_utf8_lossy(&self.sent()).into_owned();
            // What was sent, the login's secret left out.
            let shown: Vec<&str> = sent
                .split("\r\n")
                .map(|l| if l.starts_with("Secret:") { "Secret: (hidden)" } else { l })
                .collect();
            panic!("{text:?} not sent within {within:?}; sent: {}", shown.join("\r\n"));
        }
    }
}

/// Forwards both ways until either side closes, recording what the app sends; with
/// `goodbye`, a Logoff is answered as Asterisk answers it, and the link closed.
async fn proxy(mut app: TcpStream, mut pbx: TcpStream, record: watch::Sender<Vec<u8>>, goodbye: bool) {
    {
        let (mut app_r, mut app_w) = app.split();
        let (mut pbx_r, mut pbx_w) = pbx.split();
        let (bye_tx, mut bye_rx) = oneshot::channel::<Vec<u8>>();
        let up = async {
            let mut bye_tx = Some(bye_tx);
            let mut decoder = Decoder::new().without_banner();
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = app_r.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                record.send_modify(|b| b.extend_from_slice(&buf[..n]));
                let mut logoff = None;
                let _ = decoder.decode(&buf[..n], |d| {
                    if let Decoded::Message(m) = d {
                        let m = m.to_message();
                        if m.is("Action", "Logoff") {
                            logoff = Some(m.get_str("ActionID").map(|a| a.into_owned()));
                        }
                    }
                });
                if pbx_w.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                let Some(id) = logoff.filter(|_| goodbye) else { continue };
                if let Some(tx) = bye_tx.take() {
                    let id = id.map(|id| format!("ActionID: {id}\r\n")).unwrap_or_default();
                    let bye = format!("Response: Goodbye\r\n{id}Message: Thanks for all the fish.\r\n\r\n");
                    let _ = tx.send(bye.into_bytes());
                }
            }
        };
        let down = async {
            let mut buf = vec![0u8; 16 * 1024];
            // The Goodbye goes between two messages, never into one.
            let mut between = false;
            loop {
                tokio::select! {
                    n = pbx_r.read(&mut buf) => match n {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if app_w.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            between = buf[..n].ends_with(b"\r\n\r\n");
                        }
                    },
                    bye = &mut bye_rx, if between => {
                        if let Ok(bye) = bye {
                            let _ = app_w.write_all(&bye).await;
                        }
                        break;
                    }
                }
            }
        };
        tokio::select! {
            _ = up => {}
            _ = down => {}
        }
    }
    let _ = app.shutdown().await;
}
