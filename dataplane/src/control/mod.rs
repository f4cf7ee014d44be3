//! Managed mode: the data plane dials its control plane (`CONTROLPLANE_URL`), says Hello with
//! the version it holds, and applies every pushed snapshot off the packet path, answering Ack
//! or Nack (the old table keeps serving on Nack). The last applied snapshot is saved, so a
//! restart while the control plane is down serves it again. Link states and balances are
//! reported back up the same stream.

mod saved;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use proto::grpc::v1 as pb;
use proto::grpc::v1::config_service_client::ConfigServiceClient;
use service_runtime::telemetry;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tracing::{info, warn};

use crate::backoff::Backoff;
use crate::config::Secret;
use crate::node::Node;

pub use saved::SavedSnapshot;

/// The name of the config stream among the node's dependencies (`/health`).
pub const DEPENDENCY: &str = "controlplane";
/// How a managed data plane reaches its control plane.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    pub url: String,
    pub token: Secret,
    /// Where the last applied snapshot is kept.
    pub data_dir: PathBuf,
    /// The CA (PEM) to trust for an https:// URL.
    pub ca_pem: Option<Vec<u8>>,
}

/// Balances change with every packet; send them at most this often when links are quiet.
const BALANCE_INTERVAL: Duration = Duration::from_secs(5);

/// What this data plane serves now, as the control plane knows it.
#[derive(Debug, Clone, Default)]
struct Held {
    version: Option<pb::ConfigVersion>,
    content_hash: String,
}

/// Loads the saved snapshot, if any, and serves it until the control plane is reachable.
pub fn restore(node: &Arc<Node>, control: &ControlPlane) -> Option<SavedSnapshot> {
    let saved = match SavedSnapshot::load(&control.data_dir) {
        Ok(Some(saved)) => saved,
        Ok(None) => return None,
        Err(error) => {
            warn!(%error, "saved_snapshot_unreadable");
            return None;
        }
    };
    let applied = config_model::grpc::table_from_snapshot(&saved.snapshot)
        .map_err(|e| e.to_string())
        .and_then(|(peers, routes)| node.apply(&peers, &routes).map_err(|e| e.to_string()));
    match applied {
        Ok(_) => {
            info!(version = ?saved.snapshot.version, "saved_snapshot_restored");
            let generation = saved
                .snapshot
                .version
                .map(|v| v.generation)
                .unwrap_or_default();
            node.metrics
                .config_generation
                .set(i64::try_from(generation).unwrap_or(i64::MAX));
            Some(saved)
        }
        Err(error) => {
            warn!(%error, "saved_snapshot_not_applied");
            None
        }
    }
}

/// Keeps a config stream to the control plane open until `stop` turns true.
pub async fn run(
    node: Arc<Node>,
    control: ControlPlane,
    restored: Option<SavedSnapshot>,
    mut stop: watch::Receiver<bool>,
) {
    let mut held = restored
        .map(|saved| Held {
            version: saved.snapshot.version,
            content_hash: saved.snapshot.content_hash,
        })
        .unwrap_or_default();
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    loop {
        let started = std::time::Instant::now();
        node.dependencies.set(DEPENDENCY, "connecting", None);
        let outcome = tokio::select! {
            outcome = session(&node, &control, &mut held) => outcome,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        match outcome {
            Ok(()) => {
                warn!(url = %control.url, "controlplane_stream_ended");
                node.dependencies.set(
                    DEPENDENCY,
                    "disconnected",
                    Some("the control plane ended the config stream".into()),
                );
            }
            Err(error) => {
                warn!(url = %control.url, %error, "controlplane_unreachable");
                node.dependencies
                    .set(DEPENDENCY, "disconnected", Some(error));
            }
        }
        if started.elapsed() > Duration::from_secs(10) {
            backoff.reset();
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

async fn session(node: &Arc<Node>, control: &ControlPlane, held: &mut Held) -> Result<(), String> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(control.url.clone())
        .map_err(|e| format!("CONTROLPLANE_URL {}: {e}", control.url))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10));
    if let Some(ca) = &control.ca_pem {
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(ca));
        endpoint = endpoint.tls_config(tls).map_err(|e| format!("TLS: {e}"))?;
    }
    let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
    let mut client = ConfigServiceClient::new(channel);
    let (tx, rx) = mpsc::channel::<pb::DataPlaneMessage>(16);
    let hello = pb::DataPlaneMessage {
        message: Some(pb::data_plane_message::Message::Hello(pb::Hello {
            node_id: node.node_id.clone(),
            held_version: held.version,
            held_content_hash: held.content_hash.clone(),
            software_version: env!("CARGO_PKG_VERSION").to_string(),
        })),
    };
    tx.send(hello).await.map_err(|_| "stream closed")?;
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    let bearer = format!("Bearer {}", control.token.expose())
        .parse()
        .map_err(|_| "the control plane token is not a valid header value")?;
    request.metadata_mut().insert("authorization", bearer);
    let mut snapshots = client
        .stream_config(request)
        .await
        .map_err(|s| format!("{}: {}", s.code(), s.message()))?
        .into_inner();
    info!(url = %control.url, "controlplane_connected");
    node.metrics.controlplane_connected.set(1);
    node.dependencies.set(DEPENDENCY, "connected", None);
    let reporter = tokio::spawn(report_loop(node.clone(), tx.clone()));
    let result = loop {
        let snapshot = match snapshots.message().await {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => break Ok(()),
            Err(status) => break Err(format!("{}: {}", status.code(), status.message())),
        };
        let answer = apply(node, control, &snapshot);
        let message = match answer {
            Ok(()) => {
                held.version = snapshot.version;
                held.content_hash = snapshot.content_hash.clone();
                pb::data_plane_message::Message::Ack(pb::Ack {
                    nonce: snapshot.nonce,
                })
            }
            Err(error) => pb::data_plane_message::Message::Nack(pb::Nack {
                nonce: snapshot.nonce,
                error,
            }),
        };
        if tx
            .send(pb::DataPlaneMessage {
                message: Some(message),
            })
            .await
            .is_err()
        {
            break Ok(());
        }
    };
    reporter.abort();
    node.metrics.controlplane_connected.set(0);
    result
}

/// Builds and swaps in the pushed table; on success saves it. Errors become the Nack text.
fn apply(node: &Arc<Node>, control: &ControlPlane, snapshot: &pb::Snapshot) -> Result<(), String> {
    let span = if telemetry::traces_enabled() {
        let span = tracing::info_span!(
            "config.apply",
            otel.kind = "consumer",
            config.epoch = snapshot.version.map(|v| v.epoch).unwrap_or_default(),
            config.generation = snapshot.version.map(|v| v.generation).unwrap_or_default(),
            config.result = tracing::field::Empty,
        );
        telemetry::set_remote_parent(&span, snapshot.traceparent.as_bytes());
        span
    } else {
        tracing::Span::none()
    };
    let _entered = span.enter();
    let result = apply_table(node, control, snapshot);
    let metrics = &node.metrics;
    match &result {
        Ok(()) => {
            metrics.config_applied.inc();
            let generation = snapshot.version.map(|v| v.generation).unwrap_or_default();
            metrics
                .config_generation
                .set(i64::try_from(generation).unwrap_or(i64::MAX));
            span.record("config.result", "applied");
        }
        Err(_) => {
            metrics.config_rejected.inc();
            span.record("config.result", "rejected");
        }
    }
    result
}

fn apply_table(
    node: &Arc<Node>,
    control: &ControlPlane,
    snapshot: &pb::Snapshot,
) -> Result<(), String> {
    let version = snapshot.version.map(|v| (v.epoch, v.generation));
    let (peers, routes) = config_model::grpc::table_from_snapshot(snapshot)
        .map_err(|e| e.to_string())
        .inspect_err(|error| warn!(?version, %error, "config_nacked"))?;
    match node.apply(&peers, &routes) {
        Ok(applied) => {
            info!(
                ?version,
                added = ?applied.added,
                updated = ?applied.updated,
                replaced = ?applied.replaced,
                removed = ?applied.removed,
                routes = applied.routes,
                "config_applied"
            );
            if let Err(error) = SavedSnapshot::save(&control.data_dir, snapshot) {
                // Serving it matters more than saving it; the next push saves again.
                warn!(%error, "snapshot_not_saved");
            }
            Ok(())
        }
        Err(error) => {
            warn!(?version, %error, "config_nacked");
            Err(error.to_string())
        }
    }
}

/// Sends link states when they change (and balances now and then).
async fn report_loop(node: Arc<Node>, tx: mpsc::Sender<pb::DataPlaneMessage>) {
    let mut last_links: Vec<pb::LinkStatus> = Vec::new();
    let mut last_address: Option<Arc<crate::node::NodeAddress>> = None;
    let mut last_balances = std::time::Instant::now() - BALANCE_INTERVAL;
    let mut first = true;
    loop {
        if !first {
            // Woken by a link change, or after a while for the balances.
            let _ = tokio::time::timeout(BALANCE_INTERVAL, node.next_link_change()).await;
        }
        first = false;
        let snapshot = node.snapshot();
        let mut peers: Vec<_> = snapshot.peers.values().collect();
        peers.sort_by(|a, b| a.id.cmp(&b.id));
        let links: Vec<pb::LinkStatus> = peers
            .iter()
            .map(|peer| {
                let status = peer.status();
                pb::LinkStatus {
                    peer_id: peer.id.to_string(),
                    state: status.state.as_str().to_string(),
                    last_error: status.last_error.unwrap_or_default(),
                }
            })
            .collect();
        let address = node.address();
        let links_changed = links != last_links || address != last_address;
        if !links_changed && last_balances.elapsed() < BALANCE_INTERVAL {
            continue;
        }
        let balances = peers
            .iter()
            .map(|peer| {
                let balance = peer.balance.snapshot();
                pb::PeerBalance {
                    peer_id: peer.id.to_string(),
                    balance: balance.balance.to_string(),
                    pending_incoming: balance.pending_incoming.to_string(),
                }
            })
            .collect();
        let report = pb::Report {
            links: links.clone(),
            balances,
            ilp_address: address
                .as_ref()
                .map(|a| a.address.as_str().to_string())
                .unwrap_or_default(),
            address_source: address
                .as_ref()
                .map(|a| a.source.as_str().to_string())
                .unwrap_or_default(),
        };
        if tx
            .send(pb::DataPlaneMessage {
                message: Some(pb::data_plane_message::Message::Report(report)),
            })
            .await
            .is_err()
        {
            return;
        }
        last_links = links;
        last_address = address;
        last_balances = std::time::Instant::now();
    }
}
