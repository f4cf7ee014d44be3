//! Harness for end-to-end tests: real `dataplane` processes on 127.0.0.1 with ephemeral ports.
//! Every wait is bounded; processes are killed when their handle drops, and their logs are
//! printed if the test failed.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_dataplane");

pub struct NodeProcess {
    pub name: String,
    child: Option<Child>,
    pub btp_port: u16,
    pub health_port: u16,
    logs: Arc<Mutex<Vec<String>>>,
    config_path: PathBuf,
    env: Vec<(String, String)>,
    /// The threads copying stdout and stderr; they end when the process closes its pipes.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl NodeProcess {
    /// Starts a node with `yaml` as its CONFIG_FILE (written into `dir`) and `env` on top.
    pub fn start(dir: &Path, name: &str, yaml: &str, env: &[(&str, String)]) -> NodeProcess {
        let config_path = dir.join(format!("{name}.yaml"));
        std::fs::write(&config_path, yaml).expect("write config");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let mut node = NodeProcess {
            name: name.to_string(),
            child: None,
            btp_port: 0,
            health_port: 0,
            logs: Arc::new(Mutex::new(Vec::new())),
            config_path,
            env,
            readers: Vec::new(),
        };
        node.spawn(0);
        node
    }

    fn spawn(&mut self, btp_port: u16) {
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .env("CONFIG_FILE", &self.config_path)
            .env("BTP_SERVER_HOST", "127.0.0.1")
            .env("BTP_SERVER_PORT", btp_port.to_string())
            .env("HEALTH_CHECK_HOST", "127.0.0.1")
            .env("HEALTH_CHECK_PORT", "0")
            .env("LOG_LEVEL", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn dataplane");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (started_tx, started_rx) = std::sync::mpsc::channel::<String>();
        let logs = self.logs.clone();
        let stdout_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Into the logs first: whoever the signal wakes may read them at once.
                logs.lock().unwrap().push(line.clone());
                if line.contains("\"connector_started\"") {
                    let _ = started_tx.send(line);
                }
            }
        });
        let logs = self.logs.clone();
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                logs.lock().unwrap().push(format!("stderr: {line}"));
            }
        });
        self.readers = vec![stdout_reader, stderr_reader];
        self.child = Some(child);
        let line = match started_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => panic!(
                "{} did not start; logs:\n{}",
                self.name,
                self.logs().join("\n")
            ),
        };
        let event: Value = serde_json::from_str(&line).expect("connector_started is JSON");
        self.btp_port = event["btpServerPort"].as_u64().expect("btpServerPort") as u16;
        self.health_port = event["healthPort"].as_u64().expect("healthPort") as u16;
    }

    pub fn btp_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.btp_port)
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.health_port, path)
    }

    pub fn health(&self) -> Value {
        let (status, body) = self.http_get("/health");
        assert_eq!(status, 200, "/health of {}: {body}", self.name);
        serde_json::from_str(&body).expect("health JSON")
    }

    pub fn metrics(&self) -> String {
        self.http_get("/metrics").1
    }

    /// The value of the sample whose name and labels are exactly `series` (e.g.
    /// `ilp_packets_total{peer="a",direction="incoming",type="prepare",code=""}`).
    pub fn metric(&self, series: &str) -> Option<f64> {
        metric_value(&self.metrics(), series)
    }

    pub fn link_state(&self, peer: &str) -> String {
        let health = self.health();
        health["peers"]
            .as_array()
            .and_then(|peers| peers.iter().find(|p| p["id"] == peer))
            .and_then(|p| p["linkState"].as_str())
            .unwrap_or("missing")
            .to_string()
    }

    pub fn wait_link_state(&self, peer: &str, state: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let current = self.link_state(peer);
            if current == state {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: link to {peer} is {current}, not {state}, after {limit:?}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
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
                // Its pipes are closed now: once the readers finish, every line is in the logs.
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return status;
            }
            if Instant::now() > deadline {
                panic!("{} did not exit within {limit:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the same node again, on the same BTP port (peers dial that URL).
    pub fn restart(&mut self) {
        self.kill();
        let port = self.btp_port;
        self.spawn(port);
    }
}

impl Drop for NodeProcess {
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

pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect health port");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
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
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub fn secret(name: &str) -> String {
    format!("{name}-{}-secret", std::process::id())
}

/// Connects the receiver (`test.n.receiver`) and then the sender (`test.n.sender`) test peers to
/// a single node, and waits until the node sees the receiver's link up. Returns (receiver, sender).
pub async fn connect_sender_and_receiver(
    node: &NodeProcess,
    sender_token: &str,
    receiver_token: &str,
) -> (testpeer::TestPeer, testpeer::TestPeer) {
    let options = |address: &str| testpeer::Options::new(proto::Address::new(address).unwrap());
    let receiver =
        testpeer::TestPeer::connect(&node.btp_url(), receiver_token, options("test.n.receiver"))
            .await
            .unwrap();
    let sender =
        testpeer::TestPeer::connect(&node.btp_url(), sender_token, options("test.n.sender"))
            .await
            .unwrap();
    node.wait_link_state("receiver", "up", Duration::from_secs(10));
    (receiver, sender)
}
