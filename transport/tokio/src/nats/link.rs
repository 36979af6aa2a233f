//! One `nats://` link's task: the store follows a collector's snapshot and numbered
//! events; the handles' requests become NATS requests (park, retrieve, move) or are
//! answered from the store (lists).

use super::protocol::{self, ActionReply, ActionRequest, Kind, Snapshot};
use super::NatsTarget;
use crate::clock::now;
use crate::command::Command;
use crate::options::ClientOptions;
use ami_parking::futures_signals::signal::Mutable;
use ami_parking::{
    ConnectionState, Message, ParkedCall, ParkingError, ParkingStore, Reply, Request, ServerId,
};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A collector heard of at least this often (it beats every second); silence longer
/// than this shows the link as reconnecting and takes a new snapshot.
const SILENCE: Duration = Duration::from_secs(3);
/// How long a snapshot request may take before it is asked again.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the store is in the collector's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    epoch: u64,
    seq: u64,
}

struct Follow {
    server_id: ServerId,
    /// Where applied events (and snapshots, announced) are reported, with
    /// `forward_events`; and the last one's number.
    forward: Option<tokio::sync::broadcast::Sender<crate::messages::Numbered>>,
    reported: u64,
    store: ParkingStore,
    state: Mutable<ConnectionState>,
    at: Option<Position>,
    need_snapshot: bool,
    retry_at: Instant,
    last_heard: Instant,
    attempt: u32,
    endpoint: String,
    /// The collector's last word on its AMI link: `false` while it has lost Asterisk
    /// (its calls are then the last known, and the link is not up).
    live: bool,
    /// The collector was live once on this link.
    was_live: bool,
}

pub(crate) async fn run(
    opts: ClientOptions,
    server_id: ServerId,
    store: ParkingStore,
    mut rx: mpsc::Receiver<Command>,
    state: Mutable<ConnectionState>,
    messages: tokio::sync::broadcast::Sender<crate::messages::Numbered>,
) {
    let endpoint = opts.endpoint.to_string();
    let mut target = match NatsTarget::of(&opts.endpoint) {
        Ok(t) => t,
        Err(e) => return refuse_all(&mut rx, &state, e.to_string()).await,
    };
    // The server's secret (a board's `secret_file`, a program's options) is the NATS
    // password when the URL gives none.
    if target.password.is_none() {
        target.password = opts.secret.clone();
    }
    let nc = match target.connect(opts.tls_ca_file.clone(), "ami-parking frontend").await {
        Ok(nc) => nc,
        Err(e) => return refuse_all(&mut rx, &state, e.to_string()).await,
    };
    let subjects = target.subjects.clone();
    let mut sub = match nc.subscribe(subjects.all_events()).await {
        Ok(s) => s,
        Err(e) => return refuse_all(&mut rx, &state, format!("cannot subscribe on NATS: {e}")).await,
    };
    let mut f = Follow {
        server_id,
        forward: opts.forward_events.then_some(messages),
        reported: 0,
        store,
        state,
        at: None,
        need_snapshot: true,
        retry_at: Instant::now(),
        last_heard: Instant::now(),
        attempt: 0,
        endpoint,
        live: true,
        was_live: false,
    };
    loop {
        if f.need_snapshot && Instant::now() >= f.retry_at {
            f.snapshot(&nc, &subjects).await;
        }
        let wake = if f.need_snapshot { f.retry_at } else { f.last_heard + SILENCE };
        tokio::select! {
            m = sub.next() => match m {
                Some(m) => f.on_message(&m),
                None => match nc.subscribe(subjects.all_events()).await {
                    // The subscription ended (it should not while the client lives).
                    Ok(s) => { sub = s; f.need_snapshot = true; }
                    Err(e) => { f.down(format!("cannot subscribe on NATS: {e}")); tokio::time::sleep(Duration::from_secs(1)).await; }
                },
            },
            cmd = rx.recv() => match cmd {
                None => return f.state.set_neq(ConnectionState::Stopped),
                Some(Command::Shutdown(done)) => {
                    // NATS may be unreachable (or refusing us): a flush that cannot finish
                    // must not hold the shutdown.
                    let _ = tokio::time::timeout(Duration::from_secs(1), nc.flush()).await;
                    f.state.set_neq(ConnectionState::Stopped);
                    let _ = done.send(());
                    return;
                }
                Some(Command::Request(req, _, reply)) => f.submit(&nc, &subjects, &opts, req, reply),
                Some(Command::Calls(server, reply)) => {
                    let _ = reply.send(crate::messages::CallsThrough::of(&f.store, server, f.reported));
                }
            },
            _ = tokio::time::sleep_until(wake) => {
                if !f.need_snapshot {
                    f.down(format!("no word from the collector of {} within {SILENCE:?}", f.endpoint));
                    f.need_snapshot = true;
                }
            }
        }
    }
}

impl Follow {
    fn down(&mut self, why: String) {
        self.attempt += 1;
        self.state.set_neq(ConnectionState::Reconnecting { attempt: self.attempt, last_error: why });
    }

    async fn snapshot(&mut self, nc: &async_nats::Client, subjects: &protocol::Subjects) {
        let asked =
            tokio::time::timeout(SNAPSHOT_TIMEOUT, nc.request(subjects.snapshot(), Vec::new().into())).await;
        let why = match asked {
            Ok(Ok(m)) => match Snapshot::from_json(&m.payload) {
                Ok(s) => {
                    self.need_snapshot = false;
                    self.last_heard = Instant::now();
                    self.attempt = 0;
                    self.apply_snapshot(&s);
                    return;
                }
                Err(e) => e.to_string(),
            },
            Ok(Err(e)) => {
                format!("no snapshot from the collector ({e}); is a collector running for this server?")
            }
            Err(_) => format!("no snapshot from the collector within {SNAPSHOT_TIMEOUT:?}"),
        };
        self.down(why);
        self.retry_at = Instant::now() + Duration::from_millis(500);
    }

    fn apply_snapshot(&mut self, s: &Snapshot) {
        let lots = s.lots.iter().map(|l| l.to_lot(self.server_id)).collect();
        let calls = s.calls.iter().map(|c| c.to_call(self.server_id)).collect();
        self.store.apply_snapshot(now(), self.server_id, Some(lots), calls);
        self.at = Some(Position { epoch: s.epoch, seq: s.seq });
        self.live = s.live;
        self.was_live |= s.live;
        if s.live {
            self.state.set_neq(ConnectionState::LoggedIn);
            self.report(super::snapshot_announcement());
        } else if !self.was_live {
            // The collector has not reached Asterisk yet: still connecting.
            self.state.set_neq(ConnectionState::Connecting);
        } else {
            self.attempt = 1;
            self.state.set_neq(ConnectionState::Reconnecting {
                attempt: 1,
                last_error: format!(
                    "the collector {} of {} is not connected to Asterisk; its calls are the last known",
                    s.collector, self.endpoint
                ),
            });
        }
    }

    /// With `forward_events`: `m` reported on the client's messages, numbered.
    fn report(&mut self, m: Message) {
        if let Some(tx) = &self.forward {
            self.reported += 1;
            let _ = tx.send((self.reported, (self.server_id, std::sync::Arc::new(m))));
        }
    }

    /// One message of the events wildcard: applied when it is the next one, dropped
    /// when already held (or from an older epoch), a new snapshot otherwise.
    fn on_message(&mut self, m: &async_nats::Message) {
        let (epoch, seq, kind) = match protocol::stamp(m.headers.as_ref()) {
            Ok(s) => s,
            Err(e) => return eprintln!("ami-parking: {} ({}): {e}; dropped", m.subject, self.endpoint),
        };
        if self.need_snapshot {
            // The snapshot to come holds it (or is newer).
            return;
        }
        let Some(at) = self.at else { return };
        if epoch < at.epoch {
            return; // a collector that is no longer the active one
        }
        self.last_heard = Instant::now();
        if self.live && self.state.lock_ref().clone() != ConnectionState::LoggedIn {
            self.attempt = 0;
            self.state.set_neq(ConnectionState::LoggedIn);
        }
        if epoch > at.epoch {
            self.need_snapshot = true;
            self.retry_at = Instant::now();
            return;
        }
        match kind {
            Kind::Heartbeat if seq > at.seq => self.need_snapshot = true,
            Kind::Heartbeat => {}
            _ if seq <= at.seq => {} // held already
            _ if seq > at.seq + 1 => self.need_snapshot = true,
            Kind::Event => match protocol::message_of_body(&m.payload) {
                Ok(msg) => {
                    self.store.apply_message(now(), self.server_id, &msg);
                    self.at = Some(Position { epoch, seq });
                    self.report(msg);
                }
                Err(e) => {
                    eprintln!("ami-parking: {} ({}): {e}; taking a new snapshot", m.subject, self.endpoint);
                    self.need_snapshot = true;
                }
            },
            Kind::Resync => match Snapshot::from_json(&m.payload) {
                Ok(s) => self.apply_snapshot(&Snapshot { epoch, seq, ..s }),
                Err(e) => {
                    eprintln!("ami-parking: {} ({}): {e}; taking a new snapshot", m.subject, self.endpoint);
                    self.need_snapshot = true;
                }
            },
        }
        if self.need_snapshot {
            self.retry_at = Instant::now();
        }
    }

    fn submit(
        &mut self,
        nc: &async_nats::Client,
        subjects: &protocol::Subjects,
        opts: &ClientOptions,
        req: Request,
        reply: oneshot::Sender<Result<Reply, ParkingError>>,
    ) {
        let sid = self.server_id;
        let action = req.name();
        let ask = match req {
            Request::ParkingLots => {
                let lots = self.store.parking_lots_now().into_iter().filter(|l| l.server_id == sid).collect();
                let _ = reply.send(Ok(Reply::Lots(lots)));
                return;
            }
            Request::ParkedCalls { lot } => {
                let _ = reply.send(Ok(Reply::Calls(self.calls(lot.as_deref()))));
                return;
            }
            Request::RefreshLot { lot } => {
                self.need_snapshot = true;
                let _ = reply.send(Ok(Reply::Calls(self.calls(Some(&lot)))));
                return;
            }
            Request::Park { channel, park } => ActionRequest::Park {
                channel,
                lot: park.lot,
                space: park.space,
                timeout_ms: protocol::timeout_ms(&park.timeout),
            },
            Request::Retrieve { space, to_channel, lot } => {
                ActionRequest::Retrieve { lot, space, to_channel }
            }
            Request::Move { space, lot, to } => ActionRequest::Move {
                lot,
                space,
                to_lot: to.lot,
                to_space: to.space,
                timeout_ms: protocol::timeout_ms(&to.timeout),
            },
            Request::Forward(action) => return self.forward_action(nc, subjects, opts, &action, reply),
            other => {
                let _ = reply.send(Err(ParkingError::InvalidArgument(format!(
                    "{} cannot go over nats://: a collector takes park, retrieve and move (lists come from the store)",
                    other.name()
                ))));
                return;
            }
        };
        let nc = nc.clone();
        let subject = subjects.action();
        // A retrieve rings a phone first: the collector waits for it as long, and so
        // does this link (it must not report a retrieve still ringing as failed).
        let deadline = match ask {
            ActionRequest::Retrieve { .. } => {
                opts.request_timeout + self.store.options().retrieve_ring_timeout
            }
            _ => opts.request_timeout,
        };
        let is_move = matches!(ask, ActionRequest::Move { .. });
        tokio::spawn(async move {
            let asked = tokio::time::timeout(deadline, nc.request(subject, ask.to_json().into())).await;
            let answer = match asked {
                Err(_) => Err(ParkingError::Timeout { action, after: deadline }),
                Ok(Err(_)) => Err(ParkingError::NotLoggedIn { action }),
                Ok(Ok(m)) => match ActionReply::from_json(&m.payload) {
                    Err(e) => Err(ParkingError::UnexpectedReply { reply: e.to_string() }),
                    Ok(ActionReply::Error { action, message }) => {
                        Err(ParkingError::Asterisk { action, message, server_id: sid })
                    }
                    Ok(ActionReply::Parked { lot, space, call }) => {
                        let call = Box::new(call.map(|c| c.to_call(sid)).unwrap_or_else(ParkedCall::default));
                        Ok(if is_move {
                            Reply::Moved { server_id: sid, lot, space, call }
                        } else {
                            Reply::Parked { server_id: sid, lot, space, call }
                        })
                    }
                    Ok(ActionReply::Retrieved { lot, space, retriever }) => Ok(Reply::Retrieved {
                        server_id: sid,
                        lot,
                        space,
                        retriever: retriever.to_retriever(),
                    }),
                },
            };
            let _ = reply.send(answer);
        });
    }

    /// An AMI action of the parking set, answered in AMI form (see `forward`).
    fn forward_action(
        &mut self,
        nc: &async_nats::Client,
        subjects: &protocol::Subjects,
        opts: &ClientOptions,
        action: &ami_parking::Action,
        reply: oneshot::Sender<Result<Reply, ParkingError>>,
    ) {
        let (asked, typed) = match super::forward::typed(action) {
            Ok(t) => t,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let (tx, rx) = oneshot::channel();
        match typed {
            Some(req) => self.submit(nc, subjects, opts, req, tx),
            None => drop(tx.send(Ok(Reply::Response(Message::new())))),
        }
        let name = action.name().to_owned();
        tokio::spawn(async move {
            let result = rx.await.unwrap_or(Err(ParkingError::NotLoggedIn { action: name }));
            let _ = reply.send(super::forward::answer(&asked, result, now()).map(Reply::Forwarded));
        });
    }

    fn calls(&self, lot: Option<&str>) -> Vec<std::sync::Arc<ParkedCall>> {
        self.store
            .parked_calls_now()
            .into_iter()
            .filter(|c| c.server_id == self.server_id && lot.is_none_or(|l| &*c.parking_lot == l))
            .collect()
    }
}

/// The link cannot work at all (a bad URL, an unreadable password file): every
/// request is refused with why, until the client stops.
async fn refuse_all(rx: &mut mpsc::Receiver<Command>, state: &Mutable<ConnectionState>, why: String) {
    eprintln!("ami-parking: {why}");
    state.set_neq(ConnectionState::Reconnecting { attempt: 1, last_error: why.clone() });
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Command::Shutdown(done) => {
                let _ = done.send(());
                break;
            }
            // Dropped unanswered: the caller hears that the link is gone.
            Command::Calls(..) => {}
            Command::Request(req, _, reply) => {
                let _ = reply
                    .send(Err(ParkingError::InvalidArgument(format!("{} was not sent: {why}", req.name()))));
            }
        }
    }
    state.set_neq(ConnectionState::Stopped);
}
