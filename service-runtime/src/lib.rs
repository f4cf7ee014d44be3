//! What every long-running binary of the project shares: graceful-shutdown signals, JSON logs,
//! the `/metrics` text, and the HTTP probe behind `<binary> healthcheck`.

pub mod healthcheck;
pub mod telemetry;

/// Registers the SIGTERM and SIGINT handlers now, so a signal that arrives right after start-up
/// (before anything awaits it) still stops the process gracefully instead of killing it. Call
/// it inside the runtime, before the service starts.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let sigterm = signal(SignalKind::terminate());
    let sigint = signal(SignalKind::interrupt());
    async move {
        match (sigterm, sigint) {
            (Ok(mut sigterm), Ok(mut sigint)) => {
                tokio::select! {
                    _ = sigterm.recv() => {}
                    _ = sigint.recv() => {}
                }
            }
            // Without handlers, fall back to Ctrl-C alone.
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// Log lines on stdout (what container platforms collect): JSON, or text for humans. `level`
/// applies to `crates`; dependencies only speak up when something is wrong. Services that may
/// export traces start with [`telemetry::init`] instead.
pub fn init_logging(level: &str, json: bool, crates: &[&str]) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Already initialised (a test embedding the service): keep the existing subscriber.
    let _ = tracing_subscriber::registry()
        .with(telemetry::log_layer(level, json, crates))
        .try_init();
}

/// A registry in the Prometheus text format, for a `/metrics` endpoint.
pub fn render_metrics(registry: &prometheus::Registry) -> String {
    use prometheus::Encoder;
    let mut out = Vec::new();
    // Encoding our own registry into memory cannot fail short of allocation failure.
    if prometheus::TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .is_err()
    {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}
