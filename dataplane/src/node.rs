//! The node's shared state: identity, settings, the route snapshot being served, metrics, and
//! the lifecycle flags readiness and draining are derived from.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::Instant;

use arc_swap::{ArcSwap, ArcSwapOption};
use btp_link::{AuthFailure, AuthRequest, LinkSettings};
use proto::Address;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use config_model::{PeerConfig, RouteConfig};
use tokio::sync::watch;

use crate::config::{ConfigError, ForwardingConfig, NodeConfig};
use crate::ledger::Ledger;
use crate::link_state::LinkChanges;
use crate::metrics::Metrics;
use crate::peer::{Credential, Peer};
use crate::routing::RouteTable;
use crate::service_level::ServiceLevel;
use service_runtime::dependencies::Dependencies;

/// Peers and routes, replaced as a whole and read without locks on the packet path.
#[derive(Default)]
pub struct Snapshot {
    pub peers: HashMap<Arc<str>, Arc<Peer>>,
    pub routes: RouteTable,
}

/// Why a new table of peers and routes was not applied. The old table keeps serving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Invalid(#[from] config_model::TableError),
    #[error("peers[{index}].secretRef (peer {peer}): {problem}")]
    Secret {
        index: usize,
        peer: String,
        problem: String,
    },
    #[error(
        "peers[{index}].secretRef: peers {first} and {second} resolve to the same secret; tokens identify peers and must be unique"
    )]
    DuplicateToken {
        index: usize,
        first: String,
        second: String,
    },
}

impl From<ApplyError> for ConfigError {
    fn from(error: ApplyError) -> ConfigError {
        match error {
            ApplyError::Invalid(e) => ConfigError::new(e.field, e.problem),
            ApplyError::Secret {
                index,
                peer,
                problem,
            } => ConfigError::new(format!("peers[{index}].secretRef (peer {peer})"), problem),
            ApplyError::DuplicateToken {
                index,
                first,
                second,
            } => ConfigError::new(
                format!("peers[{index}].secretRef"),
                format!(
                    "peers {first} and {second} resolve to the same secret; tokens identify peers and must be unique"
                ),
            ),
        }
    }
}

/// What an applied table changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub added: Vec<String>,
    /// Same connection, new settings: the link stayed up.
    pub updated: Vec<String>,
    /// New connection identity (URL, secret or username): a new link.
    pub replaced: Vec<String>,
    pub removed: Vec<String>,
    pub routes: usize,
}

/// Where the node's ILP address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    /// `ILP_ADDRESS` / `ilpAddress`: always wins, no ILDCP request is made.
    Configured,
    /// Learned from the parent by ILDCP (RFC 31).
    Ildcp,
}

impl AddressSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressSource::Configured => "configured",
            AddressSource::Ildcp => "ildcp",
        }
    }
}

/// The node's ILP address, where it came from, and (when learned by ILDCP) the asset the
/// parent said our account with it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddress {
    pub address: Address,
    pub source: AddressSource,
    /// `(code, scale)` from the parent's ILDCP answer; `None` when configured.
    pub asset: Option<(String, u8)>,
}

/// Bits of `Node::blocked`: why Prepares are refused before any other check.
const DRAINING: u8 = 1;
const AWAITING_ADDRESS: u8 = 2;

pub struct Node {
    pub node_id: String,
    /// Swapped when ILDCP answers; `None` until then. Read on the packet path only to build our
    /// own Rejects (and ILDCP answers), through `arc_swap`: no lock.
    address: ArcSwapOption<NodeAddress>,
    pub forwarding: ForwardingConfig,
    pub link_settings: LinkSettings,
    pub metrics: Metrics,
    snapshot: ArcSwap<Snapshot>,
    started: Instant,
    listening: AtomicBool,
    routes_loaded: AtomicBool,
    /// `DRAINING | AWAITING_ADDRESS`: one load on the packet path tells whether either refuses
    /// the Prepare, as the draining flag alone did before ILDCP.
    blocked: AtomicU8,
    in_flight: AtomicUsize,
    /// Turned true at shutdown: dialers and the BTP server stop.
    stop: watch::Sender<bool>,
    /// Woken on every link state change (the control plane reporter listens); each peer holds
    /// it too, and wakes it itself.
    link_changes: Arc<LinkChanges>,
    /// Signs our tokens for links authenticated with node keys.
    node_key: Option<node_identity::NodeKey>,
    /// What the node depends on (the control plane in managed mode), for `/health`.
    pub dependencies: Dependencies,
    /// The last minute's success rate and p99, for `/health`.
    pub service_level: ServiceLevel,
    /// Every peer's account; a peer's `balance` is its account here.
    pub ledger: Arc<Ledger>,
}

impl Node {
    /// A node serving nothing yet: [`Node::apply`] gives it peers and routes.
    /// With an in-memory ledger and no node key (tests and tools).
    pub fn new(config: &NodeConfig) -> Node {
        Node::with_parts(config, None, Arc::new(Ledger::in_memory()), Metrics::new())
    }

    /// `metrics` are made first because the ledger reports into them.
    pub fn with_parts(
        config: &NodeConfig,
        node_key: Option<node_identity::NodeKey>,
        ledger: Arc<Ledger>,
        metrics: Metrics,
    ) -> Node {
        Node {
            ledger,
            node_key,
            node_id: config.node_id.clone(),
            address: ArcSwapOption::new(config.ilp_address.clone().map(|address| {
                Arc::new(NodeAddress {
                    address,
                    source: AddressSource::Configured,
                    asset: None,
                })
            })),
            forwarding: config.forwarding.clone(),
            link_settings: LinkSettings::default(),
            metrics,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            started: Instant::now(),
            listening: AtomicBool::new(false),
            routes_loaded: AtomicBool::new(false),
            blocked: AtomicU8::new(if config.ilp_address.is_some() {
                0
            } else {
                AWAITING_ADDRESS
            }),
            in_flight: AtomicUsize::new(0),
            stop: watch::channel(false).0,
            link_changes: Arc::default(),
            dependencies: Dependencies::default(),
            service_level: ServiceLevel::default(),
        }
    }

    /// Validates a new table, resolves its secrets, and swaps it in atomically. Peers whose
    /// connection is unchanged keep their `Peer` (so their link and balance); peers that left
    /// are retired. On error nothing changes. Returns, beside what changed, the new peers with a
    /// URL: nothing dials them yet. `Node::apply` (in `links`) is this plus their dialers.
    pub fn swap_table(
        &self,
        peers: &[PeerConfig],
        routes: &[RouteConfig],
    ) -> Result<(Applied, Vec<Arc<Peer>>), ApplyError> {
        config_model::validate_table(peers, routes)?;
        if !self.forwarding.track_balances
            && let Some(index) = peers.iter().position(|p| p.credit_limit.is_some())
        {
            return Err(ApplyError::Invalid(config_model::TableError {
                field: format!("peers[{index}].creditLimit"),
                problem: "credit limits need balance tracking, which is off (TRACK_BALANCES=false)"
                    .into(),
            }));
        }
        let old = self.snapshot.load_full();
        let mut applied = Applied::default();
        let mut table: HashMap<Arc<str>, Arc<Peer>> = HashMap::with_capacity(peers.len());
        let mut to_dial = Vec::new();
        // Applied only once the whole table is known to be good.
        let mut settings_changes = Vec::new();
        let mut token_owners: HashMap<[u8; 32], &str> = HashMap::with_capacity(peers.len());
        for (index, config) in peers.iter().enumerate() {
            let credential = self
                .credential(config)
                .map_err(|problem| ApplyError::Secret {
                    index,
                    peer: config.id.clone(),
                    problem,
                })?;
            // By digest, in a map: comparing every pair made 1k peers cost ~1M hashes. Timing
            // here reveals nothing to a peer; only authentication compares in constant time.
            if let Credential::Secret { digest, .. } = &credential
                && let Some(first) = token_owners.insert(*digest, config.id.as_str())
            {
                return Err(ApplyError::DuplicateToken {
                    index,
                    first: first.to_string(),
                    second: config.id.clone(),
                });
            }
            let peer = match old.peers.get(config.id.as_str()) {
                Some(existing) if existing.same_connection(config, &credential) => {
                    if **existing.settings() != *config {
                        applied.updated.push(config.id.clone());
                        settings_changes.push((existing.clone(), config.clone()));
                    }
                    existing.clone()
                }
                previous => {
                    if previous.is_some() {
                        applied.replaced.push(config.id.clone());
                    } else {
                        applied.added.push(config.id.clone());
                    }
                    let peer = Arc::new(Peer::new(
                        config.clone(),
                        credential,
                        self.ledger.account(&config.id),
                        &self.metrics,
                        self.link_changes.clone(),
                    ));
                    if config.url.is_some() {
                        to_dial.push(peer.clone());
                    }
                    peer
                }
            };
            table.insert(peer.id.clone(), peer);
        }
        let routes = RouteTable::new(routes.iter().filter_map(|route| {
            let peer = table.get(route.peer.as_str())?;
            Some((route.prefix.as_str(), peer.id.clone()))
        }));
        applied.routes = routes.len();
        for (peer, config) in settings_changes {
            peer.update_settings(config);
        }
        self.snapshot.store(Arc::new(Snapshot {
            peers: table,
            routes,
        }));
        let current = self.snapshot.load();
        for (id, peer) in &old.peers {
            let kept = current.peers.get(id).is_some_and(|p| Arc::ptr_eq(p, peer));
            if !kept {
                if !current.peers.contains_key(id) {
                    applied.removed.push(id.to_string());
                }
                peer.retire("peer removed or replaced by a configuration change");
            }
        }
        self.metrics
            .routes
            .set(i64::try_from(applied.routes).unwrap_or(i64::MAX));
        self.routes_loaded.store(true, Ordering::Release);
        self.update_ready();
        Ok((applied, to_dial))
    }

    /// Resolves at the next link state change (or one made since the last wait). For the one
    /// control plane reporter; anyone else subscribes with [`Node::link_changes`].
    pub async fn next_link_change(&self) {
        self.link_changes.next().await;
    }

    /// A receiver woken by every link state change of any peer.
    pub fn link_changes(&self) -> watch::Receiver<u64> {
        self.link_changes.subscribe()
    }

    /// The secret a peer's reference points to, or its node public key.
    fn credential(&self, config: &PeerConfig) -> Result<Credential, String> {
        match &config.secret_ref {
            config_model::SecretRef::NodeKey => {
                if self.node_key.is_none() {
                    return Err(
                        "node-key: this data plane has no node key (set NODE_KEY_FILE)".into(),
                    );
                }
                let key = config.public_key.as_deref().unwrap_or_default();
                node_identity::PublicKey::from_base64(key)
                    .map(Credential::NodeKey)
                    .map_err(|e| format!("publicKey: {e}"))
            }
            reference => reference.resolve().map(Credential::secret),
        }
    }

    /// The token to present when dialling `peer`: its shared secret, or a fresh token signed
    /// with our node key.
    pub fn dial_token(&self, peer: &Peer) -> Option<String> {
        match &peer.credential {
            Credential::Secret { secret, .. } => Some(secret.expose().to_string()),
            Credential::NodeKey(_) => {
                let now = proto::Timestamp::now().unix_ms();
                self.node_key
                    .as_ref()
                    .map(|key| node_identity::link_token::token(key, &self.node_id, &peer.id, now))
            }
        }
    }

    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Stops dialers and the BTP server (shutdown).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.snapshot.load()
    }

    /// The peer with `relation: parent`, if any (the table has one at most, RFC 34).
    pub fn parent(&self) -> Option<Arc<Peer>> {
        self.snapshot()
            .peers
            .values()
            .find(|peer| peer.settings().relation == config_model::Relation::Parent)
            .cloned()
    }

    /// Finds the peer a token belongs to. Every peer's digest is compared, in constant time and
    /// without stopping at a match, so timing says nothing about which tokens exist.
    pub fn authenticate(&self, request: &AuthRequest) -> Result<Arc<Peer>, AuthFailure> {
        let snapshot = self.snapshot();
        let peer = match node_identity::link_token::LinkToken::parse(&request.token) {
            Some(token) => {
                let peer = snapshot
                    .peers
                    .get(token.dialer.as_str())
                    .ok_or(AuthFailure::InvalidToken)?;
                let Credential::NodeKey(public_key) = &peer.credential else {
                    return Err(AuthFailure::InvalidToken);
                };
                token
                    .verify(public_key, &self.node_id, proto::Timestamp::now().unix_ms())
                    .map_err(|_| AuthFailure::InvalidToken)?;
                peer
            }
            None => {
                // Every peer's digest is compared, in constant time and without stopping at a
                // match, so timing says nothing about which tokens exist.
                let presented: [u8; 32] = Sha256::digest(&request.token).into();
                let mut found: Option<&Arc<Peer>> = None;
                for peer in snapshot.peers.values() {
                    if let Credential::Secret { digest, .. } = &peer.credential
                        && bool::from(digest.ct_eq(&presented))
                    {
                        found = Some(peer);
                    }
                }
                found.ok_or(AuthFailure::InvalidToken)?
            }
        };
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
            && self.blocked() == 0
            && !self.ledger.is_failing()
    }

    pub fn start_draining(&self) {
        self.blocked.fetch_or(DRAINING, Ordering::AcqRel);
        self.update_ready();
    }

    pub fn is_draining(&self) -> bool {
        self.blocked() & DRAINING != 0
    }

    /// True until the node knows its ILP address (learned by ILDCP when not configured).
    pub fn is_awaiting_address(&self) -> bool {
        self.blocked() & AWAITING_ADDRESS != 0
    }

    /// Non-zero when Prepares are refused outright (draining, or no address yet).
    pub(crate) fn blocked(&self) -> u8 {
        self.blocked.load(Ordering::Acquire)
    }

    /// The node's address and its source; `None` while awaiting ILDCP.
    pub fn address(&self) -> Option<Arc<NodeAddress>> {
        self.address.load_full()
    }

    /// Our address for a Reject's `triggeredBy`, without taking a reference count.
    pub(crate) fn address_guard(&self) -> arc_swap::Guard<Option<Arc<NodeAddress>>> {
        self.address.load()
    }

    /// Installs the address (ILDCP's answer), returns the one it replaces, and lets Prepares
    /// through if they were waiting for it.
    pub fn set_address(&self, address: NodeAddress) -> Option<Arc<NodeAddress>> {
        let previous = self.address.swap(Some(Arc::new(address)));
        self.blocked.fetch_and(!AWAITING_ADDRESS, Ordering::AcqRel);
        self.update_ready();
        // The control plane reporter sends the address with the link states: wake it.
        self.link_changes.notify();
        previous
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

    /// Sets the readiness gauge from the flags (also called when the ledger's health changes).
    pub fn update_ready(&self) {
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
