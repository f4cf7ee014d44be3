//! A real `dataplane` process on 127.0.0.1 with ephemeral ports, killed when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

/// The `dataplane` binary: `DATAPLANE_BIN`, else next to this executable, else on PATH.
pub fn find_dataplane() -> Result<PathBuf> {
    find_binary("dataplane", "DATAPLANE_BIN")
}

/// A project binary: `$variable`, else next to this executable, else on PATH.
pub fn find_binary(binary: &str, variable: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Ok(PathBuf::from(path));
    }
    let name = format!("{binary}{}", std::env::consts::EXE_SUFFIX);
    let exe = std::env::current_exe().context("current_exe")?;
    let mut dirs: Vec<PathBuf> = exe.parent().map(Path::to_path_buf).into_iter().collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .map(|dir| dir.join(&name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            anyhow!(
                "the `{binary}` binary was not found next to {} nor on PATH; build it \
                 (`cargo build -p {binary}`, with --release for a release bench) or set {variable}",
                exe.display()
            )
        })
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path =
            std::env::temp_dir().join(format!("bench-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("create {}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Node {
    pub name: String,
    child: Child,
    pub btp_port: u16,
    pub health_port: u16,
    logs: Arc<Mutex<Vec<String>>>,
}

const LOG_LINES_KEPT: usize = 200;

fn keep(logs: &Mutex<Vec<String>>, line: String) {
    let mut logs = logs.lock().expect("logs");
    if logs.len() >= LOG_LINES_KEPT {
        logs.remove(0);
    }
    logs.push(line);
}

impl Node {
    /// Starts `binary` with `yaml` as CONFIG_FILE (written into `dir`) and `env` on top, and
    /// waits for its `connector_started` log line.
    pub fn start(
        binary: &Path,
        dir: &Path,
        name: &str,
        yaml: &str,
        env: &[(String, String)],
    ) -> Result<Node> {
        let config = dir.join(format!("{name}.yaml"));
        std::fs::write(&config, yaml).with_context(|| format!("write {}", config.display()))?;
        let mut all = vec![("CONFIG_FILE".to_string(), config.display().to_string())];
        // `TRACK_BALANCES=false bench …` measures the cost of balance tracking.
        all.extend(
            std::env::var("TRACK_BALANCES")
                .ok()
                .map(|v| ("TRACK_BALANCES".to_string(), v)),
        );
        all.extend(env.iter().cloned());
        Ok(Node::spawn(binary, name, &all, "connector_started")?.0)
    }

    /// Starts `binary` with the data plane's loopback defaults plus `env` and waits for the
    /// log line whose message is `ready`; returns the node, that event and the time it took.
    pub fn spawn(
        binary: &Path,
        name: &str,
        env: &[(String, String)],
        ready: &str,
    ) -> Result<(Node, Value, Duration)> {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("BTP_SERVER_HOST", "127.0.0.1")
            .env("BTP_SERVER_PORT", "0")
            .env("HEALTH_CHECK_HOST", "127.0.0.1")
            .env("HEALTH_CHECK_PORT", "0")
            .env("LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let spawned = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("spawn {}", binary.display()))?;
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (started_tx, started_rx) = std::sync::mpsc::channel::<String>();
        let needle = format!("\"message\":\"{ready}\"");
        // Both pipes are drained for the life of the process, so it never blocks on a log write.
        let out_logs = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains(&needle) {
                    let _ = started_tx.send(line.clone());
                }
                keep(&out_logs, line);
            }
        });
        let err_logs = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep(&err_logs, format!("stderr: {line}"));
            }
        });
        let mut node = Node {
            name: name.to_string(),
            child,
            btp_port: 0,
            health_port: 0,
            logs,
        };
        let line = match started_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => line,
            Err(_) => bail!(
                "{name} did not log {ready} within 120 s; last logs:\n{}",
                node.logs()
            ),
        };
        let took = spawned.elapsed();
        let event: Value = serde_json::from_str(&line).context("the ready event is not JSON")?;
        let port = |field: &str| -> Option<u16> {
            event[field].as_u64().and_then(|p| u16::try_from(p).ok())
        };
        node.btp_port = port("btpServerPort").unwrap_or_default();
        node.health_port = port("healthPort").unwrap_or_default();
        if ready == "connector_started" && (node.btp_port == 0 || node.health_port == 0) {
            bail!("connector_started lacks its ports: {line}");
        }
        Ok((node, event, took))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process now, in KiB (Linux).
    pub fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .context("read /proc/<pid>/status")?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .ok_or_else(|| anyhow!("no VmRSS in /proc/<pid>/status"))
    }

    /// The node's `/health` JSON.
    pub fn health(&self) -> Result<Value> {
        let body = http_get(self.health_port, "/health")?;
        serde_json::from_str(&body).context("/health is not JSON")
    }

    /// The HTTP status of `path` on the health port.
    pub fn status_of(&self, path: &str) -> Result<u16> {
        http_status(self.health_port, path)
    }

    pub fn btp_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.btp_port)
    }

    pub fn logs(&self) -> String {
        self.logs.lock().expect("logs").join("\n")
    }

    fn link_state(&self, peer: &str) -> Result<String> {
        let health = self.health()?;
        Ok(health["peers"]
            .as_array()
            .and_then(|peers| peers.iter().find(|p| p["id"] == peer))
            .and_then(|p| p["linkState"].as_str())
            .unwrap_or("missing")
            .to_string())
    }

    /// Waits until this node reports its link to `peer` as up.
    pub fn wait_link_up(&self, peer: &str, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let state = self.link_state(peer)?;
            if state == "up" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: link to {peer} is {state} after {limit:?}; last logs:\n{}",
                    self.name,
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_status(port: u16, path: &str) -> Result<u16> {
    let response = http_request(port, path)?;
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow!("no HTTP status in the answer to {path}"))
}

fn http_get(port: u16, path: &str) -> Result<String> {
    Ok(http_request(port, path)?
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default())
}

fn http_request(port: u16, path: &str) -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).context("connect health port")?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}
