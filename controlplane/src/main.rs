//! `controlplane`. Wiring only: settings from the environment, logs, run until a signal.

use std::process::ExitCode;

use controlplane::settings::{DEFAULT_HTTP_PORT, Settings};
use service_runtime::service_main::{self, Service};
use service_runtime::telemetry::Identity;

const SERVICE: Service = Service {
    name: "controlplane",
    version: env!("CARGO_PKG_VERSION"),
    about: "The ILP connector's control plane: peers, routes and secret references in SQLite, \
        the gRPC management API, config pushed to data planes, discovery.\n\n\
        Configured by environment (NODE_ID, API_TOKEN_REF, GRPC_PORT, HTTP_PORT, DATA_DIR, \
        PEER_DISCOVERY_* …); see the README.",
    health_port_env: "HTTP_PORT",
    health_port: DEFAULT_HTTP_PORT,
    health_path: "/health",
    failed_event: "controlplane_failed",
};

fn main() -> ExitCode {
    service_main::main(
        &SERVICE,
        |env| Settings::from_env_map(env).map_err(|e| e.to_string()),
        |settings| Identity {
            service: SERVICE.name,
            instance: settings.node_id.clone(),
            log: settings.log.clone(),
            crates: &["controlplane"],
        },
        controlplane::run,
    )
}
