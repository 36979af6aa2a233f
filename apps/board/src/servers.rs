//! The board's servers: one client per `--url`, all writing into one store, seen by
//! the UI as one [`ParkingClient`] that sends each request to the client holding its
//! server.

use ami_parking::{LocalFuture, ParkingClient, ParkingError, ParkingStore, Reply, Request, ServerId, Target};
use ami_parking_transport::Client;

/// The clients and the store they share.
#[derive(Clone, Debug)]
pub struct Servers {
    store: ParkingStore,
    /// Raw AMI clients with their server id, and amiws clients (`None`: their servers
    /// are amiws's own ids).
    clients: Vec<(Option<ServerId>, Client)>,
}

impl Servers {
    /// The clients (each with its fixed server id, or `None` behind amiws).
    pub fn new(store: ParkingStore, clients: Vec<(Option<ServerId>, Client)>) -> Self {
        Servers { store, clients }
    }

    /// Every client, in `--url` order.
    pub fn clients(&self) -> impl Iterator<Item = &Client> {
        self.clients.iter().map(|(_, c)| c)
    }

    /// The client that talks to `server`: the raw AMI client with that id, else the
    /// first amiws client.
    fn client_of(&self, server: ServerId) -> Option<&Client> {
        self.clients
            .iter()
            .find(|(id, _)| *id == Some(server))
            .or_else(|| self.clients.iter().find(|(id, _)| id.is_none()))
            .map(|(_, c)| c)
    }
}

impl ParkingClient for Servers {
    fn store(&self) -> &ParkingStore {
        &self.store
    }

    fn request(&self, req: Request, target: Target) -> LocalFuture<Result<Reply, ParkingError>> {
        let client = match target {
            Target::Server(id) => self.client_of(id),
            _ if self.clients.len() == 1 => self.clients.first().map(|(_, c)| c),
            _ => None,
        };
        match client {
            Some(c) => ParkingClient::request(c, req, target),
            None => {
                let action = req.name();
                let servers = self.clients.iter().filter_map(|(id, _)| *id).collect();
                Box::pin(async move { Err(ParkingError::AmbiguousServer { action, servers }) })
            }
        }
    }
}
