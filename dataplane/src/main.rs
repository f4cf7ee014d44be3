//! `dataplane`: the ILP connector's packet path. Wiring only; the work is in the library.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dataplane::config::NodeConfig;

/// An ILPv4 connector data plane: BTP links to peers and RFC 27 forwarding.
///
/// Configured by environment (NODE_ID, ILP_ADDRESS, BTP_SERVER_PORT, HEALTH_CHECK_PORT,
/// LOG_LEVEL, CONFIG_FILE, BTP_PEER_{ID}_URL / _SECRET / _ROUTES …); see the README.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node (the default).
    Run,
    /// Probe a running node's /health/live; exit 0 if it answers 200, else 1.
    Healthcheck {
        #[arg(long, env = "HEALTH_CHECK_PORT", default_value_t = dataplane::config::DEFAULT_HEALTH_PORT)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value = "/health/live")]
        path: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::Healthcheck { port, host, path } => {
            service_runtime::healthcheck::command("dataplane", &host, port, &path)
        }
        Command::Run => run(),
    }
}

fn run() -> ExitCode {
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let config = match NodeConfig::from_env_map(&env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("dataplane: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    // Owned copies: `config` moves into the service.
    let (node_id, log_level) = (config.node_id.clone(), config.log_level.clone());
    let identity = dataplane::logging::identity(&node_id, &log_level, config.log_format);
    let result = match service_runtime::telemetry::run_service(&identity, async {
        dataplane::run(config, service_runtime::shutdown_signal()).await
    }) {
        Ok(result) => result,
        Err(error) => {
            eprintln!("dataplane: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error @ dataplane::StartError::Config(_)) => {
            tracing::error!(error = %error, "connector_failed");
            eprintln!("dataplane: {error}");
            ExitCode::from(2)
        }
        Err(error) => {
            tracing::error!(error = %error, "connector_failed");
            eprintln!("dataplane: {error}");
            ExitCode::FAILURE
        }
    }
}
