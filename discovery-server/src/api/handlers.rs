//! One function per endpoint. Each checks its input, asks the store, and answers; the store
//! decides identity and sequence questions inside one transaction.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use node_identity::{PublicKey, decode_signature};
use proto::discovery::{
    AnnounceResponse, DeregisterResponse, ListResponse, SEQUENCE_HEADER, SIGNATURE_HEADER,
    deregistration_bytes, verify_announcement,
};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, MAX_BODY_BYTES, MAX_LIST};
use crate::metrics::Reason;
use crate::validate;

/// The client's IP address (no port; an IPv4-mapped IPv6 address as IPv4), which an unsigned
/// entry is bound to for deregistration. A router served without connection info (in-process
/// use) sees every client as `unknown`.
fn client_ip(extensions: &Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_canonical().to_string())
        .unwrap_or_else(|| String::from("unknown"))
}

pub async fn announce(
    State(state): State<Arc<AppState>>,
    extensions: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<AnnounceResponse>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Some(Reason::TooLarge),
                format!("body: larger than {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Some(Reason::InvalidField),
                format!("body: {}", rejection.body_text()),
            )
        }
    })?;
    let validate::Parsed {
        announcement,
        signed,
    } = validate::parse_announcement(&body).map_err(ApiError::invalid)?;
    let window = state.liveness.now();
    let outcome = if signed {
        // The signature proves the key holder wrote these fields; whether that key owns the
        // node id is the store's question.
        verify_announcement(&announcement)
            .map_err(|_| ApiError::unauthenticated("signature: does not verify"))?;
        state
            .store
            .announce(&announcement, window, state.max_entries)
            .await?
    } else {
        if !state.allow_unsigned {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                Some(Reason::SignatureRequired),
                "publicKey: required: this server accepts only signed announcements \
                 (publicKey, sequence and signature; see docs/discovery.md)",
            ));
        }
        let source_ip = client_ip(&extensions);
        state
            .store
            .announce_unsigned(&announcement, &source_ip, window, state.max_entries)
            .await?
    };
    state.metrics.announces.inc();
    if !signed {
        state.metrics.unsigned_announces.inc();
    }
    if outcome.replaced_unsigned {
        tracing::info!(nodeId = %announcement.node_id, "unsigned_entry_replaced");
    }
    if outcome.expired_unswept {
        state.metrics.expiries.inc();
    }
    if let Some(evicted) = &outcome.evicted {
        tracing::info!(nodeId = %evicted, "peer_evicted");
    }
    if outcome.new || outcome.claimed {
        tracing::info!(
            nodeId = %announcement.node_id,
            btpEndpoint = %announcement.btp_endpoint,
            ilpAddress = %announcement.ilp_address,
            claimed = outcome.claimed,
            verified = signed,
            "peer_registered"
        );
    } else {
        tracing::debug!(
            nodeId = %announcement.node_id,
            sequence = announcement.sequence,
            "peer_announced"
        );
    }
    Ok(Json(AnnounceResponse {
        success: true,
        ttl: state.ttl_seconds,
    }))
}

#[derive(Deserialize)]
pub struct ListQuery {
    capabilities: Option<String>,
    /// Entries per page, 1..=MAX_LIST (default MAX_LIST).
    limit: Option<usize>,
    /// The previous page's `nextCursor`: list the entries after this node id.
    after: Option<String>,
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ListResponse>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Some(Reason::InvalidField),
            format!("query: {}", rejection.body_text()),
        )
    })?;
    let wanted = validate::parse_capability_filter(query.capabilities.as_deref())
        .map_err(ApiError::invalid)?;
    let limit = match query.limit {
        None => MAX_LIST,
        Some(n) if (1..=MAX_LIST).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::invalid(validate::FieldError {
                field: "limit".into(),
                problem: format!("{n} is not 1 to {MAX_LIST}"),
            }));
        }
    };
    if let Some(after) = &query.after {
        validate::check_node_id(after).map_err(|problem| {
            ApiError::invalid(validate::FieldError {
                field: "after".into(),
                problem,
            })
        })?;
    }
    let entries = state.store.live_entries(state.liveness.now()).await?;
    let matching: Vec<_> = entries.iter().filter(|e| e.has_all(&wanted)).collect();
    // Entries come in node id order (the store's ORDER BY, byte order like `str`'s).
    let rest: Vec<_> = matching
        .iter()
        .filter(|e| {
            query
                .after
                .as_deref()
                .is_none_or(|after| e.node_id.as_str() > after)
        })
        .collect();
    let next_cursor = (rest.len() > limit).then(|| rest[limit - 1].node_id.clone());
    Ok(Json(ListResponse {
        total: matching.len(),
        peers: rest.iter().take(limit).map(|e| e.to_peer_entry()).collect(),
        next_cursor,
    }))
}

pub async fn deregister(
    State(state): State<Arc<AppState>>,
    node_id: Result<Path<String>, PathRejection>,
    extensions: Extensions,
    headers: HeaderMap,
) -> Result<Json<DeregisterResponse>, ApiError> {
    let Path(node_id) = node_id.map_err(|rejection| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Some(Reason::InvalidField),
            format!("nodeId: {}", rejection.body_text()),
        )
    })?;
    validate::check_node_id(&node_id).map_err(|problem| {
        ApiError::invalid(validate::FieldError {
            field: "nodeId".into(),
            problem,
        })
    })?;
    // Missing or malformed credentials are an authentication failure, like a wrong signature.
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    // No credentials at all: the seed stories' unsigned DELETE, allowed for an unsigned entry
    // from the address that announced it (the store refuses a signed entry).
    if state.allow_unsigned
        && header_text(SEQUENCE_HEADER).is_none()
        && header_text(SIGNATURE_HEADER).is_none()
    {
        state
            .store
            .deregister_unsigned(&node_id, &client_ip(&extensions))
            .await?;
        state.metrics.deregistrations.inc();
        tracing::info!(nodeId = %node_id, verified = false, "peer_deregistered");
        return Ok(Json(DeregisterResponse { success: true }));
    }
    let sequence = match header_text(SEQUENCE_HEADER) {
        None => return Err(ApiError::unauthenticated("X-Discovery-Sequence: required")),
        Some(text) => text.parse::<u64>().map_err(|_| {
            ApiError::unauthenticated(format!(
                "X-Discovery-Sequence: must be an integer in 0..={}",
                u64::MAX
            ))
        })?,
    };
    let signature = match header_text(SIGNATURE_HEADER) {
        None => return Err(ApiError::unauthenticated("X-Discovery-Signature: required")),
        Some(text) => decode_signature(text)
            .map_err(|e| ApiError::unauthenticated(format!("X-Discovery-Signature: {e}")))?,
    };
    let message = deregistration_bytes(&node_id, sequence);
    state
        .store
        .deregister(&node_id, sequence, |bound_key| {
            PublicKey::from_base64(bound_key)
                .and_then(|key| key.verify(&message, &signature))
                .is_ok()
        })
        .await?;
    state.metrics.deregistrations.inc();
    tracing::info!(nodeId = %node_id, sequence, "peer_deregistered");
    Ok(Json(DeregisterResponse { success: true }))
}

pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    let uptime = state.started.elapsed().as_secs();
    match state.store.count_live(state.liveness.now()).await {
        Ok(registered) => Json(json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "uptimeSeconds": uptime,
            "registered": registered,
            "ttlSeconds": state.ttl_seconds,
        }))
        .into_response(),
        Err(error) => {
            tracing::warn!(%error, "database_error");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "version": env!("CARGO_PKG_VERSION"),
                    "uptimeSeconds": uptime,
                    "error": "the registry database cannot serve",
                })),
            )
                .into_response()
        }
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    // The gauge is exact at scrape time; between scrapes the sweeper keeps it roughly current.
    if let Ok(live) = state.store.count_live(state.liveness.now()).await {
        state
            .metrics
            .registered
            .set(i64::try_from(live).unwrap_or(i64::MAX));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn no_such_path() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        Some(Reason::NotFound),
        "path: no such endpoint",
    )
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "method: not allowed on this path",
    )
}
