//! The configuration being pushed: versioned `(epoch, generation)` snapshots of peers and
//! routes, rebuilt from the store after every change. The epoch is new at every start, so
//! versions of two runs never collide; identical content keeps its version (and its hash lets
//! a data plane that already holds it skip the resend).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use config_model::grpc::content_hash;
use config_model::{PeerConfig, RouteConfig};
use tokio::sync::watch;

use crate::store::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentConfig {
    pub version: (u64, u64),
    pub nonce: String,
    pub content_hash: String,
    pub peers: Vec<PeerConfig>,
    pub routes: Vec<RouteConfig>,
}

pub struct ConfigHub {
    store: Store,
    epoch: u64,
    current: watch::Sender<Arc<CurrentConfig>>,
    /// Serialises rebuilds so generations are handed out in order.
    rebuild: tokio::sync::Mutex<()>,
    /// Data plane node id → open config streams.
    connected: Mutex<HashMap<String, usize>>,
}

fn nonce() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

impl ConfigHub {
    pub async fn new(store: Store, epoch: u64) -> Result<ConfigHub, StoreError> {
        let (peers, routes) = load(&store).await?;
        let current = CurrentConfig {
            version: (epoch, 1),
            nonce: nonce(),
            content_hash: content_hash(&peers, &routes),
            peers,
            routes,
        };
        Ok(ConfigHub {
            store,
            epoch,
            current: watch::channel(Arc::new(current)).0,
            rebuild: tokio::sync::Mutex::new(()),
            connected: Mutex::new(HashMap::new()),
        })
    }

    pub fn current(&self) -> Arc<CurrentConfig> {
        self.current.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<CurrentConfig>> {
        self.current.subscribe()
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Re-reads peers and routes; a new generation only if the content changed.
    pub async fn rebuild(&self) -> Result<Arc<CurrentConfig>, StoreError> {
        let _serial = self.rebuild.lock().await;
        let (peers, routes) = load(&self.store).await?;
        let hash = content_hash(&peers, &routes);
        let previous = self.current();
        if hash == previous.content_hash {
            return Ok(previous);
        }
        let next = Arc::new(CurrentConfig {
            version: (self.epoch, previous.version.1 + 1),
            nonce: nonce(),
            content_hash: hash,
            peers,
            routes,
        });
        self.current.send_replace(next.clone());
        Ok(next)
    }

    pub fn connect(&self, node_id: &str) {
        *lock(&self.connected)
            .entry(node_id.to_string())
            .or_default() += 1;
    }

    pub fn disconnect(&self, node_id: &str) {
        let mut connected = lock(&self.connected);
        if let Some(count) = connected.get_mut(node_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                connected.remove(node_id);
            }
        }
    }

    pub fn is_connected(&self, node_id: &str) -> bool {
        lock(&self.connected).contains_key(node_id)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

async fn load(store: &Store) -> Result<(Vec<PeerConfig>, Vec<RouteConfig>), StoreError> {
    let peers = store
        .all_peers()
        .await?
        .into_iter()
        .map(|p| p.config)
        .collect();
    let routes = store
        .route_table()
        .await?
        .into_iter()
        .map(|(prefix, peer)| RouteConfig { prefix, peer })
        .collect();
    Ok((peers, routes))
}

#[cfg(test)]
mod tests {
    use config_model::SecretRef;

    use super::*;

    fn peer(id: &str) -> PeerConfig {
        PeerConfig::new(id, SecretRef::Env("S".into()))
    }

    #[tokio::test]
    async fn generations_advance_only_on_change() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let epoch = store.next_epoch().await.unwrap();
        let hub = ConfigHub::new(store.clone(), epoch).await.unwrap();
        assert_eq!(hub.current().version, (epoch, 1));
        assert_eq!(
            hub.rebuild().await.unwrap().version,
            (epoch, 1),
            "nothing changed"
        );
        store
            .create_peer(&peer("a"), crate::store::Source::Static)
            .await
            .unwrap();
        let next = hub.rebuild().await.unwrap();
        assert_eq!(next.version, (epoch, 2));
        assert_eq!(next.peers.len(), 1);
        // A change to the public key alone (a discovered node that re-keyed) is a change.
        let mut rekeyed = peer("a");
        rekeyed.secret_ref = SecretRef::NodeKey;
        rekeyed.public_key = Some(node_identity::NodeKey::generate().public_key_base64());
        store.update_peer(&rekeyed, None).await.unwrap();
        assert_eq!(hub.rebuild().await.unwrap().version, (epoch, 3));
        rekeyed.public_key = Some(node_identity::NodeKey::generate().public_key_base64());
        store.update_peer(&rekeyed, None).await.unwrap();
        let last = hub.rebuild().await.unwrap();
        assert_eq!(last.version, (epoch, 4), "public key alone");
        assert_eq!(last.peers[0].public_key, rekeyed.public_key);
    }
}
