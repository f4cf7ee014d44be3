//! `dataplane`: the ILP connector's packet path. Wiring only; the work is in the library.

use std::process::ExitCode;

use dataplane::config::NodeConfig;
use service_runtime::service_main::{self, Service};
use service_runtime::telemetry::Identity;

const SERVICE: Service = Service {
    name: "dataplane",
    version: env!("CARGO_PKG_VERSION"),
    about: "An ILPv4 connector data plane: BTP links to peers and RFC 27 forwarding.\n\n\
        Configured by environment (NODE_ID, ILP_ADDRESS, BTP_SERVER_PORT, HEALTH_CHECK_PORT, \
        LOG_LEVEL, CONFIG_FILE, BTP_PEER_{ID}_URL / _SECRET / _ROUTES …); see the README.",
    health_port_env: "HEALTH_CHECK_PORT",
    health_port: dataplane::config::DEFAULT_HEALTH_PORT,
    health_path: "/health/live",
    failed_event: "connector_failed",
};

fn main() -> ExitCode {
    service_main::main(
        &SERVICE,
        |env| NodeConfig::from_env_map(env).map_err(|e| e.to_string()),
        |config| Identity {
            service: SERVICE.name,
            instance: config.node_id.clone(),
            log: config.log.clone(),
            crates: &["dataplane", "btp_link"],
        },
        dataplane::run,
    )
}
