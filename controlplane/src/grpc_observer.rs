//! A tower layer around the gRPC server: one span and one metric sample per call.
//!
//! The method label comes from a fixed list (the services this server registers), never from
//! the request path as sent, so a client cannot grow the label set. The code is the status a
//! response starts with: errors travel in the headers (trailers-only responses), successes in
//! trailers after the body, so a response without `grpc-status` in its headers counts as OK.
//! Streams are counted when they open.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use prost::Message as _;
use service_runtime::telemetry;
use tracing::Instrument;

use crate::metrics::Metrics;

/// Paths served, mapped to their `Service/Method` label.
#[derive(Clone)]
pub struct MethodNames(Arc<HashMap<String, String>>);

impl MethodNames {
    /// Every method in the given encoded file descriptor sets.
    pub fn from_descriptor_sets(sets: &[&[u8]]) -> MethodNames {
        let mut names = HashMap::new();
        for encoded in sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(*encoded) else {
                continue;
            };
            for file in set.file {
                let package = file.package.unwrap_or_default();
                for service in file.service {
                    let service_name = service.name.unwrap_or_default();
                    for method in service.method {
                        let method_name = method.name.unwrap_or_default();
                        let full = if package.is_empty() {
                            format!("/{service_name}/{method_name}")
                        } else {
                            format!("/{package}.{service_name}/{method_name}")
                        };
                        names.insert(full, format!("{service_name}/{method_name}"));
                    }
                }
            }
        }
        MethodNames(Arc::new(names))
    }

    pub fn label(&self, path: &str) -> &str {
        self.0.get(path).map(String::as_str).unwrap_or("unknown")
    }
}

#[derive(Clone)]
pub struct GrpcObserverLayer {
    pub metrics: Arc<Metrics>,
    pub methods: MethodNames,
}

impl<S> tower_layer::Layer<S> for GrpcObserverLayer {
    type Service = GrpcObserver<S>;

    fn layer(&self, inner: S) -> GrpcObserver<S> {
        GrpcObserver {
            inner,
            metrics: self.metrics.clone(),
            methods: self.methods.clone(),
        }
    }
}

#[derive(Clone)]
pub struct GrpcObserver<S> {
    inner: S,
    metrics: Arc<Metrics>,
    methods: MethodNames,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower_service::Service<http::Request<B>> for GrpcObserver<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<http::Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = self.methods.label(request.uri().path()).to_string();
        let span = if telemetry::traces_enabled() {
            let span = tracing::info_span!(
                "grpc.request",
                otel.kind = "server",
                otel.name = %method,
                rpc.system = "grpc",
                rpc.method = %method,
                rpc.grpc.status_code = tracing::field::Empty,
            );
            if let Some(traceparent) = request.headers().get(telemetry::TRACEPARENT) {
                telemetry::set_remote_parent(&span, traceparent.as_bytes());
            }
            span
        } else {
            tracing::Span::none()
        };
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let call = self.inner.call(request);
        Box::pin(async move {
            let result = call.instrument(span.clone()).await;
            let code = match &result {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map(tonic::Code::from_i32)
                    .unwrap_or(tonic::Code::Ok),
                // The transport failed under us; the client saw no gRPC status at all.
                Err(_) => tonic::Code::Unknown,
            };
            let code_name = code_label(code);
            span.record("rpc.grpc.status_code", code as i32);
            metrics
                .grpc_requests
                .with_label_values(&[method.as_str(), code_name])
                .inc();
            metrics
                .grpc_duration
                .with_label_values(&[method.as_str()])
                .observe(started.elapsed().as_secs_f64());
            result
        })
    }
}

/// The gRPC status code's canonical name, as it appears in the spec and in tools.
pub fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Cancelled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_come_from_the_descriptors_and_others_are_unknown() {
        let names = MethodNames::from_descriptor_sets(&[
            proto::grpc::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ]);
        assert_eq!(
            names.label("/ilpconnector.v1.PeerService/CreatePeer"),
            "PeerService/CreatePeer"
        );
        assert_eq!(names.label("/grpc.health.v1.Health/Check"), "Health/Check");
        assert_eq!(
            names.label("/ilpconnector.v1.PeerService/Nonsense"),
            "unknown"
        );
        assert_eq!(names.label("/x/y"), "unknown");
    }
}
