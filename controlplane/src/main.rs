//! `controlplane`. Wiring only: settings from the environment, logs, run until a signal.

use std::collections::BTreeMap;
use std::process::ExitCode;

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
            service_runtime::healthcheck::command("controlplane", &host, port, "/health")
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
    // Owned copies: `settings` moves into the service.
    let (node_id, log_level) = (settings.node_id.clone(), settings.log_level.clone());
    let identity = service_runtime::telemetry::Identity {
        service: "controlplane",
        instance: &node_id,
        log_level: &log_level,
        json_logs: settings.log_json,
        crates: &["controlplane"],
    };
    let result = match service_runtime::telemetry::run_service(&identity, async {
        controlplane::run(settings, service_runtime::shutdown_signal()).await
    }) {
        Ok(result) => result,
        Err(error) => {
            eprintln!("controlplane: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "controlplane_failed");
            eprintln!("controlplane: {error}");
            ExitCode::FAILURE
        }
    }
}
