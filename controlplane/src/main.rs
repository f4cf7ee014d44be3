//! `controlplane`. Wiring only: settings from the environment, logs, run until a signal.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use controlplane::settings::{DEFAULT_HTTP_PORT, Settings};

/// The ILP connector's control plane: peers, routes and secret references in SQLite, the gRPC
/// management API, config pushed to data planes, discovery.
///
/// Configured by environment (NODE_ID, API_TOKEN_REF, GRPC_PORT, HTTP_PORT, DATA_DIR,
/// PEER_DISCOVERY_* …); see the README.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane (the default).
    Run,
    /// Probe a running control plane's /health; exit 0 if it answers 200, else 1.
    Healthcheck {
        #[arg(long, env = "HTTP_PORT", default_value_t = DEFAULT_HTTP_PORT)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command.unwrap_or(Command::Run) {
        Command::Healthcheck { port, host } => {
            match service_runtime::healthcheck::probe(
                &host,
                port,
                "/health",
                Duration::from_secs(3),
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("controlplane healthcheck: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run => run(),
    }
}

fn run() -> ExitCode {
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
    // The trace exporter's gRPC channel lives on this runtime.
    let mut telemetry = {
        let _runtime = runtime.enter();
        service_runtime::telemetry::init(
            "controlplane",
            &settings.node_id,
            &settings.log_level,
            settings.log_json,
            &["controlplane"],
        )
    };
    if let Some(error) = &telemetry.export_error {
        tracing::warn!(%error, "trace_export_unavailable");
    }
    let result = runtime
        .block_on(async { controlplane::run(settings, service_runtime::shutdown_signal()).await });
    // Pending spans go out before the runtime that carries them stops.
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "controlplane_failed");
            eprintln!("controlplane: {error}");
            ExitCode::FAILURE
        }
    }
}
