//! Logs and, when the standard OpenTelemetry variables ask for it, traces over OTLP/gRPC.
//!
//! Traces are on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
//! set (and neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`). The SDK reads
//! `OTEL_TRACES_SAMPLER`/`_ARG`, `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` itself; we
//! only supply a service name when neither names one. With traces off no exporter exists, and
//! [`traces_enabled`] lets the packet path skip building spans altogether.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The W3C trace context header, and the BTP protocol-data entry that carries it between nodes.
pub const TRACEPARENT: &str = "traceparent";

static TRACES_ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are being exported. Hot paths check this before building a span.
pub fn traces_enabled() -> bool {
    TRACES_ENABLED.load(Ordering::Relaxed)
}

/// Keeps the trace pipeline alive; [`Telemetry::shutdown`] (or drop) flushes pending spans.
#[must_use = "dropping it stops the trace exporter"]
struct Telemetry {
    provider: Option<SdkTracerProvider>,
    /// Why traces are off although an endpoint was given, to be logged once logging is up.
    export_error: Option<String>,
}

impl Telemetry {
    /// Exports what is still buffered and stops the exporter. Safe to call twice.
    fn shutdown(&mut self) {
        if let Some(provider) = self.provider.take() {
            TRACES_ENABLED.store(false, Ordering::Relaxed);
            if let Err(error) = provider.shutdown() {
                eprintln!("trace export shutdown: {error}");
            }
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What the OpenTelemetry environment variables ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSettings {
    pub export: bool,
    /// `OTEL_SERVICE_NAME` or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`; if neither, ours.
    pub service_name_given: bool,
}

impl TraceSettings {
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> TraceSettings {
        let set = |name: &str| get(name).is_some_and(|v| !v.trim().is_empty());
        let disabled = get("OTEL_SDK_DISABLED").is_some_and(|v| v.trim() == "true")
            || get("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim() == "none");
        let export = !disabled
            && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
        let service_name_given = set("OTEL_SERVICE_NAME")
            || get("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attributes| {
                attributes
                    .split(',')
                    .any(|pair| pair.trim_start().starts_with("service.name="))
            });
        TraceSettings {
            export,
            service_name_given,
        }
    }
}

/// Starts logging (JSON or text lines on stdout; `level` applies to `crates`, dependencies
/// only speak up when something is wrong) and, if the environment asks for it, trace export. `service` names the process in traces unless the environment names it;
/// `instance` becomes `service.instance.id`. Spans of `crates` at INFO and above are exported,
/// whatever the log level. Call inside a tokio runtime: the gRPC exporter needs one.
fn init(service: &str, instance: &str, level: &str, json: bool, crates: &[&str]) -> Telemetry {
    let settings = TraceSettings::from_env(|name| std::env::var(name).ok());
    let mut export_error = None;
    let provider = if settings.export {
        match build_provider(service, instance, &settings) {
            Ok(provider) => Some(provider),
            Err(error) => {
                export_error = Some(error);
                None
            }
        }
    } else {
        None
    };
    let trace_layer = provider.as_ref().map(|provider| {
        let mut targets = Targets::new();
        for name in crates {
            targets = targets.with_target(*name, LevelFilter::INFO);
        }
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("ilp-connector"))
            .with_filter(targets)
    });
    let result = tracing_subscriber::registry()
        .with(log_layer(level, json, crates))
        .with(trace_layer)
        .try_init();
    // Already initialised (a test embedding the service): keep the existing subscriber, and
    // do not claim to export through it.
    let provider = if result.is_ok() { provider } else { None };
    if provider.is_some() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        TRACES_ENABLED.store(true, Ordering::Relaxed);
    }
    Telemetry {
        provider,
        export_error,
    }
}

/// Who a service is, for its logs and traces.
pub struct Identity {
    /// The default `service.name` (the binary's name).
    pub service: &'static str,
    /// `service.instance.id` (the node id), or empty.
    pub instance: String,
    pub log: crate::LogSettings,
    /// The crates whose logs (at the log level) and spans (at INFO) are kept.
    pub crates: &'static [&'static str],
}

/// Runs a service the way every binary of the project does: a multi-thread runtime, logging and
/// (if asked for) trace export started inside it, `service` to completion, then the buffered
/// spans flushed while the runtime that carries the exporter still runs. Errs only if the
/// runtime cannot be built.
pub fn run_service<T>(
    identity: &Identity,
    service: impl std::future::Future<Output = T>,
) -> std::io::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut telemetry = {
        let _runtime = runtime.enter();
        init(
            identity.service,
            &identity.instance,
            &identity.log.level,
            identity.log.json,
            identity.crates,
        )
    };
    if let Some(error) = &telemetry.export_error {
        tracing::warn!(%error, "trace_export_unavailable");
    }
    let result = runtime.block_on(service);
    telemetry.shutdown();
    Ok(result)
}

fn log_layer<S>(level: &str, json: bool, crates: &[&str]) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let mut directives = String::from("warn");
    for name in crates {
        directives.push_str(&format!(",{name}={level}"));
    }
    let filter = EnvFilter::new(directives);
    if json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .with_filter(filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_filter(filter)
            .boxed()
    }
}

fn build_provider(
    service: &str,
    instance: &str,
    settings: &TraceSettings,
) -> Result<SdkTracerProvider, String> {
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_protocol(opentelemetry_otlp::Protocol::Grpc)
        .build()
        .map_err(|error| format!("OTLP exporter: {error}"))?;
    let mut resource = Resource::builder();
    if !settings.service_name_given {
        resource = resource.with_service_name(service.to_string());
    }
    if !instance.is_empty() {
        resource = resource.with_attribute(opentelemetry::KeyValue::new(
            "service.instance.id",
            instance.to_string(),
        ));
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

struct One<'a>(Option<&'a str>);

impl Extractor for One<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if key == TRACEPARENT { self.0 } else { None }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT]
    }
}

struct Collect(HashMap<String, String>);

impl Injector for Collect {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
}

/// Makes `span` a child of the remote span a `traceparent` value names. A malformed value is
/// ignored: the span then starts its own trace.
pub fn set_remote_parent(span: &Span, traceparent: &[u8]) {
    if span.is_none() {
        return;
    }
    let Ok(value) = std::str::from_utf8(traceparent) else {
        return;
    };
    let context = TraceContextPropagator::new().extract(&One(Some(value.trim())));
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// The `traceparent` value naming `span`, for the next hop; `None` when traces are off.
pub fn traceparent(span: &Span) -> Option<String> {
    if span.is_none() {
        return None;
    }
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut out = Collect(HashMap::new());
    TraceContextPropagator::new().inject_context(&context, &mut out);
    out.0.remove(TRACEPARENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn export_only_with_an_endpoint() {
        assert!(!TraceSettings::from_env(env(&[])).export);
        assert!(!TraceSettings::from_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])).export);
        assert!(
            TraceSettings::from_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]))
                .export
        );
        assert!(
            TraceSettings::from_env(env(&[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://c:4317"
            )]))
            .export
        );
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            assert!(
                !TraceSettings::from_env(env(&[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                    off
                ]))
                .export
            );
        }
    }

    #[test]
    fn service_name_from_either_variable() {
        assert!(!TraceSettings::from_env(env(&[])).service_name_given);
        assert!(TraceSettings::from_env(env(&[("OTEL_SERVICE_NAME", "a")])).service_name_given);
        assert!(
            TraceSettings::from_env(env(&[(
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod, service.name=edge"
            )]))
            .service_name_given
        );
        assert!(
            !TraceSettings::from_env(env(&[("OTEL_RESOURCE_ATTRIBUTES", "team=x")]))
                .service_name_given
        );
    }

    #[test]
    fn no_context_from_a_disabled_span() {
        assert_eq!(traceparent(&Span::none()), None);
        // Must not panic on garbage.
        set_remote_parent(&Span::none(), b"\xff\xfe");
    }

    #[test]
    fn traceparent_round_trip_joins_the_trace() {
        use tracing_subscriber::layer::SubscriberExt;
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let upstream = tracing::info_span!("upstream");
            let sent = traceparent(&upstream).expect("a context for an exported span");
            let parts: Vec<&str> = sent.split('-').collect();
            assert_eq!(parts.len(), 4, "{sent}");
            assert_eq!(parts[0], "00");
            let downstream = tracing::info_span!("downstream");
            set_remote_parent(&downstream, sent.as_bytes());
            let next = traceparent(&downstream).expect("context");
            let next_parts: Vec<&str> = next.split('-').collect();
            assert_eq!(next_parts[1], parts[1], "same trace id");
            assert_ne!(next_parts[2], parts[2], "its own span id");

            let orphan = tracing::info_span!("orphan");
            set_remote_parent(&orphan, b"00-not-a-valid-context");
            let own = traceparent(&orphan).expect("context");
            assert_ne!(own.split('-').nth(1), Some(parts[1]), "a new trace");
        });
    }
}
