//! What every long-running binary of the project shares: its `main` (`service_main`: the
//! `run` and `healthcheck` subcommands, exit codes), `LOG_LEVEL`/`LOG_FORMAT`
//! (`log_settings`), its listening sockets (`listen`) and metrics (`metrics`),
//! graceful-shutdown signals, the runtime with JSON logs and OTLP traces
//! (`telemetry::run_service`), the HTTP probe behind `<binary> healthcheck`, and the small
//! HTTP client it, `ctl health` and the tests use.

pub mod dependencies;
pub mod env;
pub mod healthcheck;
pub mod http_client;
pub mod listen;
pub mod log_settings;
pub mod metrics;
pub mod service_main;
pub mod telemetry;

pub use log_settings::LogSettings;

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
