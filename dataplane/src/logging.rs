//! Log output: JSON lines on stdout (what container platforms collect), or text for humans.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(level: &str, format: LogFormat) {
    // Our level applies to our crates; dependencies only speak up when something is wrong.
    let filter = EnvFilter::new(format!("warn,dataplane={level},btp_link={level}"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // Already initialised (tests embedding the node): keep the existing subscriber.
    let _ = result;
}
