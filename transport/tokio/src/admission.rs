//! Admission for servers built on the transport (`parkboard`, `ami-ws-bridge`): who
//! gets one of a few places that cost the server before a client has shown who it
//! is (a TLS handshake, a WebSocket upgrade, a request head).
//!
//! - [`address_key`]: the address a per-address limit counts (an IPv6 host by its /64).
//! - [`FairPlaces`]: at most so many places; when all are taken, a newcomer takes a
//!   place from the address holding the most, as long as that leaves it holding no
//!   fewer than the newcomer's address then does. An attacker holding every place
//!   from a few addresses, reconnecting as fast as it likes, cannot keep out a client
//!   of another address: to do that it needs as many addresses as there are places.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

/// The key of an address for per-address limits: an IPv6 address by its /64 (a host,
/// or a customer, has a whole /64 to pick addresses from), an IPv4-mapped one as its
/// IPv4 address, an IPv4 address as itself.
///
/// ```
/// use ami_parking_transport::admission::address_key;
/// let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
/// assert_eq!(a, address_key("2001:db8:1:2:bbbb::9".parse().unwrap()));
/// assert_eq!(address_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<std::net::IpAddr>().unwrap());
/// ```
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// One place: its ticket's id, its address key, since when, and how to tell it to go.
type Place = (u64, IpAddr, Instant, Arc<Notify>);

/// At most `max` places, shared fairly between addresses (see the module's docs).
#[derive(Debug)]
pub struct FairPlaces {
    max: usize,
    places: Mutex<(u64, Vec<Place>)>,
}

/// What [`FairPlaces::enter`] did.
#[derive(Debug)]
pub enum Entered {
    /// A free place.
    Free(PlaceTicket),
    /// A place taken from the address holding the most (its oldest there, told to go).
    TookFrom(IpAddr, PlaceTicket),
    /// Every place is taken and no address holds more than the newcomer's would.
    Full,
}

/// A place held: given back when dropped.
#[derive(Debug)]
pub struct PlaceTicket {
    of: Arc<FairPlaces>,
    id: u64,
    gone: Arc<Notify>,
}

impl PlaceTicket {
    /// Resolves when a newcomer took this place: its holder should close.
    pub async fn taken(&self) {
        self.gone.notified().await
    }
}

impl Drop for PlaceTicket {
    fn drop(&mut self) {
        let mut guard = self.of.places.lock().unwrap_or_else(|e| e.into_inner());
        guard.1.retain(|p| p.0 != self.id);
    }
}

impl FairPlaces {
    /// At most `max` places (at least one).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(FairPlaces { max: max.max(1), places: Mutex::default() })
    }

    /// A place for a newcomer from `ip` (counted by [`address_key`]).
    ///
    /// ```
    /// use ami_parking_transport::admission::{Entered, FairPlaces};
    /// let places = FairPlaces::new(3);
    /// let now = std::time::Instant::now();
    /// let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
    /// let held: Vec<_> = (0..3).map(|_| places.enter(a, now)).collect();
    /// assert!(held.iter().all(|e| matches!(e, Entered::Free(_))));
    /// // A newcomer of another address takes a place from `a`, which holds the most...
    /// assert!(matches!(places.enter(b, now), Entered::TookFrom(ip, _) if ip == a));
    /// // ...but not once taking one would leave `a` with fewer than `b`.
    /// let _b = places.enter(b, now);
    /// assert!(matches!(places.enter(b, now), Entered::Full));
    /// ```
    pub fn enter(self: &Arc<Self>, ip: IpAddr, now: Instant) -> Entered {
        let key = address_key(ip);
        let mut guard = self.places.lock().unwrap_or_else(|e| e.into_inner());
        let (next, places) = &mut *guard;
        let mut took = None;
        if places.len() >= self.max {
            let count = |k: IpAddr| places.iter().filter(|p| p.1 == k).count();
            let mine = count(key);
            // The address holding the most; among equals, the one whose oldest place is
            // oldest.
            let top = places
                .iter()
                .map(|p| (p.1, count(p.1), p.2))
                .max_by(|x, y| x.1.cmp(&y.1).then(y.2.cmp(&x.2)));
            match top {
                Some((top_key, n, _)) if n > mine + 1 => {
                    let at = places
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| p.1 == top_key)
                        .min_by_key(|(_, p)| p.2)
                        .map(|(i, _)| i);
                    if let Some(i) = at {
                        places.remove(i).3.notify_one();
                    }
                    took = Some(top_key);
                }
                _ => return Entered::Full,
            }
        }
        *next += 1;
        let gone = Arc::new(Notify::new());
        places.push((*next, key, now, gone.clone()));
        let ticket = PlaceTicket { of: self.clone(), id: *next, gone };
        match took {
            Some(k) => Entered::TookFrom(k, ticket),
            None => Entered::Free(ticket),
        }
    }

    /// Places held now.
    pub fn len(&self) -> usize {
        self.places.lock().unwrap_or_else(|e| e.into_inner()).1.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_from_a_few_addresses_cannot_keep_out_another_address() {
        let places = FairPlaces::new(64);
        let now = Instant::now();
        let attackers: Vec<IpAddr> = (1..=5u8).map(|i| IpAddr::from([10, 0, 0, i])).collect();
        let mut held = Vec::new();
        // Reconnecting as fast as it likes: thousands of entries from five addresses.
        for round in 0..5_000usize {
            let e = places.enter(attackers[round % 5], now);
            if let Entered::Free(t) | Entered::TookFrom(_, t) = e {
                held.push(t);
            }
            held.retain(|t| futures_util::FutureExt::now_or_never(t.taken()).is_none());
        }
        assert_eq!(places.len(), 64);
        let client = IpAddr::from([192, 168, 1, 7]);
        let Entered::TookFrom(from, mine) = places.enter(client, now) else { panic!("kept out") };
        assert!(attackers.contains(&from));
        // The attackers' next entries take each other's places, not the client's.
        for round in 0..1_000usize {
            let _ = places.enter(attackers[round % 5], now);
        }
        assert!(futures_util::FutureExt::now_or_never(mine.taken()).is_none(), "the client's place stays");
    }

    #[test]
    fn an_ipv6_host_is_one_address_and_a_dropped_ticket_frees_its_place() {
        let places = FairPlaces::new(2);
        let now = Instant::now();
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let a2: IpAddr = "2001:db8::2".parse().unwrap();
        let _one = places.enter(a, now);
        let two = places.enter(a2, now);
        assert!(matches!(places.enter(a2, now), Entered::Full), "the same /64 is one address");
        drop(two);
        assert_eq!(places.len(), 1);
        assert!(matches!(places.enter(a2, now), Entered::Free(_)));
    }
}
