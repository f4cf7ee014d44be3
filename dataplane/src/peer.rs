//! A peer at run time: its settings, its current BTP link, the link's state, its balance and
//! its metric handles. It outlives any one link (and, later, any one route snapshot).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use arc_swap::{ArcSwap, ArcSwapOption};
use btp_link::Link;
use tokio::sync::watch;

use crate::balance::Balance;
use crate::config::{PeerConfig, Secret};
use crate::link_state::{LinkChanges, LinkState, LinkStatus};
use crate::metrics::{Metrics, PeerMetrics};

/// How a link to the peer is authenticated.
#[derive(Clone, Debug, PartialEq)]
pub enum Credential {
    /// A shared secret: the token it presents, or we present. Also kept as its SHA-256, which
    /// incoming tokens are compared against in constant time.
    Secret { secret: Secret, digest: [u8; 32] },
    /// Node keys: it proves itself with a token signed by this public key, and we with ours.
    NodeKey(node_identity::PublicKey),
}

impl Credential {
    pub fn secret(secret: Secret) -> Credential {
        Credential::Secret {
            digest: secret.digest(),
            secret,
        }
    }
}

pub struct Peer {
    pub id: Arc<str>,
    /// Settings that can change without touching the link (limits, asset, relation). The
    /// connection identity (URL, secret, username) never changes: a new one is a new `Peer`.
    settings: ArcSwap<PeerConfig>,
    pub credential: Credential,
    link: ArcSwapOption<Link>,
    status: Mutex<LinkStatus>,
    pub balance: Arc<Balance>,
    pub metrics: PeerMetrics,
    /// Set when the peer leaves the table: its dialer stops and its link closes.
    retired: watch::Sender<bool>,
    /// The node's, woken at every change of this peer's link state.
    link_changes: Arc<LinkChanges>,
}

impl Peer {
    /// `balance` is the peer's ledger account: it outlives this object.
    pub fn new(
        config: PeerConfig,
        credential: Credential,
        balance: Arc<Balance>,
        metrics: &Metrics,
        link_changes: Arc<LinkChanges>,
    ) -> Peer {
        let id: Arc<str> = Arc::from(config.id.as_str());
        let initial = if config.url.is_some() {
            LinkState::Connecting
        } else {
            LinkState::Disconnected
        };
        metrics.set_link_state(&id, initial);
        let peer_metrics = metrics.peer(&id);
        peer_metrics.balance.set(balance.snapshot().balance as f64);
        Peer {
            metrics: peer_metrics,
            credential,
            id,
            settings: ArcSwap::from_pointee(config),
            link: ArcSwapOption::empty(),
            status: Mutex::new(LinkStatus {
                state: initial,
                last_error: None,
                since: SystemTime::now(),
                sessions: 0,
            }),
            balance,
            retired: watch::channel(false).0,
            link_changes,
        }
    }

    pub fn settings(&self) -> arc_swap::Guard<Arc<PeerConfig>> {
        self.settings.load()
    }

    /// Whether `config` can be served by this peer object: same connection identity and the
    /// same credential. Then only its settings are swapped and its link stays up.
    pub fn same_connection(&self, config: &PeerConfig, credential: &Credential) -> bool {
        let current = self.settings();
        current.url == config.url
            && current.auth_username == config.auth_username
            && self.credential == *credential
    }

    pub fn update_settings(&self, config: PeerConfig) {
        self.settings.store(Arc::new(config));
    }

    /// Takes the peer out of service: stops its dialer and closes its link.
    pub fn retire(&self, reason: &str) {
        self.retired.send_replace(true);
        self.close_link(reason);
    }

    /// Resolves once the peer is retired.
    pub async fn retired(&self) {
        let mut rx = self.retired.subscribe();
        let _ = rx.wait_for(|retired| *retired).await.map(|_| ());
    }

    /// The open link, if any.
    pub fn link(&self) -> Option<Arc<Link>> {
        self.link.load_full().filter(|link| !link.is_closed())
    }

    pub fn status(&self) -> LinkStatus {
        self.lock_status().clone()
    }

    /// Installs a freshly authenticated link; an older session of the same peer is closed.
    pub fn link_up(&self, link: Link, metrics: &Metrics) {
        let previous = self.link.swap(Some(Arc::new(link)));
        if let Some(previous) = previous {
            previous.close("replaced by a new session of the same peer");
        }
        let mut status = self.lock_status();
        if status.sessions > 0 {
            self.metrics.link_reconnects.inc();
        }
        status.sessions += 1;
        status.state = LinkState::Up;
        status.since = SystemTime::now();
        drop(status);
        self.metrics.link_up.set(1);
        metrics.set_link_state(&self.id, LinkState::Up);
        self.link_changes.notify();
    }

    /// Records that `link` ended; ignored if a newer session has already replaced it.
    pub fn link_down(&self, link: &Link, reason: &str, next: LinkState, metrics: &Metrics) -> bool {
        let current = self.link.load();
        let is_current = current.as_ref().is_some_and(|c| c.same_session(link));
        if !is_current {
            return false;
        }
        self.link.store(None);
        self.set_state(next, Some(reason.to_string()), metrics);
        true
    }

    pub fn set_state(&self, state: LinkState, error: Option<String>, metrics: &Metrics) {
        let mut status = self.lock_status();
        status.state = state;
        if error.is_some() {
            status.last_error = error;
        }
        status.since = SystemTime::now();
        drop(status);
        self.metrics.link_up.set(i64::from(state == LinkState::Up));
        metrics.set_link_state(&self.id, state);
        self.link_changes.notify();
    }

    /// Closes the current link, if any (shutdown).
    pub fn close_link(&self, reason: &str) {
        if let Some(link) = self.link.swap(None) {
            link.close(reason);
        }
    }

    fn lock_status(&self) -> MutexGuard<'_, LinkStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use config_model::{Relation, SecretRef};

    use super::*;

    fn peer(link_changes: Arc<LinkChanges>, metrics: &Metrics) -> Peer {
        let secrets = tempfile::tempdir().expect("temp dir");
        let path = secrets.path().join("a");
        std::fs::write(&path, "token-a").expect("secret file");
        let secret_ref = SecretRef::File(path);
        let secret = secret_ref.resolve().expect("secret");
        let config = PeerConfig {
            id: "a".into(),
            url: None,
            relation: Relation::Peer,
            asset_code: "USD".into(),
            asset_scale: 9,
            max_packet_amount: None,
            credit_limit: None,
            secret_ref,
            auth_username: None,
            public_key: None,
            ilp_address: None,
        };
        Peer::new(
            config,
            Credential::secret(secret),
            Arc::default(),
            metrics,
            link_changes,
        )
    }

    async fn woken(changes: &LinkChanges) -> bool {
        tokio::time::timeout(Duration::from_millis(200), changes.next())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn every_state_change_wakes_the_watcher() {
        let metrics = Metrics::new();
        let changes = Arc::new(LinkChanges::default());
        let peer = peer(changes.clone(), &metrics);
        assert!(!woken(&changes).await, "a new peer has changed nothing yet");
        peer.set_state(LinkState::Backoff, Some("refused".into()), &metrics);
        assert!(woken(&changes).await, "set_state wakes the watcher");
        assert_eq!(peer.status().state, LinkState::Backoff);
        assert!(!woken(&changes).await, "one change, one wake");
    }
}
