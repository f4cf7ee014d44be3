//! Harness for tests that start the project's real binaries on 127.0.0.1 with ephemeral ports.
//!
//! Binaries are found next to the test executable's directory (`target/<profile>/`), so the
//! workspace's binaries must be built: `cargo nextest run --workspace` does that. Every wait is
//! bounded; processes are killed when their handle drops, and their logs are printed if the
//! test panicked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `target/<profile>/<name>`, checked to exist.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace's binaries first (cargo nextest run --workspace builds them)",
        path.display()
    );
    path
}

/// A running binary, its JSON log lines, and the event it announced itself with.
pub struct Process {
    pub name: String,
    program: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    logs: Arc<Mutex<Vec<String>>>,
    ready_message: String,
    /// The announce event's fields (`connector_started`, `controlplane_started`).
    pub started: Value,
}

impl Process {
    /// Starts `program` with exactly `env` (plus PATH) and waits for a log line whose message
    /// is `ready_message`.
    pub fn start(
        name: &str,
        program: PathBuf,
        env: &[(&str, String)],
        ready_message: &str,
    ) -> Process {
        let mut process = Process {
            name: name.to_string(),
            program,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            child: None,
            logs: Arc::new(Mutex::new(Vec::new())),
            ready_message: ready_message.to_string(),
            started: Value::Null,
        };
        process.spawn();
        process
    }

    fn spawn(&mut self) {
        let mut command = Command::new(&self.program);
        command
            .env_clear()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.program.display()));
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<String>();
        let needle = format!("\"message\":\"{}\"", self.ready_message);
        let logs = self.logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Into the logs first: whoever the signal wakes may read them at once.
                logs.lock().unwrap().push(line.clone());
                if line.contains(&needle) {
                    let _ = ready_tx.send(line);
                }
            }
        });
        let logs = self.logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                logs.lock().unwrap().push(format!("stderr: {line}"));
            }
        });
        self.child = Some(child);
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => self.started = serde_json::from_str(&line).expect("JSON log line"),
            Err(_) => panic!(
                "{} did not log {:?}; logs:\n{}",
                self.name,
                self.ready_message,
                self.logs().join("\n")
            ),
        }
    }

    /// A numeric field of the announce event (e.g. `btpServerPort`).
    pub fn port(&self, field: &str) -> u16 {
        self.started[field]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| panic!("{}: no {field} in {}", self.name, self.started))
    }

    /// Sets or replaces an environment variable for the next (re)start.
    pub fn set_env(&mut self, key: &str, value: String) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value));
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn has_log(&self, message: &str) -> bool {
        let needle = format!("\"message\":\"{message}\"");
        self.logs().iter().any(|l| l.contains(&needle))
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn terminate_and_wait(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{} did not exit within {limit:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills and starts again with the same environment (after `set_env` changes).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- logs of {} ----\n{}",
                self.name,
                self.logs().join("\n")
            );
        }
    }
}

pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
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
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
}

/// Polls `check` every 10 ms until it holds; panics with `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        if started.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

/// A per-test secret that is never a literal in configuration.
pub fn secret(name: &str) -> String {
    format!("{name}-{}-{:?}", std::process::id(), Instant::now())
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}
