//! Who the data plane is for its logs (JSON lines on stdout, or text for humans) and, when the
//! OpenTelemetry environment asks for it, its traces.

use service_runtime::telemetry::Identity;

use crate::config::LogFormat;

pub fn identity<'a>(node_id: &'a str, level: &'a str, format: LogFormat) -> Identity<'a> {
    Identity {
        service: "dataplane",
        instance: node_id,
        log_level: level,
        json_logs: format == LogFormat::Json,
        crates: &["dataplane", "btp_link"],
    }
}
