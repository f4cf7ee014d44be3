//! The HTTP/JSON API: routes, shared state, and the one error shape every refusal takes,
//! `{"success":false,"error":"<field>: <problem>"}`.
//!
//! Refusals carry their [`Reason`] in the response extensions; one middleware counts them, so
//! no handler can forget to.

mod handlers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use proto::discovery::ErrorResponse;

use crate::liveness::Liveness;
use crate::metrics::{Metrics, Reason};
use crate::rate_limit::RateLimiter;
use crate::store::{Store, StoreError};
use crate::validate::FieldError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Most entries one list answer carries (`total` still counts every match).
pub const MAX_LIST: usize = 1000;

pub struct AppState {
    pub store: Store,
    pub metrics: Metrics,
    pub liveness: Liveness,
    pub ttl_seconds: u64,
    pub max_entries: u32,
    pub limiter: RateLimiter,
    pub started: Instant,
    /// `DISCOVERY_ALLOW_UNSIGNED`: accept the seed stories' unsigned announcements.
    pub allow_unsigned: bool,
}

pub fn router(state: Arc<AppState>) -> Router {
    // Only the registry API is rate limited: monitoring must see the server even when a
    // client is being throttled.
    let api = Router::new()
        .route(proto::discovery::ANNOUNCE_PATH, post(handlers::announce))
        .route(proto::discovery::PEERS_PATH, get(handlers::list))
        .route("/api/v1/peers/{node_id}", delete(handlers::deregister))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    Router::new()
        .merge(api)
        .route("/health", get(handlers::health))
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::no_such_path)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_rejections,
        ))
        .layer(middleware::from_fn(trace_request))
        .with_state(state)
}

/// One span per request when traces are exported, joined to the caller's trace through its
/// `traceparent` header. The route is the matched pattern, never the raw path.
async fn trace_request(request: Request, next: Next) -> Response {
    use service_runtime::telemetry;
    use tracing::Instrument;
    if !telemetry::traces_enabled() {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| String::from("unmatched"));
    let span = tracing::info_span!(
        "http.request",
        otel.kind = "server",
        otel.name = %format!("{} {route}", request.method()),
        http.request.method = %request.method(),
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    if let Some(traceparent) = request.headers().get(telemetry::TRACEPARENT) {
        telemetry::set_remote_parent(&span, traceparent.as_bytes());
    }
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}

/// A refused request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// `None` for refusals outside the counted set (a wrong HTTP method).
    reason: Option<Reason>,
    message: String,
    retry_after_seconds: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: Option<Reason>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            message: message.into(),
            retry_after_seconds: None,
        }
    }

    pub fn invalid(error: FieldError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Some(Reason::InvalidField),
            error.to_string(),
        )
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            Some(Reason::BadSignature),
            message,
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let (status, reason) = match &error {
            StoreError::IdentityConflict => (StatusCode::CONFLICT, Reason::IdentityConflict),
            StoreError::StaleSequence { .. } => (StatusCode::CONFLICT, Reason::Replay),
            StoreError::RegistryFull => (StatusCode::SERVICE_UNAVAILABLE, Reason::RegistryFull),
            StoreError::NotFound => (StatusCode::NOT_FOUND, Reason::NotFound),
            StoreError::BadSignature => (StatusCode::UNAUTHORIZED, Reason::BadSignature),
            StoreError::BoundToKey | StoreError::EndpointConflict => {
                (StatusCode::CONFLICT, Reason::IdentityConflict)
            }
            // Like a DELETE of a signed entry without its headers: missing credentials.
            StoreError::SignatureRequired => (StatusCode::UNAUTHORIZED, Reason::BadSignature),
            StoreError::WrongAddress => (StatusCode::FORBIDDEN, Reason::WrongAddress),
            StoreError::Open(_) | StoreError::Sql(_) | StoreError::Corrupt { .. } => {
                // The details are for the operator, not the client.
                tracing::warn!(%error, "database_error");
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(Reason::Unavailable),
                    "unavailable: the registry cannot serve this request now, retry later",
                );
            }
        };
        ApiError::new(status, Some(reason), error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        tracing::debug!(
            status = self.status.as_u16(),
            reason = self.reason.map(Reason::as_str),
            error = %self.message,
            "request_refused"
        );
        let body = ErrorResponse {
            success: false,
            error: self.message,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(reason) = self.reason {
            response.extensions_mut().insert(reason);
        }
        response
    }
}

async fn count_rejections(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(reason) = response.extensions().get::<Reason>() {
        state.metrics.reject(*reason);
    }
    response
}

async fn rate_limit(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    // The peer address is attached by `into_make_service_with_connect_info`; a router served
    // without it (in-process use) is not limited.
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    if let Some(client) = client
        && let Err(wait) = state.limiter.check(client, Instant::now())
    {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Reason::RateLimited),
            "rate limited: too many requests from this address, slow down",
        );
        error.retry_after_seconds = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        return error.into_response();
    }
    next.run(request).await
}
