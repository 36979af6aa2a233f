//! Who hears the store's events: listeners (`on_parking_event`), streams (`events`)
//! and the option callbacks (`on_call_parked`, ...; a resync fires none).

use super::{ParkingStore, State};
use crate::model::event::ParkingEvent;
use futures_channel::mpsc;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

pub(super) type Listener = Arc<dyn Fn(&ParkingEvent) + Send + Sync>;

/// Unsubscribes its listener when dropped (from [`ParkingStore::on_parking_event`]).
#[must_use = "the listener is removed when this guard is dropped"]
pub struct Subscription {
    store: Weak<super::Inner>,
    id: u64,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").field("id", &self.id).finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(inner) = self.store.upgrade() {
            if let Ok(mut st) = inner.state.lock() {
                st.listeners.retain(|(id, _)| *id != self.id);
                inner.audience.store(st.listeners.len() + st.streams.len(), Ordering::Release);
            }
        }
    }
}

/// A `Stream` of parking events (from [`ParkingStore::events`]).
///
/// Bounded: a consumer that falls more than
/// [`ParkingOptions::event_buffer`](crate::ParkingOptions::event_buffer) events behind
/// loses the newest ones instead of growing memory without limit;
/// [`missed`](EventStream::missed) says how many (then take a snapshot: the signals
/// are always current).
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::Receiver<ParkingEvent>,
    missed: Arc<AtomicU64>,
}

impl EventStream {
    /// Events this stream dropped because its consumer was too far behind.
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }
}

/// The store's end of one [`EventStream`].
pub(super) struct StreamTx {
    tx: mpsc::Sender<ParkingEvent>,
    missed: Arc<AtomicU64>,
}

impl StreamTx {
    /// True once its [`EventStream`] was dropped (it goes at the next event).
    pub(super) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl futures_core::Stream for EventStream {
    type Item = ParkingEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ParkingEvent>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

impl ParkingStore {
    /// Calls `listener` for every event until the returned guard is dropped.
    pub fn on_parking_event(&self, listener: impl Fn(&ParkingEvent) + Send + Sync + 'static) -> Subscription {
        let mut st = self.lock();
        st.next_listener += 1;
        let id = st.next_listener;
        st.listeners.push((id, Arc::new(listener)));
        self.inner.audience.store(st.listeners.len() + st.streams.len(), Ordering::Release);
        Subscription { store: Arc::downgrade(&self.inner), id }
    }

    /// A stream of every event from now on.
    pub fn events(&self) -> EventStream {
        let (tx, rx) = mpsc::channel(self.inner.options.event_buffer.max(1));
        let missed = Arc::new(AtomicU64::new(0));
        let mut st = self.lock();
        st.streams.push(StreamTx { tx, missed: missed.clone() });
        self.inner.audience.store(st.listeners.len() + st.streams.len(), Ordering::Release);
        EventStream { rx, missed }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| {
            // A panic (a user's transform, say) while the lock was held: carry on with
            // the state as it was, and end a batch of lot changes the panic cut short.
            self.inner.state.clear_poison();
            let mut st = e.into_inner();
            st.book.publish_lots();
            st
        })
    }

    pub(super) fn dispatch(&self, events: &[ParkingEvent]) {
        if events.is_empty() {
            return;
        }
        let o = &self.inner.options;
        for e in events {
            match e {
                ParkingEvent::Parked { call } => o.on_call_parked.iter().for_each(|f| f(call)),
                ParkingEvent::Retrieved { call, retriever } => {
                    o.on_call_retrieved.iter().for_each(|f| f(call, retriever))
                }
                ParkingEvent::TimedOut { call } => o.on_call_timeout.iter().for_each(|f| f(call)),
                ParkingEvent::GaveUp { call } => o.on_call_give_up.iter().for_each(|f| f(call)),
                ParkingEvent::Moved { call, from } => o.on_call_moved.iter().for_each(|f| f(call, from)),
                ParkingEvent::NearTimeout { call, remaining } => {
                    o.on_call_near_timeout.iter().for_each(|f| f(call, *remaining))
                }
                _ => {}
            }
        }
        if self.inner.audience.load(Ordering::Acquire) == 0 {
            return;
        }
        let (listeners, has_streams) = {
            let st = self.lock();
            if st.listeners.is_empty() && st.streams.is_empty() {
                return;
            }
            (st.listeners.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>(), !st.streams.is_empty())
        };
        for e in events {
            for l in &listeners {
                l(e);
            }
        }
        if has_streams {
            let mut st = self.lock();
            st.streams.retain_mut(|s| {
                events.iter().all(|e| match s.tx.try_send(e.clone()) {
                    Ok(()) => true,
                    Err(err) if err.is_full() => {
                        s.missed.fetch_add(1, Ordering::Relaxed);
                        true
                    }
                    Err(_) => false,
                })
            });
            self.inner.audience.store(st.listeners.len() + st.streams.len(), Ordering::Release);
        }
    }
}
