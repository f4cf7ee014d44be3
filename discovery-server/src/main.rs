//! `discovery-server`. Wiring only: settings from the environment, logs, run until a signal.

use std::process::ExitCode;

use discovery_server::settings::{DEFAULT_PORT, Settings};
use service_runtime::service_main::{self, Service};
use service_runtime::telemetry::Identity;

const SERVICE: Service = Service {
    name: "discovery-server",
    version: env!("CARGO_PKG_VERSION"),
    about: "The discovery server: nodes announce themselves (signed, with a TTL) and list each \
        other.\n\n\
        Configured by environment (DISCOVERY_HOST, DISCOVERY_PORT, DISCOVERY_TTL_SECONDS, \
        DATA_DIR, DATABASE_URL, DISCOVERY_RATE_PER_SECOND, DISCOVERY_RATE_BURST, \
        DISCOVERY_MAX_ENTRIES, DISCOVERY_ALLOW_UNSIGNED, LOG_LEVEL, LOG_FORMAT); see \
        docs/discovery.md.",
    health_port_env: "DISCOVERY_PORT",
    health_port: DEFAULT_PORT,
    health_path: "/health",
    failed_event: "discovery_failed",
};

fn main() -> ExitCode {
    service_main::main(
        &SERVICE,
        |env| Settings::from_env_map(env).map_err(|e| e.to_string()),
        |settings| Identity {
            service: SERVICE.name,
            instance: String::new(),
            log: settings.log.clone(),
            crates: &["discovery_server"],
        },
        discovery_server::run,
    )
}
