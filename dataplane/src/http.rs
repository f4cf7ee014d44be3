//! The operations endpoint: `/health`, `/health/live`, `/health/ready`, `/metrics`.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::node::Node;
use crate::service_level;

pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(node)
}

async fn health(State(node): State<Arc<Node>>) -> Response {
    let snapshot = node.snapshot();
    let mut peers: Vec<_> = snapshot
        .peers
        .values()
        .map(|peer| {
            let status = peer.status();
            let balance = peer.balance.snapshot();
            json!({
                "id": &*peer.id,
                "relation": peer.settings().relation.as_str(),
                "url": peer.settings().url,
                "linkState": status.state.as_str(),
                "lastError": status.last_error,
                "stateSinceMs": status.since.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
                // Strings: balances are i128 and JSON numbers lose precision past 2^53.
                "balance": balance.balance.to_string(),
                "pendingIncoming": balance.pending_incoming.to_string(),
            })
        })
        .collect();
    peers.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let dependencies = node.dependencies.to_json();
    let figures = node.service_level.figures();
    let status = if node.is_ready() {
        "ok"
    } else {
        not_ready_status(&node)
    };
    let address = node.address();
    axum::Json(json!({
        "status": status,
        "nodeId": node.node_id,
        // null until the parent's ILDCP answer, when ILP_ADDRESS is not set.
        "ilpAddress": address.as_ref().map(|a| a.address.as_str()),
        "addressSource": address.as_ref().map(|a| a.source.as_str()),
        // The asset the parent said our account is in (ILDCP only).
        "parentAsset": address.as_ref().and_then(|a| a.asset.as_ref()).map(|(code, scale)| json!({"code": code, "scale": scale})),
        "version": env!("CARGO_PKG_VERSION"),
        "uptimeSeconds": node.uptime().as_secs(),
        "ready": node.is_ready(),
        "inFlight": node.in_flight(),
        "routes": snapshot.routes.len(),
        "peers": peers,
        "dependencies": dependencies,
        "ledger": node.ledger.health(),
        // Over the last minute, sampled once a second (null when nothing was answered).
        "slaWindowSeconds": service_level::WINDOW.as_secs(),
        "packets": figures.packets,
        "packetSuccessRate": figures.success_rate,
        "p99LatencyMs": figures.p99_ms,
    }))
    .into_response()
}

async fn live() -> Response {
    axum::Json(json!({ "status": "live" })).into_response()
}

async fn ready(State(node): State<Arc<Node>>) -> Response {
    if node.is_ready() {
        axum::Json(json!({ "status": "ready" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": not_ready_status(&node) })),
        )
            .into_response()
    }
}

/// Why a node that is not ready is not.
fn not_ready_status(node: &Node) -> &'static str {
    if node.is_draining() {
        "draining"
    } else if node.is_awaiting_address() {
        // No ILP_ADDRESS, and the parent has not answered ILDCP yet.
        "awaiting_address"
    } else if node.ledger.is_failing() {
        "ledger_failing"
    } else {
        "starting"
    }
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    let snapshot = node.snapshot();
    // Rebuilt on every scrape, so peers that were removed or lost their limit disappear.
    node.metrics.credit_headroom.reset();
    for peer in snapshot.peers.values() {
        if let Some(limit) = peer.settings().credit_limit {
            let owed = peer.balance.snapshot();
            let headroom = i128::from(limit) - owed.balance - owed.pending_incoming;
            node.metrics
                .credit_headroom
                .with_label_values(&[&*peer.id])
                .set(headroom as f64);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        node.metrics.render(),
    )
        .into_response()
}
