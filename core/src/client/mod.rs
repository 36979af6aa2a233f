//! The one request API: what every client offers a UI, whatever drives it (tokio, the
//! browser, the reference model). A driver implements two methods, [`store`] and
//! [`request`]; the seed's operations come with the trait, written once here, each
//! with one signature and an `_on` twin that names the server (the [`Target`] first).
//!
//! The future an operation returns is an [`Answer`] over the driver's own request
//! future: `Send` when the driver's is (the tokio client), local when it is not (the
//! browser, whose futures hold JS values). Nothing is written twice for that.
//!
//! [`store`]: ParkingClient::store
//! [`request`]: ParkingClient::request

mod signals;

pub use signals::{Apply, Changes, ParkingSignals, SignalFamily, SignalValue};

use crate::connection::{Park, Reply, Request, Target};
use crate::error::ParkingError;
use crate::model::{ParkedCall, ParkingLot, Retriever, ServerId};
use crate::store::ParkingStore;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A boxed future that need not be `Send` (browser futures hold JS values).
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// A boxed `Send` future (what a tokio client answers with).
pub type SendFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The answer to one request, as a driver's [`ParkingClient::request`] gives it.
pub type RequestResult = Result<Reply, ParkingError>;

/// Any client behind one pointer, with local (`!Send`) futures: what the UI bindings
/// hold. Make one with [`local_client`].
pub type LocalClient = Rc<dyn ParkingClient<Answer = LocalFuture<RequestResult>>>;

/// Where a call was parked: the server, the lot and the space Asterisk chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedAt {
    /// The server.
    pub server_id: ServerId,
    /// The lot.
    pub lot: String,
    /// The space Asterisk chose.
    pub space: u32,
}

/// The caller of a phone, parked ([`ParkingClient::park_caller_of`]): where, and who.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedCaller {
    /// The server.
    pub server_id: ServerId,
    /// The lot.
    pub lot: String,
    /// The space Asterisk chose.
    pub space: u32,
    /// The call as parked (the caller's channel, caller id, timeout).
    pub call: ParkedCall,
}

/// Where a call was retrieved from, and who took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrievedFrom {
    /// The server.
    pub server_id: ServerId,
    /// The lot.
    pub lot: String,
    /// The space.
    pub space: u32,
    /// Who took the call.
    pub retriever: Retriever,
}

/// Where a moved call is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedTo {
    /// The server.
    pub server_id: ServerId,
    /// The call's new lot.
    pub lot: String,
    /// The call's new space (Asterisk's choice).
    pub space: u32,
}

/// A connection (or several, sharing one store) that answers requests: the one
/// request API.
///
/// Implementors give [`store`](ParkingClient::store) and
/// [`request`](ParkingClient::request); the seed's operations come with the trait.
/// Conventions: every operation has an `_on` twin taking the [`Target`] first (the
/// plain form is the `_on` form with [`Target::All`]); places are named in (server,
/// lot, space) order; `lot: None` is the store's default lot; every error is a
/// [`ParkingError`].
///
/// ```
/// use ami_parking::{LocalFuture, ParkingClient, ParkingError, ParkingStore, Request, RequestResult, Target};
/// /// A client that is never connected: every request fails at once.
/// struct Offline(ParkingStore);
/// impl ParkingClient for Offline {
///     type Answer = LocalFuture<RequestResult>;
///     fn store(&self) -> &ParkingStore { &self.0 }
///     fn request(&self, req: Request, _: Target) -> Self::Answer {
///         let action = req.name();
///         Box::pin(async move { Err(ParkingError::NotLoggedIn { action }) })
///     }
/// }
/// let offline = Offline(ParkingStore::default());
/// let refused = block_on(offline.retrieve_call(None, 701, "PJSIP/100"));
/// assert!(matches!(refused, Err(ParkingError::NotLoggedIn { .. })));
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
pub trait ParkingClient: 'static {
    /// The future of one request's answer: `Send` for a tokio client, local in the
    /// browser. It must be `Unpin` (a boxed future is).
    type Answer: Future<Output = RequestResult> + Unpin + 'static;

    /// The store the client writes into.
    fn store(&self) -> &ParkingStore;

    /// Sends any request; the future ends with its answer, its error, or
    /// [`ParkingError::Stopped`] when the client is gone.
    fn request(&self, req: Request, target: Target) -> Self::Answer;

    /// `Parkinglots` of every server (also written into the store).
    fn get_parking_lots(&self) -> Answer<Self::Answer, Vec<ParkingLot>> {
        self.get_parking_lots_on(Target::All)
    }

    /// `Parkinglots` on `target`.
    fn get_parking_lots_on(&self, target: Target) -> Answer<Self::Answer, Vec<ParkingLot>> {
        Answer::new(self.request(Request::ParkingLots, target), |r| match r {
            Reply::Lots(l) => Ok(l),
            r => Err(Box::new(r)),
        })
    }

    /// `ParkedCalls` of one lot or all; reconciles the store.
    fn get_parked_calls(&self, lot: Option<&str>) -> Answer<Self::Answer, Vec<Arc<ParkedCall>>> {
        self.get_parked_calls_on(Target::All, lot)
    }

    /// `ParkedCalls` on `target`.
    fn get_parked_calls_on(
        &self,
        target: Target,
        lot: Option<&str>,
    ) -> Answer<Self::Answer, Vec<Arc<ParkedCall>>> {
        let req = Request::ParkedCalls { lot: lot.map(Into::into) };
        Answer::new(self.request(req, target), |r| match r {
            Reply::Calls(c) => Ok(c),
            r => Err(Box::new(r)),
        })
    }

    /// Resyncs one lot (its calls, listed again).
    fn refresh_parking_lot(&self, lot: &str) -> Answer<Self::Answer, Vec<Arc<ParkedCall>>> {
        self.get_parked_calls_on(Target::All, Some(lot))
    }

    /// Resyncs one lot on `target`.
    fn refresh_parking_lot_on(
        &self,
        target: Target,
        lot: &str,
    ) -> Answer<Self::Answer, Vec<Arc<ParkedCall>>> {
        self.get_parked_calls_on(target, Some(lot))
    }

    /// Parks `channel` where `park` says (lot, preferred space, timeout); where
    /// Asterisk put it. A full or unknown lot is [`ParkingError::LotFull`] /
    /// [`ParkingError::UnknownLot`].
    fn park_call(&self, channel: &str, park: Park) -> Answer<Self::Answer, ParkedAt> {
        self.park_call_on(Target::All, channel, park)
    }

    /// Parks `channel` on `target` (several servers: name the one the channel lives
    /// on).
    fn park_call_on(&self, target: Target, channel: &str, park: Park) -> Answer<Self::Answer, ParkedAt> {
        let req = Request::Park { channel: channel.into(), park };
        Answer::new(self.request(req, target), |r| match r {
            Reply::Parked { server_id, lot, space, .. } => Ok(ParkedAt { server_id, lot, space }),
            r => Err(Box::new(r)),
        })
    }

    /// Parks the caller of `phone` (`PJSIP/1001`: the phone's channels are named
    /// `PJSIP/1001-...`): the other side of the phone's one bridged call, where `park`
    /// says. One `Status` list (the README's least-privilege user may run it), then
    /// the `Park`. Asterisk hangs up the phone's side once its caller is parked.
    ///
    /// Errors a person can act on: [`ParkingError::PhoneHasNoCall`],
    /// [`ParkingError::PhoneCallNotBridged`] (ringing, or on hold alone),
    /// [`ParkingError::PhoneHasSeveralCalls`] (naming them),
    /// [`ParkingError::CallerUnclear`] (a conference), [`ParkingError::CallerHungUp`]
    /// (between the list and the park), and those of [`park_call`](Self::park_call).
    fn park_caller_of(&self, phone: &str, park: Park) -> Answer<Self::Answer, ParkedCaller> {
        self.park_caller_of_on(Target::All, phone, park)
    }

    /// Parks the caller of `phone` on `target`.
    fn park_caller_of_on(
        &self,
        target: Target,
        phone: &str,
        park: Park,
    ) -> Answer<Self::Answer, ParkedCaller> {
        let req = Request::ParkCallerOf { phone: phone.into(), park };
        Answer::new(self.request(req, target), |r| match r {
            Reply::Parked { server_id, lot, space, call } => {
                Ok(ParkedCaller { server_id, lot, space, call: *call })
            }
            r => Err(Box::new(r)),
        })
    }

    /// Retrieves the call in `space` of `lot` to `to_channel`; who took it.
    fn retrieve_call(
        &self,
        lot: Option<&str>,
        space: u32,
        to_channel: &str,
    ) -> Answer<Self::Answer, RetrievedFrom> {
        self.retrieve_call_on(Target::All, lot, space, to_channel)
    }

    /// Retrieves on `target`.
    fn retrieve_call_on(
        &self,
        target: Target,
        lot: Option<&str>,
        space: u32,
        to_channel: &str,
    ) -> Answer<Self::Answer, RetrievedFrom> {
        let req = Request::Retrieve { space, to_channel: to_channel.into(), lot: lot.map(Into::into) };
        Answer::new(self.request(req, target), |r| match r {
            Reply::Retrieved { server_id, lot, space, retriever } => {
                Ok(RetrievedFrom { server_id, lot, space, retriever })
            }
            r => Err(Box::new(r)),
        })
    }

    /// Retrieves `call` (on its own server) to `to_channel`: what a UI does with a call
    /// it shows.
    fn retrieve_parked_call(
        &self,
        call: &ParkedCall,
        to_channel: &str,
    ) -> Answer<Self::Answer, RetrievedFrom> {
        let target = Target::Server(call.server_id);
        self.retrieve_call_on(target, Some(&call.parking_lot), call.parking_space, to_channel)
    }

    /// Moves the call in `space` of `lot` where `to` says; reported once as `moved`.
    fn move_call(&self, lot: Option<&str>, space: u32, to: Park) -> Answer<Self::Answer, MovedTo> {
        self.move_call_on(Target::All, lot, space, to)
    }

    /// Moves on `target`.
    fn move_call_on(
        &self,
        target: Target,
        lot: Option<&str>,
        space: u32,
        to: Park,
    ) -> Answer<Self::Answer, MovedTo> {
        let req = Request::Move { space, lot: lot.map(Into::into), to };
        Answer::new(self.request(req, target), |r| match r {
            Reply::Moved { server_id, lot, space, .. } => Ok(MovedTo { server_id, lot, space }),
            r => Err(Box::new(r)),
        })
    }
}

/// The future of one operation: the driver's request future `F`, its reply mapped to
/// `T`. `Send` exactly when `F` is.
#[must_use = "an answer does nothing until awaited"]
pub struct Answer<F, T> {
    request: F,
    pick: fn(Reply) -> Result<T, Box<Reply>>,
    _out: PhantomData<fn() -> T>,
}

impl<F, T> Answer<F, T> {
    fn new(request: F, pick: fn(Reply) -> Result<T, Box<Reply>>) -> Self {
        Answer { request, pick, _out: PhantomData }
    }
}

impl<F, T> std::fmt::Debug for Answer<F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer").field("of", &std::any::type_name::<T>()).finish_non_exhaustive()
    }
}

impl<F: Future<Output = RequestResult> + Unpin, T> Future for Answer<F, T> {
    type Output = Result<T, ParkingError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let pick = self.pick;
        Pin::new(&mut self.request).poll(cx).map(|r| {
            // Any other shape is a typed error, not a panic.
            pick(r?).map_err(|other| ParkingError::UnexpectedReply { reply: other.to_string() })
        })
    }
}

/// A shared client is a client.
impl<C: ParkingClient + ?Sized> ParkingClient for Rc<C> {
    type Answer = C::Answer;
    fn store(&self) -> &ParkingStore {
        (**self).store()
    }
    fn request(&self, req: Request, target: Target) -> Self::Answer {
        (**self).request(req, target)
    }
}

/// `C` with its answers boxed as local futures (see [`local_client`]).
struct Local<C>(C);

impl<C: ParkingClient> ParkingClient for Local<C> {
    type Answer = LocalFuture<RequestResult>;
    fn store(&self) -> &ParkingStore {
        self.0.store()
    }
    fn request(&self, req: Request, target: Target) -> Self::Answer {
        Box::pin(self.0.request(req, target))
    }
}

/// Any client as a [`LocalClient`]: one type for the UI bindings, whatever drives it.
///
/// ```
/// # use ami_parking::{LocalFuture, ParkingClient, ParkingError, ParkingStore, Request, RequestResult, Target};
/// # struct Offline(ParkingStore);
/// # impl ParkingClient for Offline {
/// #     type Answer = LocalFuture<RequestResult>;
/// #     fn store(&self) -> &ParkingStore { &self.0 }
/// #     fn request(&self, r: Request, _: Target) -> Self::Answer {
/// #         let action = r.name(); Box::pin(async move { Err(ParkingError::NotLoggedIn { action }) })
/// #     }
/// # }
/// let client = ami_parking::local_client(Offline(ParkingStore::default()));
/// let same = client.clone();                      // cheap: one shared client
/// assert_eq!(same.store().total_parked_calls_now(), 0);
/// ```
pub fn local_client(client: impl ParkingClient) -> LocalClient {
    Rc::new(Local(client))
}
