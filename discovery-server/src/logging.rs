//! Who the discovery server is for its logs (JSON lines on stdout, or text for humans) and, when
//! the OpenTelemetry environment asks for it, its traces.

use service_runtime::telemetry::Identity;

use crate::settings::LogFormat;

pub fn identity(level: &str, format: LogFormat) -> Identity<'_> {
    Identity {
        service: "discovery-server",
        instance: "",
        log_level: level,
        json_logs: format == LogFormat::Json,
        crates: &["discovery_server"],
    }
}
