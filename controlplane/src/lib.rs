//! The control plane: peers, routes, secret references, balances and discovery state in SQLite;
//! the gRPC management API; versioned configuration pushed to data planes.

pub mod api;
pub mod auth;
pub mod commit;
pub mod convert;
pub mod discovery;
pub mod events;
pub mod grpc_observer;
pub mod metrics;
pub mod push;
pub mod seed;
pub mod server;
pub mod settings;
pub mod store;

use std::future::Future;
use std::sync::Arc;

use service_runtime::listen::{BindError, listen};

use crate::api::State;
use crate::auth::BearerAuth;
use crate::events::Events;
use crate::push::ConfigHub;
use crate::settings::Settings;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("NODE_KEY_FILE: {0}")]
    NodeKey(String),
    #[error("discovery: {0}")]
    Discovery(String),
    #[error("TLS: cannot read {path}: {source}")]
    Tls {
        path: String,
        source: std::io::Error,
    },
}

impl service_runtime::service_main::Failure for RunError {}

fn stopping_for_discovery(state: &State) -> tokio::sync::watch::Receiver<bool> {
    state.shutdown.clone()
}

/// Runs the control plane until `shutdown` resolves.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let tls = match &settings.tls {
        None => None,
        Some(files) => {
            let read = |path: &std::path::Path| {
                std::fs::read(path).map_err(|source| RunError::Tls {
                    path: path.display().to_string(),
                    source,
                })
            };
            let identity =
                tonic::transport::Identity::from_pem(read(&files.cert)?, read(&files.key)?);
            Some(tonic::transport::ServerTlsConfig::new().identity(identity))
        }
    };
    let store = Store::open(&settings.database_url).await?;
    let epoch = store.next_epoch().await?;
    // The environment is the source; the store is where the status (and settlement, later)
    // reads it, and it remembers when it last changed.
    let recorded = store.record_settlement(&settings.settlement).await?;
    if !recorded.is_empty() {
        tracing::info!(changed = ?recorded.changed, removed = ?recorded.removed, "settlement_recorded");
    }
    let hub = Arc::new(ConfigHub::new(store.clone(), epoch).await?);
    let events = Events::new();
    if let Some(file) = &settings.config_file {
        let committer = commit::Committer::new(hub.clone(), events.clone());
        seed::apply(&store, &committer, file).await?;
    }
    let (listener, grpc_port) = listen("gRPC", &settings.grpc_host, settings.grpc_port).await?;
    let (http_listener, http_port) = listen(
        "health and metrics",
        &settings.http_host,
        settings.http_port,
    )
    .await?;
    let metrics = Arc::new(metrics::Metrics::new());
    let current = hub.current();
    tracing::info!(
        nodeId = %settings.node_id,
        grpcPort = grpc_port,
        httpPort = http_port,
        tls = settings.tls.is_some(),
        epoch,
        peers = current.peers.len(),
        routes = current.routes.len(),
        version = env!("CARGO_PKG_VERSION"),
        tracesExported = service_runtime::telemetry::traces_enabled(),
        "controlplane_started"
    );
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let state = State::new(
        settings.node_id.clone(),
        store.clone(),
        hub.clone(),
        events,
        metrics.clone(),
        stopping,
    );
    let http = {
        let router = metrics::router(
            settings.node_id.clone(),
            metrics,
            hub,
            state.dependencies.clone(),
        );
        let mut stopped = state.shutdown.clone();
        tokio::spawn(async move {
            let served = axum::serve(http_listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "http_server_failed");
            }
        })
    };
    let discovery = match settings.discovery.clone() {
        None => None,
        Some(discovery_settings) => {
            let key = node_identity::key_file::load_or_create(&settings.node_key_file)
                .map_err(RunError::NodeKey)?;
            tracing::info!(publicKey = %key.public_key_base64(), endpoints = ?discovery_settings.endpoints, "discovery_enabled");
            let client = discovery::Discovery::new(
                state.clone(),
                settings.node_id.clone(),
                Arc::new(key),
                discovery_settings,
            )
            .map_err(RunError::Discovery)?;
            Some(tokio::spawn(client.run(stopping_for_discovery(&state))))
        }
    };
    let shutdown = async move {
        shutdown.await;
        tracing::info!("controlplane_stopping");
        // Ends the open streams; the server then finishes the calls in flight and stops.
        stop.send_replace(true);
        // Deregistration gets a few seconds; a dead discovery server must not hold us up.
        if let Some(discovery) = discovery {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), discovery).await;
        }
    };
    server::serve(
        listener,
        state,
        BearerAuth::new(&settings.api_token),
        tls,
        shutdown,
    )
    .await?;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), http).await;
    store.close().await;
    tracing::info!(nodeId = %settings.node_id, "controlplane_shutdown");
    Ok(())
}
