//! `discovery-server`. Wiring only: settings from the environment, logs, run until a signal.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use discovery_server::settings::{DEFAULT_PORT, Settings};

/// The discovery server: nodes announce themselves (signed, with a TTL) and list each other.
///
/// Configured by environment (DISCOVERY_HOST, DISCOVERY_PORT, DISCOVERY_TTL_SECONDS, DATA_DIR,
/// DATABASE_URL, DISCOVERY_RATE_PER_SECOND, DISCOVERY_RATE_BURST, DISCOVERY_MAX_ENTRIES,
/// LOG_LEVEL, LOG_FORMAT); see docs/discovery.md.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Run,
    /// Probe a running server's /health; exit 0 if it answers 200, else 1.
    Healthcheck {
        #[arg(long, env = "DISCOVERY_PORT", default_value_t = DEFAULT_PORT)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::Healthcheck { port, host } => {
            service_runtime::healthcheck::command("discovery-server", &host, port, "/health")
        }
        Command::Run => {
            let env: BTreeMap<String, String> = std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect();
            let settings = match Settings::from_env_map(&env) {
                Ok(settings) => settings,
                Err(error) => {
                    eprintln!("discovery-server: invalid configuration: {error}");
                    return ExitCode::from(2);
                }
            };
            match serve(settings) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "discovery_failed");
                    eprintln!("discovery-server: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    // Owned copy: `settings` moves into the service.
    let log_level = settings.log_level.clone();
    let identity = discovery_server::logging::identity(&log_level, settings.log_format);
    service_runtime::telemetry::run_service(&identity, async {
        // Handlers first, then start-up (which logs discovery_started): a SIGTERM sent as soon
        // as the start is visible must stop the server gracefully, not kill it.
        let shutdown = service_runtime::shutdown_signal();
        discovery_server::run(settings, shutdown).await
    })
    .context("cannot start the async runtime")??;
    Ok(())
}
