//! A reference model of Asterisk 22's res_parking, sans-IO (feature `sim`).
//!
//! [`SimPbx`] holds one or more simulated servers with lots, parked calls and
//! timeouts in simulated time. PBX operations (park, retrieve, give up, swap, time
//! passing, clean shutdown, crash, restart) and client actions (`Login`,
//! `Parkinglots`, `ParkedCalls`, `Park`, `Originate` of `ParkedCall`, `Ping`,
//! `Logoff`) produce the messages Asterisk 22 writes, in its field order:
//! `Privilege` on live events only, `ActionID` last on list items, `Park successful\n`
//! as the Park reply. [`SimPbx::take_output`] gives them as raw AMI bytes or as amiws
//! frames. It is the reference model of the property tests and the embedded demo PBX.
//!
//! ```
//! use ami_parking::sim::{SimPbx, SimLot, Findslot, Wire};
//! use ami_parking::Timestamp;
//! let t = Timestamp::from_unix_millis(0);
//! let mut pbx = SimPbx::new(Wire::Ami);
//! let s = pbx.add_server("pbx-a", vec![SimLot::new("default", 701, 720, 45, Findslot::Next)]);
//! pbx.connect_client(s);
//! pbx.handle_client_bytes(t, s, b"Action: Login\r\nUsername: amiuser\r\nSecret: amisecret\r\n\r\n");
//! let (lot, space) = pbx.park(t, s, "5551001", "Customer 5551001", "default", None).unwrap();
//! assert_eq!((lot.as_str(), space), ("default", 701));
//! let bytes = pbx.take_output(s);
//! assert!(String::from_utf8(bytes).unwrap().contains("Event: ParkedCall\r\nPrivilege: call,all\r\n"));
//! ```

mod actions;
mod client;
mod held;
mod invariants;
mod lifecycle;
mod pbx;
mod retrieve;
mod script;
pub mod wire;

pub use actions::{fully_booted, login_accepted, CHALLENGE};
pub use client::SimClient;
pub use invariants::{check_connection, check_sizes, check_store};
pub use pbx::SimPbx;
pub use script::{run_script, script_caps};
pub use wire::escape_c;

use crate::model::ServerId;
use crate::time::Timestamp;
use std::time::Duration;

/// How a lot picks a space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Findslot {
    /// The lowest free space.
    First,
    /// The space after the last one given, wrapping.
    Next,
}

/// A lot's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLot {
    /// Name.
    pub name: String,
    /// First space.
    pub start: u32,
    /// Last space.
    pub end: u32,
    /// Parking time in seconds (0 = no limit).
    pub timeout_secs: u64,
    /// Space choice.
    pub findslot: Findslot,
    /// Made by a park ([`SimPbx::park_dynamic`]): the server keeps it, empty or not,
    /// until it restarts (Asterisk also drops an empty one at a reload of
    /// res_parking, which the model does not play).
    pub dynamic: bool,
    last: Option<u32>,
}

impl SimLot {
    /// A lot.
    pub fn new(name: &str, start: u32, end: u32, timeout_secs: u64, findslot: Findslot) -> Self {
        Self { name: name.into(), start, end, timeout_secs, findslot, dynamic: false, last: None }
    }

    /// A dynamic lot as the sandbox's dialplan makes one (`dynpark`, `parkeddynamic`
    /// on): spaces 901-905, and the timeout and space choice of the lot it is made
    /// from (`default`: 45 s, the next free space).
    pub fn new_dynamic(name: &str) -> Self {
        Self { dynamic: true, ..Self::new(name, 901, 905, 45, Findslot::Next) }
    }
}

/// The sandbox's first server: `default` 701-720 45 s (next), `vip` 801-810 5 s.
pub fn sandbox_lots() -> Vec<SimLot> {
    vec![
        SimLot::new("default", 701, 720, 45, Findslot::Next),
        SimLot::new("vip", 801, 810, 5, Findslot::Next),
    ]
}

/// The sandbox's second server: `default` 701-705 60 s (first), `sales` 901-903 90 s.
pub fn sandbox_lots_b() -> Vec<SimLot> {
    vec![
        SimLot::new("default", 701, 705, 60, Findslot::First),
        SimLot::new("sales", 901, 903, 90, Findslot::Next),
    ]
}

/// A call in a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    /// `ParkeeChannel`.
    pub channel: String,
    /// `ParkeeUniqueid` (= linked id).
    pub unique_id: String,
    /// Caller number.
    pub caller_num: String,
    /// Caller name.
    pub caller_name: String,
    /// Lot.
    pub lot: String,
    /// Space.
    pub space: u32,
    /// When it was parked.
    pub parked_at: Timestamp,
    /// When it times out.
    pub deadline: Option<Timestamp>,
}

/// Why a PBX operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// No such lot.
    #[error("no parking lot {0}")]
    NoLot(String),
    /// Every space is taken.
    #[error("parking lot {0} is full")]
    Full(String),
    /// Nothing in that space.
    #[error("nothing parked at {0},{1}")]
    Empty(String, u32),
    /// The server is down.
    #[error("server {0} is down")]
    Down(ServerId),
    /// No such server.
    #[error("no server {0}")]
    NoServer(ServerId),
}

/// How clients are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// One raw AMI session per server.
    Ami,
    /// One amiws proxy in front of every server.
    Amiws,
}

/// What changed, as Asterisk saw it (the model's change log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimChange {
    /// `parked`, `retrieved`, `timeout`, `giveup`, `swap`, `moved` (the new place).
    pub kind: &'static str,
    /// Server.
    pub server_id: ServerId,
    /// Lot.
    pub lot: String,
    /// Space.
    pub space: u32,
    /// The parkee's unique id (the new parkee for a swap).
    pub unique_id: String,
}

impl SimCall {
    /// A call as a test describes it: channel `Local/s@hold-<uid>;1`, caller name
    /// `Customer <caller>`, parked at `parked_at` in a 45 s lot.
    pub fn example(lot: &str, space: u32, uid: &str, caller: &str, parked_at: Timestamp) -> Self {
        Self {
            channel: format!("Local/s@hold-{uid};1"),
            unique_id: uid.into(),
            caller_num: caller.into(),
            caller_name: format!("Customer {caller}"),
            lot: lot.into(),
            space,
            parked_at,
            deadline: Some(parked_at + Duration::from_secs(45)),
        }
    }
}

#[cfg(test)]
mod caller_of_tests {
    use crate::sim::SimClient;
    use crate::{Park, ParkingClient, ParkingError, ParkingStore, Timestamp};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        for _ in 0..1000 {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
        panic!("the model did not answer");
    }

    /// The model answers `Status` with a phone's bridged call, so `park_caller_of` runs
    /// on it as on Asterisk: the caller parked, the phone's call gone.
    #[test]
    fn park_caller_of_on_the_model() {
        let c = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(1_700_000_000_000));
        block_on(c.get_parking_lots()).expect("lots");
        c.with_pbx(|p, _| p.connect_caller(1, "PJSIP/1001", "5551234")).unwrap();
        let parked = block_on(c.park_caller_of("PJSIP/1001", Park::default())).expect("parked");
        assert_eq!(parked.call.caller_id_num(), "5551234");
        assert!(c.with_pbx(|p, _| p.desk_calls(1)).is_empty(), "the phone's call ended");
        let again = block_on(c.park_caller_of("PJSIP/1001", Park::default()));
        assert!(matches!(again, Err(ParkingError::PhoneHasNoCall { .. })), "{again:?}");
    }
}
