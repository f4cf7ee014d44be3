//! Helpers for tests that start the project's real binaries on 127.0.0.1 with ephemeral ports.
//!
//! The processes are `test_kit` services (exact environment, every wait bounded, stopped when
//! dropped, logs printed if the test panicked); binaries are found in `target/<profile>/`, so
//! the workspace's binaries must be built: `cargo nextest run --workspace` does that. What is
//! here is what the data plane's endpoints mean to these tests.

use std::time::Instant;

use serde_json::Value;
use service_runtime::http_client;

pub use test_kit::{Service as Process, binary, wait_until};

/// `GET path` on 127.0.0.1:`port`: the status and body, or `None` if nothing answered.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let response = http_client::get(port, path).ok()?;
    Some((response.status, response.body))
}

/// A data plane's `/health` JSON.
pub fn health(port: u16) -> Value {
    let (_, body) = http_get(port, "/health").expect("health endpoint answers");
    serde_json::from_str(&body).expect("health JSON")
}

pub fn link_state(health_port: u16, peer: &str) -> String {
    health(health_port)["peers"]
        .as_array()
        .and_then(|peers| peers.iter().find(|p| p["id"] == peer))
        .and_then(|p| p["linkState"].as_str())
        .unwrap_or("missing")
        .to_string()
}

pub fn metric(health_port: u16, series: &str) -> Option<f64> {
    let (_, text) = http_get(health_port, "/metrics")?;
    test_kit::metric_value(&text, series)
}

/// A per-test secret that is never a literal in configuration.
pub fn secret(name: &str) -> String {
    format!("{name}-{}-{:?}", std::process::id(), Instant::now())
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}
