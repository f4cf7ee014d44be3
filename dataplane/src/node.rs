//! The node's shared state: identity, settings, the route snapshot being served, metrics, and
//! the lifecycle flags readiness and draining are derived from.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use arc_swap::ArcSwap;
use btp_link::{AuthFailure, AuthRequest, LinkSettings};
use proto::Address;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{ConfigError, ForwardingConfig, NodeConfig};
use crate::metrics::Metrics;
use crate::peer::Peer;
use crate::routing::RouteTable;

/// Peers and routes, replaced as a whole and read without locks on the packet path.
pub struct Snapshot {
    pub peers: HashMap<Arc<str>, Arc<Peer>>,
    pub routes: RouteTable,
}

impl Snapshot {
    /// Resolves every peer's secret (here, at the edge) and builds the table. Fails on an
    /// unresolvable reference or two peers sharing a token, naming the peers, never the secret.
    pub fn build(config: &NodeConfig, metrics: &Metrics) -> Result<Snapshot, ConfigError> {
        let mut peers: HashMap<Arc<str>, Arc<Peer>> = HashMap::with_capacity(config.peers.len());
        for (index, peer_config) in config.peers.iter().enumerate() {
            let secret = peer_config.secret_ref.resolve().map_err(|problem| {
                ConfigError::new(
                    format!("peers[{index}].secretRef (peer {})", peer_config.id),
                    problem,
                )
            })?;
            let peer = Peer::new(peer_config.clone(), secret, metrics);
            if let Some(other) = peers.values().find(|p| p.token_digest == peer.token_digest) {
                return Err(ConfigError::new(
                    format!("peers[{index}].secretRef"),
                    format!(
                        "peers {} and {} resolve to the same secret; tokens identify peers and must be unique",
                        other.id, peer.id
                    ),
                ));
            }
            peers.insert(peer.id.clone(), Arc::new(peer));
        }
        let routes = RouteTable::new(config.routes.iter().filter_map(|route| {
            let peer = peers.get(route.peer.as_str())?;
            Some((route.prefix.as_str(), peer.id.clone()))
        }));
        Ok(Snapshot { peers, routes })
    }
}

pub struct Node {
    pub node_id: String,
    pub address: Address,
    pub forwarding: ForwardingConfig,
    pub link_settings: LinkSettings,
    pub metrics: Metrics,
    snapshot: ArcSwap<Snapshot>,
    started: Instant,
    listening: AtomicBool,
    routes_loaded: AtomicBool,
    draining: AtomicBool,
    in_flight: AtomicUsize,
}

impl Node {
    pub fn new(config: &NodeConfig) -> Result<Node, ConfigError> {
        let metrics = Metrics::new();
        let snapshot = Snapshot::build(config, &metrics)?;
        metrics
            .routes
            .set(i64::try_from(snapshot.routes.len()).unwrap_or(i64::MAX));
        Ok(Node {
            node_id: config.node_id.clone(),
            address: config.ilp_address.clone(),
            forwarding: config.forwarding.clone(),
            link_settings: LinkSettings::default(),
            metrics,
            snapshot: ArcSwap::from_pointee(snapshot),
            started: Instant::now(),
            listening: AtomicBool::new(false),
            // Standalone mode serves its configured table from the start.
            routes_loaded: AtomicBool::new(true),
            draining: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
        })
    }

    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.snapshot.load()
    }

    /// Finds the peer a token belongs to. Every peer's digest is compared, in constant time and
    /// without stopping at a match, so timing says nothing about which tokens exist.
    pub fn authenticate(&self, request: &AuthRequest) -> Result<Arc<Peer>, AuthFailure> {
        let presented: [u8; 32] = Sha256::digest(&request.token).into();
        let snapshot = self.snapshot();
        let mut found: Option<&Arc<Peer>> = None;
        for peer in snapshot.peers.values() {
            if bool::from(peer.token_digest.ct_eq(&presented)) {
                found = Some(peer);
            }
        }
        let peer = found.ok_or(AuthFailure::InvalidToken)?;
        if let Some(username) = &request.username
            && username.as_str() != &*peer.id
        {
            return Err(AuthFailure::UsernameMismatch);
        }
        Ok(peer.clone())
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    pub fn set_listening(&self) {
        self.listening.store(true, Ordering::Release);
        self.update_ready();
    }

    pub fn is_ready(&self) -> bool {
        self.listening.load(Ordering::Acquire)
            && self.routes_loaded.load(Ordering::Acquire)
            && !self.is_draining()
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
        self.update_ready();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Counts a Prepare as in flight until the guard is dropped.
    pub(crate) fn track_in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.metrics.in_flight.inc();
        InFlight { node: self }
    }

    fn update_ready(&self) {
        self.metrics.ready.set(i64::from(self.is_ready()));
    }
}

pub(crate) struct InFlight<'a> {
    node: &'a Node,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.node.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.node.metrics.in_flight.dec();
    }
}
