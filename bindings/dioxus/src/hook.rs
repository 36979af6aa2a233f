//! `use_ami_parking`: the seed's state as Dioxus signals; the seed's methods are the
//! client's ([`UseAmiParking::client`]), as futures.

use crate::bridge::{follow, follow_grid, follow_map, follow_vec, GridCell};
use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::{
    local_client, ConnectionState, LocalClient, LotKey, ParkedCall, ParkingClient, ParkingError,
    ParkingEvent, ParkingLot, ParkingStore, Timestamp,
};
use dioxus_core::{spawn, use_hook};
use dioxus_signals::{CopyValue, ReadSignal, ReadableExt, Signal, WritableExt};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The parking state and operations of one client, for Dioxus.
///
/// Every field is a read-only signal owned by the component that called
/// [`use_ami_parking`]; each follows the store through one task spawned in that
/// component's scope, which Dioxus cancels when the component is dropped. `Copy`, so
/// event handlers and child props take it by value.
#[derive(Clone, Copy, PartialEq)]
pub struct UseAmiParking {
    /// Every lot of every server, in (server, name) order, with live occupied counts.
    pub parking_lots: ReadSignal<BTreeMap<LotKey, ParkingLot>>,
    /// Every shown parked call, in (server, lot, space) order, changed in place.
    pub parked_calls: ReadSignal<Vec<Arc<ParkedCall>>>,
    /// How many calls are shown.
    pub total_parked_calls: ReadSignal<usize>,
    /// True while a list requested by the connection is being read.
    pub is_loading: ReadSignal<bool>,
    /// The last request error the store recorded (`None` after a success).
    pub error: ReadSignal<Option<ParkingError>>,
    /// The link's state.
    pub connection_state: ReadSignal<ConnectionState>,
    /// The store's clock: moves once a second while a call is parked, so timers
    /// computed from it tick.
    pub clock: ReadSignal<Timestamp>,
    /// The most recent parking event.
    pub last_event: ReadSignal<Option<ParkingEvent>>,
    client: CopyValue<LocalClient>,
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
        let store = client.store().clone();
        let mut last_event = Signal::new(None);
        let mut events = store.events();
        spawn(async move {
            while let Some(e) = events.next().await {
                last_event.set(Some(e));
            }
        });
        UseAmiParking {
            parking_lots: follow_map(
                store
                    .parking_lots_now()
                    .into_iter()
                    .map(|l| (LotKey::new(l.server_id, l.name.clone()), l))
                    .collect(),
                store.parking_lots(),
            ),
            parked_calls: follow_vec(store.parked_calls_now(), store.parked_calls()),
            total_parked_calls: follow(store.total_parked_calls_now(), store.total_parked_calls()),
            is_loading: follow(store.is_loading_now(), store.is_loading()),
            error: follow(store.error_now(), store.error()),
            connection_state: follow(store.connection_state_now(), store.connection_state().dedupe_cloned()),
            clock: follow(store.clock_now(), store.clock()),
            last_event: last_event.into(),
            client: CopyValue::new(client),
        }
    })
}

/// Any futures-signals signal (a client's `connection_state()`, a derived store
/// signal) as a Dioxus signal of the current component, starting at `now`.
pub fn use_futures_signal<T: 'static>(
    now: impl FnOnce() -> T,
    signal: impl FnOnce() -> Box<dyn ami_parking::futures_signals::signal::Signal<Item = T> + Unpin>,
) -> ReadSignal<T> {
    use_hook(|| follow(now(), signal()))
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
        follow_vec(store.lot_calls_now(&lot), store.lot_calls(&lot))
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
    /// ```ignore
    /// let parking = use_ami_parking(|| client.clone());
    /// let retrieve = move |_| { spawn(async move { let _ = parking.client().retrieve_call(None, 701, "PJSIP/1002").await; }); };
    /// ```
    pub fn client(&self) -> LocalClient {
        self.client.read().clone()
    }

    /// The store behind the signals.
    pub fn store(&self) -> ParkingStore {
        self.client().store().clone()
    }
}
