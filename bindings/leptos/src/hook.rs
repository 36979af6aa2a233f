//! `use_ami_parking`: the seed's state as Leptos signals; the seed's methods are the
//! client's ([`UseAmiParking::client`]), as futures.

use crate::bridge::{follow_grid, spawn_owned, GridCell, LeptosSignals};
use ami_parking::SignalFamily;
use ami_parking::{
    local_client, LocalClient, LotKey, ParkedCall, ParkingClient, ParkingEvent, ParkingSignals, ParkingStore,
};
use futures_util::StreamExt;
use reactive_graph::owner::{LocalStorage, StoredValue};
use reactive_graph::signal::ReadSignal;
use reactive_graph::traits::WithValue;
use std::rc::Rc;
use std::sync::Arc;

/// The parking state and operations of one client, for Leptos.
///
/// It derefs to [`ParkingSignals`]: every field (`parked_calls`, `total_parked_calls`,
/// ...) is a Leptos signal owned by the reactive owner that called
/// [`use_ami_parking`]; each follows the store through one local task that the
/// owner's cleanup aborts. The operations are the [`client`](Self::client)'s. `Copy`,
/// so closures and components take it by value.
#[derive(Clone, Copy)]
pub struct UseAmiParking {
    signals: ParkingSignals<LeptosSignals>,
    client: StoredValue<LocalClient, LocalStorage>,
}

impl std::ops::Deref for UseAmiParking {
    type Target = ParkingSignals<LeptosSignals>;
    fn deref(&self) -> &Self::Target {
        &self.signals
    }
}

impl std::fmt::Debug for UseAmiParking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UseAmiParking").finish_non_exhaustive()
    }
}

/// Binds `client`'s store to Leptos signals under the current reactive owner.
///
/// Call it inside a component (or any [`Owner`](reactive_graph::owner::Owner)), with
/// an [`any_spawner`] executor set (a Leptos app has one). Dropping the owner stops
/// every task the binding started.
///
/// ```
/// use ami_parking::{ParkingClient, ParkingStore, LocalFuture, Request, RequestResult, Target, ParkingError};
/// use ami_parking_leptos::use_ami_parking;
/// use reactive_graph::{owner::Owner, traits::GetUntracked};
/// # struct Offline(ParkingStore);
/// # impl ParkingClient for Offline {
/// #     type Answer = LocalFuture<RequestResult>;
/// #     fn store(&self) -> &ParkingStore { &self.0 }
/// #     fn request(&self, r: Request, _: Target) -> Self::Answer {
/// #         let action = r.name(); Box::pin(async move { Err(ParkingError::NotLoggedIn { action }) })
/// #     }
/// # }
/// let _ = any_spawner::Executor::init_futures_executor();
/// let owner = Owner::new();
/// owner.with(|| {
///     let parking = use_ami_parking(Offline(ParkingStore::default()));
///     assert_eq!(parking.total_parked_calls.get_untracked(), 0);
/// });
/// ```
pub fn use_ami_parking(client: impl ParkingClient) -> UseAmiParking {
    let client = local_client(client);
    let signals = ParkingSignals::follow(client.store());
    UseAmiParking { signals, client: StoredValue::new_local(client) }
}

impl UseAmiParking {
    /// The client: the operations (`park_call`, `retrieve_call`, `move_call`, ...)
    /// of [`ParkingClient`], with local futures; cheap to clone into a closure.
    ///
    /// ```
    /// use ami_parking::{sim::SimClient, ParkingClient, ParkingError, ParkingStore, Timestamp};
    /// use ami_parking_leptos::use_ami_parking;
    /// use reactive_graph::owner::Owner;
    /// let _ = any_spawner::Executor::init_futures_executor();
    /// Owner::new().with(|| {
    ///     let parking = use_ami_parking(SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(0)));
    ///     // A click handler: the operation's future runs on the page's executor.
    ///     let retrieve = parking.client().retrieve_call(None, 701, "PJSIP/1002");
    ///     any_spawner::Executor::spawn_local(async move {
    ///         // Never connected: refused at once, typed.
    ///         assert!(matches!(retrieve.await, Err(ParkingError::NotLoggedIn { .. })));
    ///     });
    /// });
    /// ```
    pub fn client(&self) -> LocalClient {
        self.client.with_value(Rc::clone)
    }

    /// The store behind the signals (snapshots, and signals for your own bridges).
    pub fn store(&self) -> ParkingStore {
        self.client().store().clone()
    }

    /// One lot's grid under the current owner: a cell per space, each its own signal.
    /// Empty while the lot's range is unknown (the lot was only seen in an event).
    pub fn lot_grid(&self, lot: &LotKey) -> ReadSignal<Vec<GridCell>> {
        follow_grid(&self.store(), lot)
    }

    /// One lot's calls (the seed's `getCallsForLot`), in space order.
    pub fn lot_calls(&self, lot: &LotKey) -> ReadSignal<Vec<Arc<ParkedCall>>> {
        let store = self.store();
        LeptosSignals::follow_vec(store.lot_calls_now(lot), store.lot_calls(lot))
    }

    /// Runs `f` for every parking event until the owner cleans up. `f` need not be
    /// `Send`: it may hold `Rc`s and JS values (the store's option callbacks, which
    /// run inside the store, cannot).
    pub fn on_parking_event(&self, f: impl Fn(&ParkingEvent) + 'static) {
        let mut events = self.store().events();
        spawn_owned(async move {
            while let Some(e) = events.next().await {
                f(&e);
            }
        });
    }
}
