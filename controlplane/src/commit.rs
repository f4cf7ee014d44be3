//! The one way a write to peers or routes becomes visible: its Watch events are published and,
//! if anything changed, the configuration pushed to data planes is rebuilt once. The API, the
//! seed file and discovery's reconciliation all finish their writes here, so none of them can
//! forget the rebuild (or rebuild once per row: a batch of changes makes one generation).

use std::sync::Arc;

use proto::grpc::v1 as pb;

use crate::convert::{peer_to_pb, route_to_pb};
use crate::events::Events;
use crate::push::{ConfigHub, CurrentConfig};
use crate::store::{StoreError, StoredPeer, StoredRoute};

/// The writes of one operation, as Watch events, in the order they happened.
#[derive(Default)]
pub struct Changes {
    events: Vec<(&'static str, pb::watch_event::Event)>,
    /// Writes that changed the table but have no event of their own (the seed's routes).
    silent: bool,
}

impl Changes {
    pub fn peer(&mut self, action: &'static str, peer: &StoredPeer) -> pb::Peer {
        let shown = peer_to_pb(peer);
        self.events
            .push((action, pb::watch_event::Event::Peer(shown.clone())));
        shown
    }

    pub fn route(&mut self, action: &'static str, route: &StoredRoute) -> pb::Route {
        let shown = route_to_pb(route);
        self.route_event(action, shown.clone());
        shown
    }

    /// A route known only by prefix and peer (deleted along with its peer).
    pub fn route_event(&mut self, action: &'static str, route: pb::Route) {
        self.events
            .push((action, pb::watch_event::Event::Route(route)));
    }

    /// Something changed that no event describes.
    pub fn table_changed(&mut self) {
        self.silent = true;
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && !self.silent
    }
}

/// Publishes events and rebuilds the pushed configuration.
#[derive(Clone)]
pub struct Committer {
    hub: Arc<ConfigHub>,
    events: Events,
}

impl Committer {
    pub fn new(hub: Arc<ConfigHub>, events: Events) -> Committer {
        Committer { hub, events }
    }

    /// The configuration as last committed.
    pub fn current(&self) -> Arc<CurrentConfig> {
        self.hub.current()
    }

    /// Makes `changes` visible: each event to Watch, then one rebuild if there were any.
    pub async fn commit(&self, changes: Changes) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        for (action, event) in changes.events {
            self.events.publish(action, event);
        }
        self.hub.rebuild().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use config_model::{PeerConfig, Relation, SecretRef};

    use super::*;
    use crate::store::{Source, Store};

    #[tokio::test]
    async fn a_batch_makes_one_generation_and_its_events_in_order() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let epoch = store.next_epoch().await.unwrap();
        let hub = Arc::new(ConfigHub::new(store.clone(), epoch).await.unwrap());
        let events = Events::new();
        let mut watching = events.subscribe();
        let committer = Committer::new(hub.clone(), events);

        committer.commit(Changes::default()).await.unwrap();
        assert_eq!(hub.current().version, (epoch, 1), "nothing to commit");

        let mut changes = Changes::default();
        for id in ["a", "b"] {
            let peer = PeerConfig {
                relation: Relation::Child,
                ..PeerConfig::new(id, SecretRef::Env("S".into()))
            };
            let stored = store.create_peer(&peer, Source::Static).await.unwrap();
            changes.peer("created", &stored);
        }
        committer.commit(changes).await.unwrap();
        assert_eq!(
            hub.current().version,
            (epoch, 2),
            "one generation for the batch"
        );
        for id in ["a", "b"] {
            let event = watching.try_recv().unwrap();
            assert_eq!(event.action, "created");
            assert!(matches!(event.event, Some(pb::watch_event::Event::Peer(p)) if p.id == id));
        }
    }
}
