//! The control plane's Prometheus metrics and its small HTTP endpoint (`/health`, `/metrics`).
//! Labels are bounded: discovery endpoints come from configuration.

use std::sync::Arc;

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec};
use serde_json::json;
use service_runtime::dependencies::Dependencies;
use service_runtime::metrics::Catalogue;

use crate::push::ConfigHub;

pub struct Metrics {
    catalogue: Catalogue,
    /// Requests to discovery servers by endpoint, operation and result.
    pub discovery_requests: IntCounterVec,
    pub discovered_nodes: IntGauge,
    pub config_generation: IntGauge,
    pub data_planes_connected: IntGauge,
    /// Management API calls by method and gRPC code.
    pub grpc_requests: IntCounterVec,
    pub grpc_duration: HistogramVec,
    pub config_nacks: IntCounter,
    /// The generation each connected data plane last acknowledged.
    pub applied_generation: IntGaugeVec,
    pub peers: IntGauge,
    pub routes: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let catalogue = Catalogue::new();
        let discovery_requests = catalogue.counter_vec(
            "controlplane_discovery_requests_total",
            "Requests to discovery servers by endpoint, operation (announce, list, deregister) and result (ok, refused, unreachable)",
            &["endpoint", "operation", "result"],
        );
        let discovered_nodes = catalogue.gauge(
            "controlplane_discovered_nodes",
            "Nodes the last discovery round found",
        );
        let config_generation = catalogue.gauge(
            "controlplane_config_generation",
            "Generation of the configuration being pushed (resets with each epoch)",
        );
        let data_planes_connected = catalogue.gauge(
            "controlplane_data_planes_connected",
            "Open data plane config streams",
        );
        let grpc_requests = catalogue.counter_vec(
            "controlplane_grpc_requests_total",
            "gRPC calls by method (Service/Method; unknown for paths we do not serve) and status code as the response starts (streams count when opened)",
            &["method", "code"],
        );
        let grpc_duration = catalogue.histogram_vec(
            "controlplane_grpc_request_duration_seconds",
            "Time from a gRPC call's arrival to its response headers, by method",
            &["method"],
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ],
        );
        let config_nacks = catalogue.counter(
            "controlplane_config_nacks_total",
            "Config snapshots a data plane refused (NACK)",
        );
        let applied_generation = catalogue.gauge_vec(
            "controlplane_data_plane_applied_generation",
            "Config generation each connected data plane last acknowledged",
            &["dataplane"],
        );
        let peers = catalogue.gauge("controlplane_peers", "Configured peers");
        let routes = catalogue.gauge("controlplane_routes", "Configured routes");
        Metrics {
            catalogue,
            discovery_requests,
            discovered_nodes,
            config_generation,
            data_planes_connected,
            grpc_requests,
            grpc_duration,
            config_nacks,
            applied_generation,
            peers,
            routes,
        }
    }

    pub fn discovery(&self, endpoint: &str, operation: &str, result: &str) {
        self.discovery_requests
            .with_label_values(&[endpoint, operation, result])
            .inc();
    }

    pub fn render(&self) -> String {
        self.catalogue.render()
    }
}

#[derive(Clone)]
struct HttpState {
    node_id: String,
    metrics: Arc<Metrics>,
    hub: Arc<ConfigHub>,
    dependencies: Arc<Dependencies>,
}

pub fn router(
    node_id: String,
    metrics: Arc<Metrics>,
    hub: Arc<ConfigHub>,
    dependencies: Arc<Dependencies>,
) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(render))
        .with_state(HttpState {
            node_id,
            metrics,
            hub,
            dependencies,
        })
}

async fn health(AxumState(state): AxumState<HttpState>) -> Response {
    let (epoch, generation) = state.hub.current().version;
    axum::Json(json!({
        "status": "ok",
        "nodeId": state.node_id,
        "version": env!("CARGO_PKG_VERSION"),
        "configVersion": { "epoch": epoch, "generation": generation },
        // The discovery servers (with discovery on): reachable, refusing or unreachable.
        "dependencies": state.dependencies.to_json(),
    }))
    .into_response()
}

async fn render(AxumState(state): AxumState<HttpState>) -> Response {
    let current = state.hub.current();
    let (_, generation) = current.version;
    let metrics = &state.metrics;
    metrics
        .config_generation
        .set(i64::try_from(generation).unwrap_or(i64::MAX));
    metrics
        .peers
        .set(i64::try_from(current.peers.len()).unwrap_or(i64::MAX));
    metrics
        .routes
        .set(i64::try_from(current.routes.len()).unwrap_or(i64::MAX));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
