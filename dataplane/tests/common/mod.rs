//! Harness for end-to-end tests: real `dataplane` processes on 127.0.0.1 with ephemeral ports,
//! started and watched by `test_kit` (every wait bounded, stopped when dropped, logs printed if
//! the test failed), and read through `service_runtime::http_client`.

// Each test binary uses a different part of this harness.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use service_runtime::http_client;
use test_kit::process::Spec;
use test_kit::{Service, metric_value};

pub const BIN: &str = env!("CARGO_BIN_EXE_dataplane");

pub struct NodeProcess {
    pub name: String,
    pub btp_port: u16,
    pub health_port: u16,
    service: Service,
}

// The process's own calls (logs, pid, terminate, wait_exit, kill) are the `Service`'s.
test_kit::deref_to_service!(NodeProcess);

impl NodeProcess {
    /// Starts a node with `yaml` as its CONFIG_FILE (written into `dir`) and `env` on top.
    pub fn start(dir: &Path, name: &str, yaml: &str, env: &[(&str, String)]) -> NodeProcess {
        let config_path: PathBuf = dir.join(format!("{name}.yaml"));
        std::fs::write(&config_path, yaml).expect("write config");
        let spec = Spec::new(name, BIN)
            .env("CONFIG_FILE", config_path.display().to_string())
            .env("BTP_SERVER_HOST", "127.0.0.1")
            .env("BTP_SERVER_PORT", "0")
            .env("HEALTH_CHECK_HOST", "127.0.0.1")
            .env("HEALTH_CHECK_PORT", "0")
            .env("LOG_LEVEL", "info")
            // Its own ledger, kept across restarts of this node only.
            .env(
                "DATA_DIR",
                dir.join(format!("{name}-data")).display().to_string(),
            )
            .envs(env.iter().map(|(k, v)| (*k, v.clone())));
        let mut node = NodeProcess {
            name: name.to_string(),
            btp_port: 0,
            health_port: 0,
            service: Service::start_spec(spec, "connector_started"),
        };
        node.read_ports();
        node
    }

    /// Starts node `name` with the config [`node_yaml`] writes from `peers` and `routes`.
    pub fn start_node(
        dir: &Path,
        name: &str,
        peers: &[String],
        routes: &[(&str, &str)],
        env: &[(&str, String)],
    ) -> NodeProcess {
        NodeProcess::start(dir, name, &node_yaml(name, peers, routes), env)
    }

    fn read_ports(&mut self) {
        self.btp_port = self.service.port("btpServerPort");
        self.health_port = self.service.port("healthPort");
    }

    pub fn btp_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.btp_port)
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

    /// A peer's (balance, pendingIncoming) as `/health` shows them (decimal strings: i128).
    pub fn balance(&self, peer: &str) -> (i128, i128) {
        let health = self.health();
        let entry = health["peers"]
            .as_array()
            .and_then(|peers| peers.iter().find(|p| p["id"] == peer))
            .unwrap_or_else(|| panic!("no peer {peer} in {health}"));
        let number = |key: &str| -> i128 {
            entry[key]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{key} of {peer} in {health}"))
        };
        (number("balance"), number("pendingIncoming"))
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

    /// Starts the same node again, on the same BTP port (peers dial that URL).
    pub fn restart(&mut self) {
        self.service
            .set_env("BTP_SERVER_PORT", self.btp_port.to_string());
        self.service.restart();
        self.read_ports();
    }
}

/// A node's CONFIG_FILE: `ilpAddress: test.<name>`, its name, then one line per peer (a YAML
/// flow mapping) and per route (`prefix peer`).
pub fn node_yaml(name: &str, peers: &[String], routes: &[(&str, &str)]) -> String {
    let mut yaml = format!("ilpAddress: test.{name}\nname: {name}\npeers:\n");
    for peer in peers {
        yaml.push_str(&format!("  - {peer}\n"));
    }
    yaml.push_str("routes:\n");
    for (prefix, peer) in routes {
        yaml.push_str(&format!("  - {{ prefix: {prefix}, peer: {peer} }}\n"));
    }
    yaml
}

/// `GET path` on 127.0.0.1:`port`: the status and body.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let response = http_client::get(port, path)
        .unwrap_or_else(|e| panic!("GET {path} on 127.0.0.1:{port}: {e}"));
    (response.status, response.body)
}

pub fn secret(name: &str) -> String {
    format!("{name}-{}-secret", std::process::id())
}

/// A node `test.n` with a sender and a receiver peer, `test.n.receiver` routed to the latter.
pub const SINGLE_NODE: &str = r#"
ilpAddress: test.n
name: n
peers:
  - { id: sender, secretRef: "env:SECRET_SENDER" }
  - { id: receiver, secretRef: "env:SECRET_RECEIVER" }
routes:
  - { prefix: test.n.receiver, peer: receiver }
"#;

/// Starts `yaml` (a [`SINGLE_NODE`]) as node `n` with fresh sender and receiver secrets and
/// `env` on top, and connects both test peers. Returns (node, receiver, sender).
pub async fn start_single_node(
    dir: &Path,
    yaml: &str,
    env: &[(&str, String)],
) -> (NodeProcess, testpeer::TestPeer, testpeer::TestPeer) {
    let (sender_token, receiver_token) = (secret("sender"), secret("receiver"));
    let mut all = vec![
        ("SECRET_SENDER", sender_token.clone()),
        ("SECRET_RECEIVER", receiver_token.clone()),
    ];
    all.extend(env.iter().cloned());
    let node = NodeProcess::start(dir, "n", yaml, &all);
    let (receiver, sender) =
        connect_sender_and_receiver(&node, &sender_token, &receiver_token).await;
    (node, receiver, sender)
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
