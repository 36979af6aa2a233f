//! A test kit for the library's users (feature `testkit`, which pulls `proptest` and
//! the reference model `sim`): the property suite's own generators of realistic
//! scripts of PBX and client operations, a driver that plays them on a
//! [`SimClient`](crate::sim::SimClient), a replay of a capture (bytes, in any chunking,
//! on a test clock) into a store, and the invariant checks the suite runs after every
//! step.
//!
//! - [`Step`] and [`strategy`]: one operation (a call parks, is retrieved, hangs up,
//!   is swapped or moved; time passes; the client refreshes, parks, retrieves, moves;
//!   the link drops; Asterisk restarts or crashes) and the weighted strategies the
//!   project's own property suite draws its sequences from;
//! - [`Driver`]: plays steps on a [`SimClient`](crate::sim::SimClient) (Asterisk 22's
//!   bytes through the real codec, connection and store);
//! - [`replay_ami`] and [`Chunking`]: a raw AMI capture fed to a store through a
//!   connection, whole, byte by byte or in random chunks;
//! - [`check_store`], [`check_connection`], [`check_sizes`]: the invariants.
//!
//! # A property test of your own view
//! A UI's lot grid (here a plain `Vec` kept by the grid's signal vec, as a Leptos or
//! Dioxus grid keeps its cells) must show exactly the store's calls after every step
//! of any script:
//!
//! ```
//! use ami_parking::futures_signals::signal_vec::SignalVec;
//! use ami_parking::testkit::proptest::prelude::*;
//! use ami_parking::testkit::{check_store, strategy, Driver};
//! use ami_parking::{LotKey, ParkedCall, ParkingStore, Timestamp};
//! use std::sync::Arc;
//! use std::task::{Context, Poll, Waker};
//!
//! /// The user's view: the cells of lot `default`, following the grid's diffs.
//! struct Grid<S> { cells: Vec<Option<Arc<ParkedCall>>>, diffs: S }
//! impl<S: SignalVec<Item = Option<Arc<ParkedCall>>> + Unpin> Grid<S> {
//!     fn catch_up(&mut self) {
//!         let mut cx = Context::from_waker(Waker::noop());
//!         while let Poll::Ready(Some(d)) = std::pin::Pin::new(&mut self.diffs).poll_vec_change(&mut cx) {
//!             d.apply_to_vec(&mut self.cells);
//!         }
//!     }
//! }
//!
//! proptest!(ProptestConfig::with_cases(16), |(script in strategy::script(1, 1..40))| {
//!     let store = ParkingStore::default();
//!     let mut driver = Driver::new(store.clone(), Timestamp::from_unix_millis(1_800_000_000_000));
//!     let key = LotKey::new(1, "default");
//!     let mut grid = Grid { cells: Vec::new(), diffs: store.lot_grid(&key) };
//!     for step in &script {
//!         driver.step(step);
//!         grid.catch_up();
//!         check_store(&store).map_err(TestCaseError::fail)?;
//!         prop_assert_eq!(&grid.cells, &store.lot_grid_now(&key), "after {:?}", step);
//!     }
//! });
//! ```

mod driver;
mod replay;
pub mod strategy;

pub use crate::sim::{check_connection, check_sizes, check_store, Wire};
pub use driver::Driver;
pub use proptest;
pub use replay::{replay_ami, Chunking, Replayed};

/// The names of the dynamic lots [`Step::DynamicPark`] parks in.
pub const DYNAMIC_LOTS: [&str; 2] = ["overflow", "annex"];

/// One step of a script: what a PBX, a phone, a caller, the client or the link does.
/// `server` is 1 or 2 (behind amiws); `lot` and `pick` index the server's lots and
/// calls (taken modulo their number); `space` indexes a lot's spaces.
///
/// New kinds of steps may be added in a minor release of the test kit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A call parks through the dialplan.
    Park {
        /// The server (1; or 2 behind amiws).
        server: u32,
        /// The lot: an index into the server's lots.
        lot: usize,
        /// The space asked for, if any.
        preferred: Option<u32>,
    },
    /// A call parks in a dynamic lot ([`SimPbx::park_dynamic`](crate::sim::SimPbx::park_dynamic)):
    /// the server makes the lot at the park when it has none by that name.
    DynamicPark {
        /// The server (1; or 2 behind amiws).
        server: u32,
        /// The lot: an index into [`DYNAMIC_LOTS`].
        lot: usize,
    },
    /// A parked call is picked up from a phone.
    Retrieve {
        /// The server (1; or 2 behind amiws).
        server: u32,
        /// The call: an index into the server's calls.
        pick: usize,
    },
    /// A parked caller hangs up.
    GiveUp {
        /// The server (1; or 2 behind amiws).
        server: u32,
        /// The call: an index into the server's calls.
        pick: usize,
    },
    /// Another channel takes a parkee's place.
    Swap {
        /// The server (1; or 2 behind amiws).
        server: u32,
        /// The call: an index into the server's calls.
        pick: usize,
    },
    /// A call is picked up and a new one takes its space at once; the new call's
    /// `ParkedCall` comes before the old call's `UnParkedCall` (as under load).
    Reuse {
        /// The server (1; or 2 behind amiws).
        server: u32,
        /// The call: an index into the server's calls.
        pick: usize,
    },
    /// Simulated time passes (timeouts fire, keep-alives go out).
    Wait {
        /// How many seconds pass.
        secs: u64,
    },
    /// The client refreshes (all lots or one).
    Refresh {
        /// The lot: an index into the server's lots.
        lot: Option<usize>,
    },
    /// The client lists `server`'s calls (all lots or one), and the PBX holds the
    /// answer: it comes in `Deliver` steps, overtaken by live events meanwhile.
    HeldRefresh {
        /// The server (1; or 2 behind amiws).
        server: u32,
        /// The lot: an index into the server's lots.
        lot: Option<usize>,
    },
    /// The PBX writes its oldest held answer: whole, or (`half`) its first half.
    Deliver {
        /// Only the first half of the answer.
        half: bool,
    },
    /// The client parks a call with `park_call` on `server`: in lot `lot`, preferably
    /// at the lot's `space`-th space, without timeout when `never`.
    ClientPark {
        /// The server (1; or 2 behind amiws).
        server: u32,
        /// The lot: an index into the server's lots.
        lot: usize,
        /// The space asked for, if any: an index into the lot's spaces.
        space: Option<u32>,
        /// Without a timeout.
        never: bool,
    },
    /// Someone parks a parked call again in lot `lot` (preferably at its `space`-th
    /// space): Asterisk's give-up then park, one move.
    Move {
        /// The server (1; or 2 behind amiws).
        server: u32,
        /// The call: an index into the server's calls.
        pick: usize,
        /// The lot: an index into the server's lots.
        lot: usize,
        /// The space asked for, if any: an index into the lot's spaces.
        space: Option<u32>,
    },
    /// The client moves a call with `move_call`.
    ClientMove {
        /// The server (1; or 2 behind amiws).
        server: u32,
        /// The call: an index into the server's calls.
        pick: usize,
        /// The lot: an index into the server's lots.
        lot: usize,
        /// The space asked for, if any: an index into the lot's spaces.
        space: Option<u32>,
    },
    /// The client retrieves with `retrieve_call`.
    ClientRetrieve {
        /// The server (1; or 2 behind amiws).
        server: u32,
        /// The call: an index into the server's calls.
        pick: usize,
    },
    /// The link drops.
    Disconnect,
    /// The link comes back (login, resync).
    Reconnect,
    /// Asterisk shuts down cleanly (GiveUp for every call, Shutdown), then starts again.
    CleanRestart {
        /// The server (1; or 2 behind amiws).
        server: u32,
    },
    /// kill -9 and start again: nothing is sent.
    Crash {
        /// The server (1; or 2 behind amiws).
        server: u32,
    },
    /// Deliver the PBX's bytes to the client in these random chunks.
    Rechunk {
        /// The seed of the chunks.
        seed: u64,
    },
}

impl Step {
    /// The step as `wire` can take it: raw AMI has server 1 only (a shrunk case may
    /// keep steps made for two servers when its wire shrinks to raw AMI).
    ///
    /// ```
    /// use ami_parking::testkit::{Step, Wire};
    /// let s = Step::Crash { server: 2 }.for_wire(Wire::Ami);
    /// assert_eq!(s, Step::Crash { server: 1 });
    /// ```
    pub fn for_wire(mut self, wire: Wire) -> Step {
        if wire == Wire::Ami {
            match &mut self {
                Step::Park { server, .. }
                | Step::DynamicPark { server, .. }
                | Step::Retrieve { server, .. }
                | Step::GiveUp { server, .. }
                | Step::Swap { server, .. }
                | Step::Reuse { server, .. }
                | Step::ClientPark { server, .. }
                | Step::Move { server, .. }
                | Step::ClientMove { server, .. }
                | Step::ClientRetrieve { server, .. }
                | Step::CleanRestart { server }
                | Step::Crash { server }
                | Step::HeldRefresh { server, .. } => *server = 1,
                Step::Wait { .. }
                | Step::Refresh { .. }
                | Step::Deliver { .. }
                | Step::Disconnect
                | Step::Reconnect
                | Step::Rechunk { .. } => {}
            }
        }
        self
    }
}
