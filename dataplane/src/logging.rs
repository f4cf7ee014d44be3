//! Log output (JSON lines on stdout, or text for humans) and, when the OpenTelemetry
//! environment asks for it, trace export.

use crate::config::LogFormat;

pub fn init(
    level: &str,
    format: LogFormat,
    node_id: &str,
) -> service_runtime::telemetry::Telemetry {
    service_runtime::telemetry::init(
        "dataplane",
        node_id,
        level,
        format == LogFormat::Json,
        &["dataplane", "btp_link"],
    )
}
