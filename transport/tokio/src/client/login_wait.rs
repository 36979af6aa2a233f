//! Waiting for the links to log in: [`Client::wait_logged_in`], which tells a
//! refused login from a server not reached, and waits through the attempts of a link
//! that is down when the wait starts.

use super::{Client, Link};
use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::{ConnectionState, ParkingError, Target};
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::time::Duration;

impl Client {
    /// Waits until every link is logged in. Fails at a link's first failed attempt
    /// (with its reason: [`ParkingError::LoginRefused`] when the server refused the
    /// login or the token, [`ParkingError::LoginFailed`] otherwise) or after `timeout`
    /// ([`ParkingError::LoginTimeout`]); the links keep retrying in the background
    /// either way. A link that is waiting to retry when the wait starts
    /// (`Reconnecting`: it lost its server, or an attempt failed before) is waited for
    /// through its attempts until `timeout`: this is how a program waits for a link
    /// to come back (a refused attempt during the wait included); the timeout's error then
    /// carries the link's state, with its last failure. A link whose last attempt
    /// was refused when the wait starts fails it at once with
    /// [`ParkingError::LoginRefused`]: its next attempt is `refused_login`'s wait
    /// away, and is refused again until the credentials change.
    ///
    /// Logged in is not yet listed: the login's `Parkinglots` and `ParkedCalls`
    /// answers may still be on their way (the store says so, `is_loading_now`). A
    /// program that reads the calls once, at start, asks for them:
    /// `client.get_parked_calls(None).await?` answers with the calls and leaves
    /// the store holding them.
    pub async fn wait_logged_in(&self, timeout: Duration) -> Result<(), ParkingError> {
        self.wait_logged_in_on(Target::All, timeout).await
    }

    /// Waits until the link of `target` is logged in (`Target::All`: every link), as
    /// [`Client::wait_logged_in`] does. A server the client does not have is
    /// [`ParkingError::UnknownServer`].
    pub async fn wait_logged_in_on(&self, target: Target, timeout: Duration) -> Result<(), ParkingError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let links: Vec<&Link> = match (target, self.inner.links.as_slice()) {
            (Target::All, links) | (Target::Server(_), links @ [_]) => links.iter().collect(),
            (Target::Server(id), links) => match links.iter().find(|l| l.server == Some(id)) {
                Some(l) => vec![l],
                None => {
                    let action = "Login".to_owned();
                    return Err(ParkingError::UnknownServer {
                        action,
                        server_id: id,
                        servers: self.servers(),
                    });
                }
            },
        };
        // A link waiting to retry when the wait starts (its server was lost, or an
        // attempt failed before) is waited for through its attempts: what a program
        // means when it waits for a link to come back (found by a review: the wait
        // failed at once with the old failure). Every link's state is taken now, not
        // when the wait reaches it. A link waiting after a refused login is the
        // exception: that is told at once (found by a review: the wait lasted until
        // its timeout, the next attempt being a minute off and refused again).
        let mut down = Vec::with_capacity(links.len());
        for link in &links {
            match Self::failure_of(link) {
                Some((reason, true)) => {
                    let endpoint = link.endpoint.to_string();
                    return Err(ParkingError::LoginRefused { endpoint, reason });
                }
                failed => down.push(failed.is_some()),
            }
        }
        // All links at once: the first failure is told at once, whichever link it is
        // (one at a time, a link waited through hid a later link's failure until the
        // deadline).
        let waits = links.iter().zip(down).map(|(link, through)| {
            let mut states = link.state.signal_cloned().to_stream();
            let endpoint = link.endpoint.to_string();
            async move {
                while let Some(s) = states.next().await {
                    match s {
                        ConnectionState::LoggedIn => return Ok(()),
                        ConnectionState::Reconnecting { .. } if through => {}
                        ConnectionState::Reconnecting { .. } => {
                            let Some((reason, refused)) = Self::failure_of(link) else { continue };
                            return Err(if refused {
                                ParkingError::LoginRefused { endpoint, reason }
                            } else {
                                ParkingError::LoginFailed { endpoint, reason }
                            });
                        }
                        ConnectionState::Stopped => {
                            return Err(ParkingError::Stopped { action: "Login".into() })
                        }
                        _ => {}
                    }
                }
                Err(ParkingError::Stopped { action: "Login".into() })
            }
        });
        match tokio::time::timeout_at(deadline, futures_util::future::try_join_all(waits)).await {
            Ok(r) => r.map(drop),
            Err(_) => {
                // The first link still not logged in is the one named.
                let late = links
                    .iter()
                    .find(|l| l.state.get_cloned() != ConnectionState::LoggedIn)
                    .unwrap_or(&links[0]);
                Err(ParkingError::LoginTimeout {
                    endpoint: late.endpoint.to_string(),
                    after: timeout,
                    state: format!("{:?}", late.state.get_cloned()),
                })
            }
        }
    }

    /// The failure `link` shows now (`Reconnecting`), and whether it was a refused
    /// login; read under the state's lock, under which the driver stores the flag
    /// with the state it explains (`driver`'s `set_failed`).
    fn failure_of(link: &Link) -> Option<(String, bool)> {
        match &*link.state.lock_ref() {
            ConnectionState::Reconnecting { last_error, .. } => {
                Some((last_error.clone(), link.refused.load(Ordering::Relaxed)))
            }
            _ => None,
        }
    }
}
