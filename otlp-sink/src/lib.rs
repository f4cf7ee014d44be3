//! A minimal OTLP/gRPC trace receiver: it accepts `ExportTraceServiceRequest`s, flattens every
//! span into a [`SpanRecord`] and keeps them, so tests can assert on what services exported.
//! The `otlp-sink` binary serves the same receiver and prints each span as one JSON line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use serde::Serialize;
use tokio::sync::{Notify, broadcast};

/// One received span, flattened: ids in lowercase hex, attributes as strings.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SpanRecord {
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// `service.name` of the resource that sent it.
    pub service: String,
    /// OTLP span kind: 1 internal, 2 server, 3 client.
    pub kind: i32,
    pub attributes: BTreeMap<String, String>,
    pub duration_ns: u64,
}

#[derive(Default)]
struct Store {
    spans: Mutex<Vec<SpanRecord>>,
    arrived: Notify,
}

/// The receiving service; cheap to clone.
#[derive(Clone)]
pub struct Sink {
    store: Arc<Store>,
    /// Every span as it arrives, for printing.
    feed: broadcast::Sender<SpanRecord>,
}

impl Default for Sink {
    fn default() -> Self {
        Sink::new()
    }
}

impl Sink {
    pub fn new() -> Sink {
        Sink {
            store: Arc::default(),
            feed: broadcast::channel(4096).0,
        }
    }

    pub fn spans(&self) -> Vec<SpanRecord> {
        lock(&self.store.spans).clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SpanRecord> {
        self.feed.subscribe()
    }

    /// Waits until `done` holds for the spans received so far, or `timeout` passes; returns the
    /// spans either way so the caller can report what it got.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&[SpanRecord]) -> bool,
    ) -> Vec<SpanRecord> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.store.arrived.notified();
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.spans();
            }
        }
    }

    pub fn service(self) -> TraceServiceServer<Sink> {
        TraceServiceServer::new(self)
    }

    fn keep(&self, request: ExportTraceServiceRequest) {
        let mut records = Vec::new();
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                .map(value_of)
                .unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    records.push(SpanRecord {
                        trace_id: hex::encode(&span.trace_id),
                        span_id: hex::encode(&span.span_id),
                        parent_span_id: hex::encode(&span.parent_span_id),
                        name: span.name,
                        service: service.clone(),
                        kind: span.kind,
                        attributes: span
                            .attributes
                            .iter()
                            .map(|kv| (kv.key.clone(), value_of(kv)))
                            .collect(),
                        duration_ns: span
                            .end_time_unix_nano
                            .saturating_sub(span.start_time_unix_nano),
                    });
                }
            }
        }
        for record in &records {
            // Nobody listening is fine: the store keeps them.
            let _ = self.feed.send(record.clone());
        }
        lock(&self.store.spans).extend(records);
        self.store.arrived.notify_waiters();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn value_of(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v: &AnyValue| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.keep(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Serves a sink on `address` (port 0 for an ephemeral one) in the background; returns the
/// bound address. The server stops when the runtime does.
pub async fn start(address: SocketAddr) -> anyhow::Result<(SocketAddr, Sink)> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let sink = Sink::new();
    let service = sink.clone().service();
    tokio::spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        if let Err(error) = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await
        {
            eprintln!("otlp-sink: server failed: {error}");
        }
    });
    Ok((bound, sink))
}
