//! The discovery server: an HTTP/JSON registry where nodes announce themselves with a TTL, list
//! each other by capability and deregister. A node id is bound to the Ed25519 key that first
//! announced it, so it cannot be hijacked while its owner is alive (see `docs/discovery.md`).
//! Unsigned announcements (the seed stories' clients, `DISCOVERY_ALLOW_UNSIGNED`) bind a node id
//! to an endpoint only, are listed as `verified: false`, and never displace a signed entry.
//!
//! * `settings` — environment → [`settings::Settings`];
//! * `store` — SQLite (WAL) registry: binding, sequences, liveness queries;
//! * `liveness` — the one rule for "live" (2 × TTL, plus the start-up grace);
//! * `validate` — field checks, errors naming the field;
//! * `api` — axum routes and handlers, the error shape, rejection counting, rate limiting;
//! * `rate_limit` — token bucket per client address;
//! * `metrics`, `sweeper`, `logging` (the health probe is `service_runtime::healthcheck`).

pub mod api;
pub mod liveness;
pub mod metrics;
pub mod rate_limit;
pub mod settings;
pub mod store;
pub mod sweeper;
pub mod validate;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use service_runtime::listen::{BindError, listen};

use crate::api::AppState;
use crate::liveness::Liveness;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// How long shutdown waits for requests in flight before giving up on them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

impl service_runtime::service_main::Failure for RunError {}

/// Runs the server until `shutdown` resolves, then drains (bounded) and returns.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    // The grace period after start counts from here: from the moment this server could first
    // have heard an announcement.
    let started = Instant::now();
    let liveness = Liveness::new(settings.ttl, liveness::now_ms());
    let store = Store::open(&settings.database_url).await?;
    let (listener, port) = listen("the discovery API", &settings.host, settings.port).await?;
    let state = Arc::new(AppState {
        store: store.clone(),
        metrics: Metrics::new(),
        liveness,
        ttl_seconds: settings.ttl.as_secs(),
        max_entries: settings.max_entries,
        limiter: RateLimiter::new(settings.rate_per_second, settings.rate_burst),
        started,
        allow_unsigned: settings.allow_unsigned,
    });
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let sweeper = tokio::spawn(sweeper::run(state.clone(), settings.ttl, stopping.clone()));
    tracing::info!(
        port,
        ttl = settings.ttl.as_secs(),
        maxEntries = settings.max_entries,
        allowUnsigned = settings.allow_unsigned,
        version = env!("CARGO_PKG_VERSION"),
        tracesExported = service_runtime::telemetry::traces_enabled(),
        "discovery_started"
    );
    let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let mut draining = stopping.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("discovery_stopping");
        stop.send_replace(true);
    });
    // Graceful shutdown waits for every open request; a client trickling its body must not
    // hold the process up forever.
    let drain_deadline = async move {
        let _ = draining.wait_for(|stop| *stop).await;
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    tokio::select! {
        served = server => served.map_err(RunError::Serve)?,
        _ = drain_deadline => tracing::warn!(timeoutSeconds = DRAIN_TIMEOUT.as_secs(), "drain_timeout"),
    }
    let _ = sweeper.await;
    store.close().await;
    tracing::info!("discovery_shutdown");
    Ok(())
}
