//! `controlplane`. Wiring only: settings from the environment, logs, run until a signal.

use std::collections::BTreeMap;
use std::process::ExitCode;

use controlplane::settings::Settings;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let settings = match Settings::from_env_map(&env) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("controlplane: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::new(format!("warn,controlplane={}", settings.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if settings.log_json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("controlplane: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async { controlplane::run(settings, shutdown_signal()).await }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "controlplane_failed");
            eprintln!("controlplane: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Registers the SIGTERM and SIGINT handlers now, so a signal that arrives right after start-up
/// (before anything awaits it) still stops the process gracefully instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
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
