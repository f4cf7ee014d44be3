//! Harness for the `discovery-server` binary: real processes on 127.0.0.1 with ephemeral
//! ports, a minimal HTTP/1.1 client, and signed requests built with `proto::discovery`.
//! Every wait is bounded; processes are killed when their handle drops, and their logs are
//! printed if the test failed.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use node_identity::NodeKey;
use proto::discovery::{Announcement, sign_announcement};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_discovery-server");

pub struct Server {
    child: Option<Child>,
    pub port: u16,
    logs: Arc<Mutex<Vec<String>>>,
    /// When the process was spawned (its grace period starts a little after).
    pub spawned: Instant,
    /// The threads copying stdout and stderr; they end when the process closes its pipes.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts a server on `data_dir` with `env` on top of test defaults (a generous rate limit
    /// so only the rate-limit test meets it).
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .env("DATA_DIR", data_dir)
            .env("DISCOVERY_HOST", "127.0.0.1")
            .env("DISCOVERY_PORT", "0")
            .env("DISCOVERY_RATE_PER_SECOND", "10000")
            .env("DISCOVERY_RATE_BURST", "10000")
            .env("LOG_LEVEL", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let spawned = Instant::now();
        let mut child = command.spawn().expect("spawn discovery-server");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (started_tx, started_rx) = std::sync::mpsc::channel::<String>();
        let sink = logs.clone();
        let stdout_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Into the logs first: whoever the signal wakes may read them at once.
                sink.lock().unwrap().push(line.clone());
                if line.contains("\"discovery_started\"") {
                    let _ = started_tx.send(line);
                }
            }
        });
        let sink = logs.clone();
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(format!("stderr: {line}"));
            }
        });
        let mut server = Server {
            child: Some(child),
            port: 0,
            logs,
            spawned,
            readers: vec![stdout_reader, stderr_reader],
        };
        let line = match started_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => panic!(
                "discovery-server did not start; logs:\n{}",
                server.logs().join("\n")
            ),
        };
        let event: Value = serde_json::from_str(&line).expect("discovery_started is JSON");
        server.port = event["port"].as_u64().expect("port field") as u16;
        assert!(server.port > 0, "{line}");
        server
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
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

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                // The process is gone, so its pipes are closed: once the readers finish, every
                // line it wrote is in the logs.
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return status;
            }
            if Instant::now() > deadline {
                panic!("discovery-server did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then a bounded wait; asserts a clean exit.
    pub fn stop(&mut self) {
        self.terminate();
        let status = self.wait_exit(Duration::from_secs(15));
        assert!(status.success(), "{status:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- discovery-server logs ----\n{}",
                self.logs().join("\n")
            );
        }
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
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
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    // The server may answer (413) and close before reading everything we send; what it
    // answered is still readable.
    let _ = stream.write_all(&bytes);
    let mut raw = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(_) => break,
        }
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
}

/// Polls `check` until it returns true, or panics with `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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
