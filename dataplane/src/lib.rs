//! The data plane: BTP links to peers and the RFC 27 forwarding pipeline between them.
//!
//! [`run`] starts a node from a [`config::NodeConfig`]: it listens for peers on the BTP port,
//! dials the peers that have a URL, serves `/health` and `/metrics`, and on shutdown drains
//! in-flight Prepares before closing its links.

pub mod backoff;
pub mod balance;
pub mod config;
pub mod control;
pub mod http;
pub mod ildcp;
pub mod ledger;
pub mod link_state;
pub mod links;
pub mod metrics;
pub mod node;
pub mod peer;
pub mod pipeline;
pub mod routing;
pub mod service_level;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use service_runtime::listen::{BindError, listen};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::{ConfigError, NodeConfig};
use crate::node::Node;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Bind(#[from] BindError),
}

/// A bad configuration found only at start (an unreadable key file) exits 2 like one found
/// before.
impl service_runtime::service_main::Failure for StartError {
    fn is_config(&self) -> bool {
        matches!(self, StartError::Config(_))
    }
}

/// Runs a node until `shutdown` resolves, then drains and stops.
pub async fn run(config: NodeConfig, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
    let node_key = match &config.node_key_file {
        None => None,
        Some(path) => Some(
            node_identity::key_file::load_or_create(path)
                .map_err(|problem| ConfigError::new("NODE_KEY_FILE", problem))?,
        ),
    };
    let metrics = metrics::Metrics::new();
    let (ledger, flusher) = open_ledger(&config, &metrics)?;
    let node = Arc::new(Node::with_parts(&config, node_key, ledger, metrics));
    let flusher = match flusher {
        Some(interval) => Some(start_flusher(&node, interval)?),
        None => None,
    };
    #[cfg(feature = "tigerbeetle")]
    let refresher = node.ledger.tigerbeetle().map(|ledger| {
        node.dependencies
            .set(LEDGER_DEPENDENCY, "connecting", ledger.last_error());
        tokio::spawn(refresh_from_tigerbeetle(node.clone(), ledger.clone()))
    });
    let (btp_listener, btp_port) = listen("BTP peers", &config.btp_host, config.btp_port).await?;
    let (health_listener, health_port) =
        listen("health checks", &config.health_host, config.health_port).await?;

    let (stop_http, http_stop) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    // The service-level figures of /health, sampled off the packet path until shutdown.
    let sampled = node.clone();
    let sampler = tokio::spawn(async move {
        let mut every = tokio::time::interval(service_level::SAMPLE_EVERY);
        loop {
            every.tick().await;
            sampled.service_level.sample(&sampled.metrics);
        }
    });
    let router = http::router(node.clone());
    tasks.spawn(async move {
        let mut http_stop = http_stop;
        let served = axum::serve(health_listener, router)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(error) = served {
            warn!(%error, "health_server_failed");
        }
    });
    match &config.control_plane {
        None => {
            node.apply(&config.peers, &config.routes)
                .map_err(ConfigError::from)?;
        }
        Some(managed) => {
            if !config.peers.is_empty() || !config.routes.is_empty() {
                warn!("managed mode: peers and routes from CONFIG_FILE and BTP_PEER_* are ignored");
            }
            let token = managed
                .token_ref
                .resolve()
                .map_err(|problem| ConfigError::new("CONTROLPLANE_TOKEN_REF", problem))?;
            let ca_pem = match &managed.ca_file {
                None => None,
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    ConfigError::new("CONTROLPLANE_CA_FILE", format!("{}: {e}", path.display()))
                })?),
            };
            let control = control::ControlPlane {
                url: managed.url.clone(),
                token,
                data_dir: config.data_dir.clone(),
                ca_pem,
            };
            // Listed from the start, before the stream task first runs: /health never shows a
            // managed node without its control plane.
            node.dependencies
                .set(control::DEPENDENCY, "connecting", None);
            let restored = control::restore(&node, &control);
            tasks.spawn(control::run(
                node.clone(),
                control,
                restored,
                node.stop_signal(),
            ));
        }
    }
    tasks.spawn(links::serve(node.clone(), btp_listener, node.stop_signal()));
    if config.ilp_address.is_none() {
        // A configured address always wins: only without one is the parent asked.
        tasks.spawn(ildcp::learn_address(node.clone(), node.stop_signal()));
    }
    node.set_listening();
    info!(
        nodeId = %node.node_id,
        ilpAddress = node.address().map(|a| a.address.to_string()).unwrap_or_default(),
        addressSource = node.address().map_or("ildcp (awaiting)", |a| a.source.as_str()),
        btpServerPort = btp_port,
        healthPort = health_port,
        peers = node.snapshot().peers.len(),
        routes = node.snapshot().routes.len(),
        version = env!("CARGO_PKG_VERSION"),
        tracesExported = service_runtime::telemetry::traces_enabled(),
        "connector_started"
    );

    shutdown.await;
    info!(nodeId = %node.node_id, inFlight = node.in_flight(), "connector_draining");
    node.start_draining();
    let drained = wait_for_drain(&node, config.forwarding.shutdown_timeout).await;
    node.stop();
    for peer in node.snapshot().peers.values() {
        peer.close_link("node shutting down");
    }
    let _ = stop_http.send(true);
    sampler.abort();
    #[cfg(feature = "tigerbeetle")]
    if let Some(refresher) = refresher {
        refresher.abort();
    }
    // Last, once nothing can move a balance any more: a graceful stop loses nothing.
    if let Some(flusher) = flusher {
        match flusher.stop() {
            Ok(()) => info!(accounts = node.ledger.balances().len(), "ledger_saved"),
            Err(error) => warn!(%error, "ledger_save_failed"),
        }
    }
    // Give the tasks a moment to send their close frames; none of them holds anything that
    // must be saved.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    info!(nodeId = %node.node_id, drained, abandoned = node.in_flight(), "connector_shutdown");
    Ok(())
}

/// Opens the configured ledger (restoring the embedded one from `DATA_DIR`) and says how often
/// to flush it, if at all.
fn open_ledger(
    config: &NodeConfig,
    metrics: &metrics::Metrics,
) -> Result<(Arc<ledger::Ledger>, Option<Duration>), ConfigError> {
    let (ledger, recovered) = ledger::Ledger::open(
        &config.ledger,
        &config.data_dir,
        &config.node_id,
        &metrics.ledger,
    )
    .map_err(|error| match error {
        ledger::OpenError::Journal(error) => ConfigError::new("DATA_DIR", error.to_string()),
        ledger::OpenError::TigerBeetle(problem) => ConfigError::new("LEDGER", problem),
    })?;
    let interval = match &config.ledger {
        ledger::LedgerConfig::Embedded { flush_interval } => {
            if recovered.torn_bytes > 0 {
                warn!(
                    tornBytes = recovered.torn_bytes,
                    "ledger_unfinished_batch_dropped"
                );
            }
            info!(
                directory = %config.data_dir.join("ledger").display(),
                accounts = recovered.balances.len(),
                batchesReplayed = recovered.batches_replayed,
                "ledger_restored"
            );
            Some(*flush_interval)
        }
        ledger::LedgerConfig::TigerBeetle(settings) => {
            info!(addresses = %settings.addresses, clusterId = %settings.cluster_id, "ledger_tigerbeetle");
            None
        }
        ledger::LedgerConfig::Memory => None,
    };
    Ok((Arc::new(ledger), interval))
}

/// The embedded ledger's flusher, reporting its health to `/health` and readiness.
fn start_flusher(
    node: &Arc<Node>,
    interval: Duration,
) -> Result<ledger::flusher::Flusher, ConfigError> {
    node.dependencies.set(LEDGER_DEPENDENCY, "ok", None);
    let reported = node.clone();
    ledger::flusher::Flusher::spawn(
        node.ledger.clone(),
        interval,
        node.metrics.ledger.clone(),
        Box::new(move |error| {
            match error {
                Some(error) => {
                    reported
                        .dependencies
                        .set(LEDGER_DEPENDENCY, "failing", Some(error.to_string()))
                }
                None => reported.dependencies.set(LEDGER_DEPENDENCY, "ok", None),
            }
            reported.update_ready();
        }),
    )
    .map_err(|e| ConfigError::new("LEDGER", format!("cannot start the flusher thread: {e}")))
}

/// Reads balances from TigerBeetle into the peers' views (for `/health`, the control plane's
/// reports and `ilp_peer_balance`), which also probes the cluster: readiness and the `ledger`
/// dependency follow whether it answers.
#[cfg(feature = "tigerbeetle")]
async fn refresh_from_tigerbeetle(node: Arc<Node>, ledger: Arc<ledger::tigerbeetle::TigerBeetle>) {
    let mut every = tokio::time::interval(ledger::tigerbeetle::REFRESH_EVERY);
    let mut was_healthy = None;
    loop {
        every.tick().await;
        let snapshot = node.snapshot();
        let views: Vec<_> = snapshot
            .peers
            .values()
            .map(|peer| {
                let settings = peer.settings();
                let accounts = ledger::tigerbeetle::PeerAccounts::new(
                    &node.node_id,
                    &peer.id,
                    &settings.asset_code,
                    settings.asset_scale,
                );
                (peer.id.to_string(), accounts, peer.balance.clone())
            })
            .collect();
        ledger.refresh(&views).await;
        for peer in snapshot.peers.values() {
            peer.metrics
                .balance
                .set(peer.balance.snapshot().balance as f64);
        }
        let healthy = ledger.is_healthy();
        if was_healthy != Some(healthy) {
            was_healthy = Some(healthy);
            let state = if healthy { "ok" } else { "unreachable" };
            node.dependencies
                .set(LEDGER_DEPENDENCY, state, ledger.last_error());
            node.update_ready();
        }
    }
}

/// The ledger's name among `/health`'s dependencies.
pub const LEDGER_DEPENDENCY: &str = "ledger";

/// Waits until no Prepare is in flight, or `limit` passes. True if everything finished.
async fn wait_for_drain(node: &Node, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while node.in_flight() > 0 {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}
