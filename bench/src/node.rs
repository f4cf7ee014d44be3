//! A real `dataplane` (or `controlplane`) process on 127.0.0.1 with ephemeral ports, killed
//! when dropped. Starting, log capture and the ready wait are `test_kit`'s Result-returning
//! core (the same harness the tests use, without their panics); reading its endpoints is
//! `service_runtime::http_client`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use service_runtime::http_client;
use test_kit::process::{Process, Spec};

/// The `dataplane` binary: `DATAPLANE_BIN`, else next to this executable, else on PATH.
pub fn find_dataplane() -> Result<PathBuf> {
    find_binary("dataplane", "DATAPLANE_BIN")
}

/// A project binary: `$variable`, else next to this executable, else on PATH.
pub fn find_binary(binary: &str, variable: &str) -> Result<PathBuf> {
    Ok(test_kit::process::find_binary(binary, variable)?)
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
    process: Process,
    pub btp_port: u16,
    pub health_port: u16,
}

/// Log lines kept per process: enough to explain a failure, bounded for long runs.
const LOG_LINES_KEPT: usize = 200;

/// How long a node may take to log that it is ready (large configurations load slowly).
const READY_WITHIN: Duration = Duration::from_secs(120);

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
        let mut all = vec![
            ("CONFIG_FILE".to_string(), config.display().to_string()),
            (
                "DATA_DIR".to_string(),
                dir.join(format!("{name}-data")).display().to_string(),
            ),
        ];
        // `TRACK_BALANCES=false bench …` measures the cost of balance tracking, `LEDGER=memory
        // bench …` the cost of the embedded ledger's journal, `LEDGER=tigerbeetle
        // TIGERBEETLE_ADDRESSES=… bench …` a TigerBeetle cluster (bench/scripts/ledgers.sh).
        for variable in [
            "TRACK_BALANCES",
            "LEDGER",
            "TIGERBEETLE_ADDRESSES",
            "TIGERBEETLE_CLUSTER_ID",
            "TIGERBEETLE_MAX_BATCH",
        ] {
            all.extend(
                std::env::var(variable)
                    .ok()
                    .map(|v| (variable.to_string(), v)),
            );
        }
        all.extend(env.iter().cloned());
        let node = Node::spawn(binary, name, &all, "connector_started")?.0;
        node.wait_ready(READY_WITHIN)?;
        Ok(node)
    }

    /// Waits until `/health/ready` answers 200: a node with a shared ledger (TigerBeetle) is
    /// not ready until the cluster has answered, and packets sent before would be refused.
    pub fn wait_ready(&self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        while self.status_of("/health/ready")? != 200 {
            if Instant::now() > deadline {
                bail!(
                    "{}: not ready after {limit:?}; last logs:\n{}",
                    self.name,
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Starts `binary` with the data plane's loopback defaults plus `env` and waits for the
    /// log line whose message is `ready`; returns the node, that event and the time it took.
    pub fn spawn(
        binary: &Path,
        name: &str,
        env: &[(String, String)],
        ready: &str,
    ) -> Result<(Node, Value, Duration)> {
        let process = Spec::new(name, binary)
            .env("BTP_SERVER_HOST", "127.0.0.1")
            .env("BTP_SERVER_PORT", "0")
            .env("HEALTH_CHECK_HOST", "127.0.0.1")
            .env("HEALTH_CHECK_PORT", "0")
            .env("LOG_LEVEL", "info")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.clone())))
            .keep_lines(LOG_LINES_KEPT)
            .start()?;
        let event = process.wait_for_event(ready, READY_WITHIN)?;
        let took = process.spawned().elapsed();
        let port = |field: &str| -> Option<u16> {
            event[field].as_u64().and_then(|p| u16::try_from(p).ok())
        };
        let node = Node {
            name: name.to_string(),
            btp_port: port("btpServerPort").unwrap_or_default(),
            health_port: port("healthPort").unwrap_or_default(),
            process,
        };
        if ready == "connector_started" && (node.btp_port == 0 || node.health_port == 0) {
            bail!("connector_started lacks its ports: {event}");
        }
        Ok((node, event, took))
    }

    pub fn pid(&self) -> u32 {
        self.process.pid().unwrap_or_default()
    }

    /// Resident memory of the process now, in KiB (Linux).
    pub fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
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
        let response = http_client::get(self.health_port, "/health").context("GET /health")?;
        serde_json::from_str(&response.body).context("/health is not JSON")
    }

    /// The HTTP status of `path` on the health port.
    pub fn status_of(&self, path: &str) -> Result<u16> {
        let response =
            http_client::get(self.health_port, path).with_context(|| format!("GET {path}"))?;
        Ok(response.status)
    }

    pub fn btp_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.btp_port)
    }

    pub fn logs(&self) -> String {
        self.process.logs().join("\n")
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
    /// Killed at once, not stopped gracefully: a benchmark's nodes hold nothing worth draining,
    /// and the next round should not wait for them.
    fn drop(&mut self) {
        self.process.kill();
    }
}
