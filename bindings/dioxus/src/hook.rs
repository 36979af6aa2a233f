//! `use_ami_parking`: the seed's state as Dioxus signals; the seed's methods are the
//! client's ([`UseAmiParking::client`]), as futures.

use crate::bridge::{follow_grid, DioxusSignals, GridCell};
use ami_parking::SignalFamily;
use ami_parking::{
    local_client, LocalClient, LotKey, ParkedCall, ParkingClient, ParkingEvent, ParkingSignals, ParkingStore,
};
use dioxus_core::{spawn, use_hook};
use dioxus_signals::{CopyValue, ReadSignal, ReadableExt};
use futures_util::StreamExt;
use std::sync::Arc;

/// The parking state and operations of one client, for Dioxus.
///
/// It derefs to [`ParkingSignals`]: every field (`parked_calls`, `total_parked_calls`,
/// ...) is a read-only signal owned by the component that called
/// [`use_ami_parking`]; each follows the store through one task spawned in that
/// component's scope, which Dioxus cancels when the component is dropped. The
/// operations are the [`client`](Self::client)'s. `Copy`, so event handlers and child
/// props take it by value.
#[derive(Clone, Copy)]
pub struct UseAmiParking {
    signals: ParkingSignals<DioxusSignals>,
    client: CopyValue<LocalClient>,
}

impl std::ops::Deref for UseAmiParking {
    type Target = ParkingSignals<DioxusSignals>;
    fn deref(&self) -> &Self::Target {
        &self.signals
    }
}

/// Two hooks are equal when they are the same hook (the same client and signals).
impl PartialEq for UseAmiParking {
    fn eq(&self, other: &Self) -> bool {
        self.client == other.client
    }
}

impl std::fmt::Debug for UseAmiParking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UseAmiParking").finish_non_exhaustive()
    }
}

/// Binds a client's store to Dioxus signals in the current component.
///
/// `client` runs on the first render only (a hook): give it a cheap handle, e.g.
/// `|| client.clone()` of the tokio `Client` or the browser `WebClient`.
///
/// ```
/// use ami_parking::{sim::SimClient, ParkingStore, Timestamp};
/// use ami_parking_dioxus::use_ami_parking;
/// use dioxus::prelude::*;
///
/// fn app() -> Element {
///     let parking = use_ami_parking(|| SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(0)));
///     rsx! { p { "{parking.total_parked_calls} calls parked" } }
/// }
/// let mut dom = VirtualDom::new(app);
/// dom.rebuild_in_place();
/// assert_eq!(dioxus_ssr::render(&dom), "<p>0 calls parked</p>");
/// ```
pub fn use_ami_parking<C: ParkingClient>(client: impl FnOnce() -> C) -> UseAmiParking {
    use_hook(|| {
        let client = local_client(client());
        let signals = ParkingSignals::follow(client.store());
        UseAmiParking { signals, client: CopyValue::new(client) }
    })
}

/// Any futures-signals signal (a client's `connection_state()`, a derived store
/// signal) as a Dioxus signal of the current component, starting at `now`.
pub fn use_futures_signal<T: Clone + Send + Sync + 'static>(
    now: impl FnOnce() -> T,
    signal: impl FnOnce() -> Box<dyn ami_parking::futures_signals::signal::Signal<Item = T> + Unpin>,
) -> ReadSignal<T> {
    use_hook(|| DioxusSignals::follow(now(), signal()))
}

/// One lot's grid in the current component: a cell per space, each its own signal.
/// The lot is read on the first render. Empty while the lot's range is unknown.
pub fn use_lot_grid(parking: UseAmiParking, lot: LotKey) -> ReadSignal<Vec<GridCell>> {
    use_hook(|| follow_grid(&parking.store(), &lot))
}

/// One lot's calls (the seed's `getCallsForLot`) in the current component.
pub fn use_lot_calls(parking: UseAmiParking, lot: LotKey) -> ReadSignal<Vec<Arc<ParkedCall>>> {
    use_hook(|| {
        let store = parking.store();
        DioxusSignals::follow_vec(store.lot_calls_now(&lot), store.lot_calls(&lot))
    })
}

/// Runs `f` for every parking event while the current component lives. `f` need not
/// be `Send`: it may hold `Rc`s and JS values.
pub fn use_parking_event(parking: UseAmiParking, f: impl FnMut(&ParkingEvent) + 'static) {
    use_hook(move || {
        let mut events = parking.store().events();
        let mut f = f;
        spawn(async move {
            while let Some(e) = events.next().await {
                f(&e);
            }
        });
    })
}

impl UseAmiParking {
    /// The client: the operations (`park_call`, `retrieve_call`, `move_call`, ...)
    /// of [`ParkingClient`], with local futures; cheap to clone into a handler.
    ///
    /// ```
    /// use ami_parking::{sim::SimClient, ParkingClient, ParkingStore, Timestamp};
    /// use ami_parking_dioxus::use_ami_parking;
    /// use dioxus::prelude::*;
    ///
    /// fn app() -> Element {
    ///     let parking = use_ami_parking(|| SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(0)));
    ///     let retrieve = move |_| {
    ///         spawn(async move {
    ///             let _ = parking.client().retrieve_call(None, 701, "PJSIP/1002").await;
    ///         });
    ///     };
    ///     rsx! { button { onclick: retrieve, "Retrieve 701" } }
    /// }
    /// let mut dom = VirtualDom::new(app);
    /// dom.rebuild_in_place();
    /// assert_eq!(dioxus_ssr::render(&dom), "<button>Retrieve 701</button>");
    /// ```
    pub fn client(&self) -> LocalClient {
        self.client.read().clone()
    }

    /// The store behind the signals.
    pub fn store(&self) -> ParkingStore {
        self.client().store().clone()
    }
}
