//! A test AMI server over TCP that records every byte it receives, answers each
//! action with a function of the test's choice ([`standard_answer`] unless told
//! otherwise), and writes whatever a test pushes (events). No Asterisk behaviour is
//! claimed (that is the sandbox's job): it is there to see what reaches "Asterisk"
//! from a program (the bridge, `parkwatch`), and how the program takes odd answers.
//!
//! It serves one connection at a time: a connection holds the queue of pushed
//! messages while it lives, and the next one gets its banner when it closes (a program
//! that reconnects is served; two links at once are not).

use ami_parking::ami_codec::{Decoded, Decoder};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Mutex};

/// The running server (stops when dropped).
pub struct TestAmi {
    /// Its port on 127.0.0.1.
    pub port: u16,
    received: watch::Receiver<Vec<u8>>,
    push: mpsc::UnboundedSender<String>,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestAmi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How the server answers one action: the text written back (whole messages, each
/// ending with its blank line).
pub type Answer = fn(&ami_parking::Message) -> String;

/// The standard answers: the MD5 challenge and any login accepted, `Ping`, `Logoff`,
/// the parking lists (lots `default` and `vip`, a call in each), an async `Originate`
/// with its `OriginateResponse`, and `Response: Success` to anything else.
pub fn standard_answer(a: &ami_parking::Message) -> String {
    let id = a.get_str("ActionID").unwrap_or_default().into_owned();
    let name = a.get_str("Action").unwrap_or_default().to_ascii_lowercase();
    match name.as_str() {
        "challenge" => format!("Response: Success\r\nActionID: {id}\r\nChallenge: 123456789\r\n\r\n"),
        "login" => format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"),
        "ping" => format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\nTimestamp: 1.0\r\n\r\n"),
        "logoff" => format!("Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n"),
        "parkedcalls" => {
            let item = |lot: &str, space: u32| {
                format!(
                    "Event: ParkedCall\r\nActionID: {id}\r\nParkeeChannel: PJSIP/10{space}-1\r\nParkeeUniqueid: {space}.1\r\nParkinglot: {lot}\r\nParkingSpace: {space}\r\nParkingTimeout: 40\r\nParkingDuration: 5\r\n\r\n"
                )
            };
            format!(
                "Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Parked calls will follow\r\n\r\n{}{}Event: ParkedCallsComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 2\r\nTotal: 2\r\n\r\n",
                item("default", 701),
                item("vip", 801)
            )
        }
        "parkinglots" => {
            let item = |lot: &str, start: u32| {
                format!("Event: Parkinglot\r\nActionID: {id}\r\nName: {lot}\r\nStartSpace: {start}\r\nStopSpace: {}\r\nTimeout: 45\r\n\r\n", start + 20)
            };
            format!(
                "Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Parking lots will follow\r\n\r\n{}{}Event: ParkinglotsComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 2\r\n\r\n",
                item("default", 701),
                item("vip", 801)
            )
        }
        "originate" => format!(
            "Response: Success\r\nActionID: {id}\r\nMessage: Originate successfully queued\r\n\r\nEvent: OriginateResponse\r\nActionID: {id}\r\nResponse: Success\r\nChannel: {}\r\nReason: 4\r\n\r\n",
            a.get_str("Channel").unwrap_or_default()
        ),
        _ => format!("Response: Success\r\nActionID: {id}\r\nMessage: done\r\n\r\n"),
    }
}

impl TestAmi {
    /// Starts it on a free loopback port, with the [`standard_answer`]s.
    pub async fn start() -> TestAmi {
        Self::start_with(standard_answer).await
    }

    /// Starts it on a free loopback port, answering each action with `answer`.
    pub async fn start_with(answer: Answer) -> TestAmi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (rec_tx, received) = watch::channel(Vec::new());
        let (push, push_rx) = mpsc::unbounded_channel::<String>();
        let push_rx = Arc::new(Mutex::new(push_rx));
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (rec_tx, push_rx) = (rec_tx.clone(), push_rx.clone());
                tokio::spawn(async move {
                    let mut pushed = push_rx.lock().await;
                    if s.write_all(b"Asterisk Call Manager/9.0.0\r\n").await.is_err() {
                        return;
                    }
                    let mut decoder = Decoder::new().without_banner();
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        tokio::select! {
                            n = s.read(&mut buf) => {
                                let n = match n { Ok(0) | Err(_) => return, Ok(n) => n };
                                rec_tx.send_modify(|r| r.extend_from_slice(&buf[..n]));
                                let mut out = String::new();
                                let _ = decoder.decode(&buf[..n], |d| {
                                    if let Decoded::Message(m) = d {
                                        out.push_str(&answer(&m.to_message()));
                                    }
                                });
                                if s.write_all(out.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                            p = pushed.recv() => match p {
                                Some(p) => if s.write_all(p.as_bytes()).await.is_err() { return },
                                None => return,
                            }
                        }
                    }
                });
            }
        });
        TestAmi { port, received, push, connections, task }
    }

    /// The URL to log in with, without a secret (the bridge takes it from `AMI_SECRET`).
    pub fn url(&self) -> String {
        format!("tcp://amiuser@127.0.0.1:{}", self.port)
    }

    /// Every byte received so far, as text.
    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.borrow()).into_owned()
    }

    /// How many connections it accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Waits until `text` was received; panics after 10 s showing what was.
    pub async fn wait_received(&self, text: &str) {
        let mut rx = self.received.clone();
        let found = rx.wait_for(|b| b.windows(text.len()).any(|w| w == text.as_bytes()));
        if tokio::time::timeout(Duration::from_secs(10), found).await.map(|r| r.is_ok()) != Ok(true) {
            panic!("{text:?} never reached the AMI server; it received:\n{}", self.received());
        }
    }

    /// Writes `message` (AMI lines, `\r\n`-separated, the blank line added) to the
    /// program's link.
    pub fn push(&self, message: &str) {
        self.push.send(format!("{}\r\n\r\n", message.trim_end().replace('\n', "\r\n"))).unwrap();
    }
}
