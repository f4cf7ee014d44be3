//! Log output (JSON lines on stdout, or text for humans) and, when the OpenTelemetry
//! environment asks for it, trace export.

use crate::settings::LogFormat;

pub fn init(level: &str, format: LogFormat) -> service_runtime::telemetry::Telemetry {
    service_runtime::telemetry::init(
        "discovery-server",
        "",
        level,
        format == LogFormat::Json,
        &["discovery_server"],
    )
}
