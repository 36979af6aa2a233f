//! What every client offers a UI, whatever drives it (tokio, the browser): the store
//! and requests answered as futures. The bindings (`ami-parking-leptos`,
//! `ami-parking-dioxus`) are written against this trait, so one hook serves the
//! tokio `Client`, the browser `WebClient` and a test double alike.

use crate::connection::{Park, Reply, Request, Target};
use crate::error::ParkingError;
use crate::model::{ParkedCall, ParkingLot, Retriever, ServerId};
use crate::store::ParkingStore;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future that need not be `Send` (browser futures hold JS values).
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// A connection (or several, sharing one store) that answers requests.
///
/// Implementors give [`store`](ParkingClient::store) and
/// [`request`](ParkingClient::request); the seed's operations come with the trait.
///
/// ```
/// use ami_parking::{LocalFuture, ParkingClient, ParkingError, ParkingStore, Reply, Request, Target};
/// /// A client that is never connected: every request fails at once.
/// struct Offline(ParkingStore);
/// impl ParkingClient for Offline {
///     fn store(&self) -> &ParkingStore { &self.0 }
///     fn request(&self, req: Request, _: Target) -> LocalFuture<Result<Reply, ParkingError>> {
///         let action = req.name();
///         Box::pin(async move { Err(ParkingError::NotLoggedIn { action }) })
///     }
/// }
/// let offline = Offline(ParkingStore::default());
/// let refused = futures_executor_block_on(offline.retrieve_call(701, "PJSIP/100", None));
/// assert!(matches!(refused, Err(ParkingError::NotLoggedIn { .. })));
/// # fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
pub trait ParkingClient: 'static {
    /// The store the client writes into.
    fn store(&self) -> &ParkingStore;

    /// Sends any request; the future ends with its answer, its error, or
    /// [`ParkingError::Stopped`] when the client is gone.
    fn request(&self, req: Request, target: Target) -> LocalFuture<Result<Reply, ParkingError>>;

    /// `Parkinglots` of every server (also written into the store).
    fn get_parking_lots(&self) -> LocalFuture<Result<Vec<ParkingLot>, ParkingError>> {
        expect(self.request(Request::ParkingLots, Target::All), |r| match r {
            Reply::Lots(l) => Ok(l),
            r => Err(Box::new(r)),
        })
    }

    /// `ParkedCalls` of one lot or all; reconciles the store.
    fn get_parked_calls(&self, lot: Option<&str>) -> LocalFuture<Result<Vec<Arc<ParkedCall>>, ParkingError>> {
        expect(self.request(Request::ParkedCalls { lot: lot.map(Into::into) }, Target::All), |r| match r {
            Reply::Calls(c) => Ok(c),
            r => Err(Box::new(r)),
        })
    }

    /// Resyncs one lot (its calls, listed again).
    fn refresh_parking_lot(&self, lot: &str) -> LocalFuture<Result<Vec<Arc<ParkedCall>>, ParkingError>> {
        self.get_parked_calls(Some(lot))
    }

    /// Parks `channel` where `park` says; the space Asterisk chose.
    fn park_call(&self, channel: &str, park: Park) -> LocalFuture<Result<u32, ParkingError>> {
        let req = Request::Park { channel: channel.into(), park };
        expect(self.request(req, Target::All), |r| match r {
            Reply::Parked { space, .. } => Ok(space),
            r => Err(Box::new(r)),
        })
    }

    /// Parks `channel` on server `server` (several servers: name the one the channel
    /// lives on); the space Asterisk chose.
    fn park_call_on(
        &self,
        server: ServerId,
        channel: &str,
        park: Park,
    ) -> LocalFuture<Result<u32, ParkingError>> {
        let req = Request::Park { channel: channel.into(), park };
        expect(self.request(req, Target::Server(server)), |r| match r {
            Reply::Parked { space, .. } => Ok(space),
            r => Err(Box::new(r)),
        })
    }

    /// Retrieves the call in `space` (of `lot`, the default lot when `None`) to
    /// `to_channel`; who took it.
    fn retrieve_call(
        &self,
        space: u32,
        to_channel: &str,
        lot: Option<&str>,
    ) -> LocalFuture<Result<Retriever, ParkingError>> {
        self.retrieve_on(Target::All, space, to_channel, lot)
    }

    /// Retrieves `call` (on its own server) to `to_channel`: what a UI does with a call
    /// it shows.
    fn retrieve_parked_call(
        &self,
        call: &ParkedCall,
        to_channel: &str,
    ) -> LocalFuture<Result<Retriever, ParkingError>> {
        self.retrieve_on(
            Target::Server(call.server_id),
            call.parking_space,
            to_channel,
            Some(&call.parking_lot),
        )
    }

    /// Retrieves on `target`.
    fn retrieve_on(
        &self,
        target: Target,
        space: u32,
        to_channel: &str,
        lot: Option<&str>,
    ) -> LocalFuture<Result<Retriever, ParkingError>> {
        let req = Request::Retrieve { space, to_channel: to_channel.into(), lot: lot.map(Into::into) };
        expect(self.request(req, target), |r| match r {
            Reply::Retrieved { retriever, .. } => Ok(retriever),
            r => Err(Box::new(r)),
        })
    }

    /// Moves the call in `space` of `lot` where `to` says; its new (lot, space).
    fn move_call(
        &self,
        space: u32,
        lot: Option<&str>,
        to: Park,
    ) -> LocalFuture<Result<(String, u32), ParkingError>> {
        let req = Request::Move { space, lot: lot.map(Into::into), to };
        expect(self.request(req, Target::All), |r| match r {
            Reply::Moved { lot, space, .. } => Ok((lot, space)),
            r => Err(Box::new(r)),
        })
    }
}

/// Maps a reply of the expected shape; any other shape is a typed error, not a panic.
fn expect<T: 'static>(
    reply: LocalFuture<Result<Reply, ParkingError>>,
    pick: impl FnOnce(Reply) -> Result<T, Box<Reply>> + 'static,
) -> LocalFuture<Result<T, ParkingError>> {
    Box::pin(async move {
        pick(reply.await?).map_err(|other| ParkingError::UnexpectedReply { reply: format!("{other:?}") })
    })
}
