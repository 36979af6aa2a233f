//! [`DiffProbe`]: the diffs a signal vec sends, polled without a runtime.

/// Watches a signal vec (the store's calls by default) and reports each diff by
/// name (`replace`, `insert`, `update`, `remove`, ...) with its index, polled without
/// a runtime.
pub struct DiffProbe<T = std::sync::Arc<ami_parking::ParkedCall>> {
    sv: std::pin::Pin<Box<dyn futures_signals::signal_vec::SignalVec<Item = T> + Send>>,
    /// The vec as the diffs so far build it.
    pub mirror: Vec<T>,
}

impl DiffProbe {
    /// Watches the store's calls, past its initial `Replace`.
    pub fn new(store: &ami_parking::ParkingStore) -> Self {
        let mut p = Self::of(store.parked_calls());
        p.take();
        p
    }
}

impl<T: Clone> DiffProbe<T> {
    /// Watches `sv` (its first diff, usually a `Replace`, is kept for `take`).
    pub fn of(sv: impl futures_signals::signal_vec::SignalVec<Item = T> + Send + 'static) -> Self {
        Self { sv: Box::pin(sv), mirror: Vec::new() }
    }

    /// The diffs since the last call, with their index (`usize::MAX` for none).
    pub fn take_at(&mut self) -> Vec<(&'static str, usize)> {
        use futures_signals::signal_vec::VecDiff;
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut out = Vec::new();
        while let std::task::Poll::Ready(Some(d)) = self.sv.as_mut().poll_vec_change(&mut cx) {
            out.push(match d {
                VecDiff::Replace { values } => {
                    self.mirror = values;
                    ("replace", usize::MAX)
                }
                VecDiff::InsertAt { index, value } => {
                    self.mirror.insert(index, value);
                    ("insert", index)
                }
                VecDiff::UpdateAt { index, value } => {
                    self.mirror[index] = value;
                    ("update", index)
                }
                VecDiff::RemoveAt { index } => {
                    self.mirror.remove(index);
                    ("remove", index)
                }
                VecDiff::Move { old_index, new_index } => {
                    let v = self.mirror.remove(old_index);
                    self.mirror.insert(new_index, v);
                    ("move", new_index)
                }
                VecDiff::Push { value } => {
                    self.mirror.push(value);
                    ("push", usize::MAX)
                }
                VecDiff::Pop {} => {
                    self.mirror.pop();
                    ("pop", usize::MAX)
                }
                VecDiff::Clear {} => {
                    self.mirror.clear();
                    ("clear", usize::MAX)
                }
            });
        }
        out
    }

    /// The diffs since the last call, by name.
    pub fn take(&mut self) -> Vec<&'static str> {
        self.take_at().into_iter().map(|(n, _)| n).collect()
    }
}

/// The store's lots map as a UI builds it from
/// [`ParkingStore::parking_lots`](ami_parking::ParkingStore::parking_lots)'s diffs,
/// polled without a runtime.
pub struct LotsProbe {
    map: std::pin::Pin<Box<ami_parking::ParkingLotsSignalMap>>,
    mirror: std::collections::BTreeMap<ami_parking::LotKey, ami_parking::ParkingLot>,
}

impl LotsProbe {
    /// Watches the store's lots from now (its first diff, a `Replace` unless the map
    /// is empty, is taken by the first [`LotsProbe::take`]).
    pub fn new(store: &ami_parking::ParkingStore) -> Self {
        Self { map: Box::pin(store.parking_lots()), mirror: Default::default() }
    }

    /// The map as the diffs so far build it.
    pub fn take(&mut self) -> &std::collections::BTreeMap<ami_parking::LotKey, ami_parking::ParkingLot> {
        use futures_signals::signal_map::SignalMap;
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        while let std::task::Poll::Ready(Some(d)) = self.map.as_mut().poll_map_change(&mut cx) {
            ami_parking::apply_map_diff(&mut self.mirror, d);
        }
        &self.mirror
    }
}
