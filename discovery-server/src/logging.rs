//! Log output: JSON lines on stdout, or text for humans.

use crate::settings::LogFormat;

pub fn init(level: &str, format: LogFormat) {
    service_runtime::init_logging(level, format == LogFormat::Json, &["discovery_server"]);
}
