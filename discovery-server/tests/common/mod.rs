//! Harness for the `discovery-server` binary: real processes on 127.0.0.1 with ephemeral
//! ports, started and watched by `test_kit` (every wait bounded, stopped when dropped, logs
//! printed if the test failed), requests through `service_runtime::http_client`, and signed
//! requests built with `proto::discovery`.

// Each test binary uses a different part of this harness.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use node_identity::NodeKey;
use proto::discovery::{Announcement, sign_announcement};
use serde_json::Value;
use service_runtime::http_client;
use test_kit::process::Spec;
use test_kit::{Service, metric_value};

pub const BIN: &str = env!("CARGO_BIN_EXE_discovery-server");

pub struct Server {
    pub port: u16,
    /// When the process was spawned (its grace period starts a little after).
    pub spawned: Instant,
    service: Service,
}

// The process's own calls (logs, pid, terminate, wait_exit, kill) are the `Service`'s.
test_kit::deref_to_service!(Server);

impl Server {
    /// Starts a server on `data_dir` with `env` on top of test defaults (a generous rate limit
    /// so only the rate-limit test meets it).
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let spec = Spec::new("discovery-server", BIN)
            .env("DATA_DIR", data_dir.display().to_string())
            .env("DISCOVERY_HOST", "127.0.0.1")
            .env("DISCOVERY_PORT", "0")
            .env("DISCOVERY_RATE_PER_SECOND", "10000")
            .env("DISCOVERY_RATE_BURST", "10000")
            .env("LOG_LEVEL", "debug")
            .envs(env.iter().copied());
        let service = Service::start_spec(spec, "discovery_started");
        let port = service.port("port");
        assert!(port > 0, "{}", service.started);
        Server {
            port,
            spawned: service.spawned(),
            service,
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        http(self.port, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        self.request("GET", path, &[], b"")
    }

    pub fn announce(&self, announcement: &Announcement) -> HttpResponse {
        let body = serde_json::to_vec(announcement).unwrap();
        self.request(
            "POST",
            "/api/v1/peers/announce",
            &[("Content-Type", "application/json")],
            &body,
        )
    }

    pub fn deregister(&self, node_id: &str, sequence: u64, signature: &str) -> HttpResponse {
        let sequence = sequence.to_string();
        self.request(
            "DELETE",
            &format!("/api/v1/peers/{node_id}"),
            &[
                ("X-Discovery-Sequence", &sequence),
                ("X-Discovery-Signature", signature),
            ],
            b"",
        )
    }

    /// Node ids listed (with an optional `?capabilities=` filter).
    pub fn listed(&self, capabilities: Option<&str>) -> Vec<String> {
        let path = match capabilities {
            Some(filter) => format!("/api/v1/peers?capabilities={filter}"),
            None => "/api/v1/peers".to_string(),
        };
        let response = self.get(&path);
        assert_eq!(response.status, 200, "{}", response.body);
        let json = response.json();
        let ids: Vec<String> = json["peers"]
            .as_array()
            .expect("peers array")
            .iter()
            .map(|p| p["nodeId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(json["total"].as_u64(), Some(ids.len() as u64), "{json}");
        ids
    }

    pub fn metric(&self, series: &str) -> Option<f64> {
        let response = self.get("/metrics");
        assert_eq!(response.status, 200);
        metric_value(&response.body, series)
    }

    pub fn rejections(&self, reason: &str) -> f64 {
        self.metric(&format!(
            "discovery_rejections_total{{reason=\"{reason}\"}}"
        ))
        .unwrap_or_else(|| panic!("no rejection series for {reason}"))
    }

    /// SIGTERM, then a bounded wait; asserts a clean exit.
    pub fn stop(&mut self) {
        self.terminate();
        let status = self.wait_exit(Duration::from_secs(15));
        assert!(status.success(), "{status:?}");
    }
}

/// An answer, read as the tests need it (status, headers and body through `Deref`).
pub struct HttpResponse(http_client::Response);

impl std::ops::Deref for HttpResponse {
    type Target = http_client::Response;

    fn deref(&self) -> &http_client::Response {
        &self.0
    }
}

impl HttpResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The `error` of a `{"success":false,"error":…}` answer (asserting that shape).
    pub fn error(&self) -> String {
        let json = self.json();
        assert_eq!(json["success"], false, "{json}");
        json["error"].as_str().expect("error string").to_string()
    }
}

/// One request on a fresh connection (`Connection: close`), bounded by a 10 s timeout.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let response = http_client::request(
        "127.0.0.1",
        port,
        method,
        path,
        headers,
        body,
        Duration::from_secs(10),
    )
    .unwrap_or_else(|e| panic!("{method} {path} on 127.0.0.1:{port}: {e}"));
    HttpResponse(response)
}

/// A signed announcement of `node_id` by `key`.
pub fn announcement(
    key: &NodeKey,
    node_id: &str,
    endpoint: &str,
    capabilities: &[&str],
    sequence: u64,
) -> Announcement {
    let mut a = Announcement {
        node_id: node_id.to_string(),
        btp_endpoint: endpoint.to_string(),
        ilp_address: format!("test.{}", node_id.replace('.', "_")),
        capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
        version: "0.1.0".to_string(),
        public_key: String::new(),
        sequence,
        signature: String::new(),
    };
    sign_announcement(key, &mut a);
    a
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub fn data_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().to_path_buf()
}
