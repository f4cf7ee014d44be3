//! Helpers for tests that start the project's real binaries on 127.0.0.1 with ephemeral ports.
//!
//! The processes are `test_kit` services (exact environment, every wait bounded, stopped when
//! dropped, logs printed if the test panicked); binaries are found in `target/<profile>/`, so
//! the workspace's binaries must be built: `cargo nextest run --workspace` does that. What is
//! here is what the data plane's endpoints mean to these tests.

use std::path::Path;
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

/// Starts `target/<profile>/controlplane` as `<name>-controlplane` with exactly `env`.
pub fn start_controlplane(name: &str, env: &[(&str, String)]) -> Process {
    Process::start(
        &format!("{name}-controlplane"),
        binary("controlplane"),
        env,
        "controlplane_started",
    )
}

/// Starts `target/<profile>/dataplane` as `<name>-dataplane` with exactly `env`.
pub fn start_dataplane(name: &str, env: &[(&str, String)]) -> Process {
    Process::start(
        &format!("{name}-dataplane"),
        binary("dataplane"),
        env,
        "connector_started",
    )
}

/// `NODE_ID` `name` and `ILP_ADDRESS` `test.<name>`.
pub fn node_env(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("NODE_ID", name.to_string()),
        ("ILP_ADDRESS", format!("test.{name}")),
    ]
}

/// A control plane on 127.0.0.1 (gRPC and HTTP on ephemeral ports), its state in `data_dir`,
/// `token` its API token (read from `API_TOKEN`).
pub fn controlplane_env(data_dir: &Path, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GRPC_HOST", "127.0.0.1".into()),
        ("GRPC_PORT", "0".into()),
        ("HTTP_PORT", "0".into()),
        ("DATA_DIR", data_dir.display().to_string()),
        ("API_TOKEN_REF", "env:API_TOKEN".into()),
        ("API_TOKEN", token.to_string()),
    ]
}

/// The gRPC URL of a started control plane.
pub fn grpc_url(controlplane: &Process) -> String {
    format!("http://127.0.0.1:{}", controlplane.port("grpcPort"))
}

/// A data plane on 127.0.0.1 (BTP on `btp_port`, 0 for an ephemeral one; health on an
/// ephemeral port), its state in `data_dir`, fed by the control plane at `controlplane_url`.
pub fn dataplane_env(
    btp_port: u16,
    data_dir: &Path,
    controlplane_url: &str,
    token: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("BTP_SERVER_HOST", "127.0.0.1".into()),
        ("BTP_SERVER_PORT", btp_port.to_string()),
        ("HEALTH_CHECK_HOST", "127.0.0.1".into()),
        ("HEALTH_CHECK_PORT", "0".into()),
        ("CONTROLPLANE_URL", controlplane_url.to_string()),
        ("CONTROLPLANE_TOKEN", token.to_string()),
        ("DATA_DIR", data_dir.display().to_string()),
    ]
}
