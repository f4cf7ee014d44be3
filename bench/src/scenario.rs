//! The topologies a benchmark runs through; each starts what it needs and stops it when dropped.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use proto::Address;
use testpeer::{Options, TestPeer};

use crate::node::{Node, TempDir, find_dataplane};
use crate::relay::{RECEIVER_TOKEN, Relay, SENDER_TOKEN};

const LINK_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// sender → bare relay → receiver: the baseline.
    Relay,
    /// sender → node → receiver.
    OneHop,
    /// sender → A → B → receiver (A dials B).
    TwoHops,
    /// Like one-hop, with this many extra routes that are never matched.
    OneHopRoutes(usize),
}

impl Scenario {
    pub fn name(&self) -> String {
        match self {
            Scenario::Relay => "relay".into(),
            Scenario::OneHop => "one-hop".into(),
            Scenario::TwoHops => "two-hops".into(),
            Scenario::OneHopRoutes(n) => format!("one-hop-routes-{n}"),
        }
    }
}

/// A started scenario: the two test peers, linked up, and what carries packets between them.
/// Dropping it closes the peers and kills the processes.
pub struct Setup {
    pub sender: Arc<TestPeer>,
    pub receiver: TestPeer,
    pub destination: Address,
    _relay: Option<Relay>,
    _nodes: Vec<Node>,
    _dir: Option<TempDir>,
}

impl Setup {
    /// The processes that carry packets between the two test peers (relay or nodes).
    pub fn forwarder_pids(&self) -> Vec<u32> {
        self._relay
            .iter()
            .map(Relay::pid)
            .chain(self._nodes.iter().map(Node::pid))
            .collect()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.sender.close();
        self.receiver.close();
    }
}

fn secret(role: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("bench-{role}-{}-{nanos}", std::process::id())
}

async fn peer(url: &str, token: &str, address: &str) -> Result<TestPeer> {
    TestPeer::connect(url, token, Options::new(Address::new(address)?))
        .await
        .with_context(|| format!("test peer {address} connecting to {url}"))
}

/// Runs blocking process management without stalling the runtime's other tasks.
fn blocking<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    tokio::task::block_in_place(f)
}

pub async fn start(scenario: Scenario) -> Result<Setup> {
    match scenario {
        Scenario::Relay => start_relay().await,
        Scenario::OneHop => start_one_hop(0).await,
        Scenario::OneHopRoutes(n) => start_one_hop(n).await,
        Scenario::TwoHops => start_two_hops().await,
    }
}

async fn start_relay() -> Result<Setup> {
    let relay = Relay::start().await?;
    let receiver = peer(&relay.url(), RECEIVER_TOKEN, "test.relay.receiver").await?;
    let sender = peer(&relay.url(), SENDER_TOKEN, "test.relay.sender").await?;
    Ok(Setup {
        sender: Arc::new(sender),
        receiver,
        destination: Address::new("test.relay.receiver.bench")?,
        _relay: Some(relay),
        _nodes: Vec::new(),
        _dir: None,
    })
}

fn one_hop_yaml(extra_routes: usize) -> String {
    let mut yaml = String::from(
        "ilpAddress: test.n\nname: n\npeers:\n  - { id: sender, secretRef: \"env:SECRET_SENDER\" }\n  - { id: receiver, secretRef: \"env:SECRET_RECEIVER\" }\nroutes:\n  - { prefix: test.n.receiver, peer: receiver }\n",
    );
    for i in 0..extra_routes {
        // Distinct prefixes, two segments deep under a few hundred parents, never matched.
        let _ = writeln!(
            yaml,
            "  - {{ prefix: test.other{}.r{i}, peer: receiver }}",
            i % 300
        );
    }
    yaml
}

async fn start_one_hop(extra_routes: usize) -> Result<Setup> {
    let binary = find_dataplane()?;
    let dir = TempDir::new("one-hop")?;
    let (sender_secret, receiver_secret) = (secret("sender"), secret("receiver"));
    let env = vec![
        ("SECRET_SENDER".to_string(), sender_secret.clone()),
        ("SECRET_RECEIVER".to_string(), receiver_secret.clone()),
    ];
    let yaml = one_hop_yaml(extra_routes);
    let node = blocking(|| Node::start(&binary, &dir.0, "n", &yaml, &env))?;
    let receiver = peer(&node.btp_url(), &receiver_secret, "test.n.receiver").await?;
    let sender = peer(&node.btp_url(), &sender_secret, "test.n.sender").await?;
    blocking(|| {
        node.wait_link_up("receiver", LINK_TIMEOUT)?;
        node.wait_link_up("sender", LINK_TIMEOUT)
    })?;
    Ok(Setup {
        sender: Arc::new(sender),
        receiver,
        destination: Address::new("test.n.receiver.bench")?,
        _relay: None,
        _nodes: vec![node],
        _dir: Some(dir),
    })
}

fn start_node(
    binary: &Path,
    dir: &Path,
    name: &str,
    yaml: &str,
    env: &[(&str, &str)],
) -> Result<Node> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    blocking(|| Node::start(binary, dir, name, yaml, &env))
}

async fn start_two_hops() -> Result<Setup> {
    let binary = find_dataplane()?;
    let dir = TempDir::new("two-hops")?;
    let (sender_secret, ab_secret, receiver_secret) =
        (secret("sender"), secret("ab"), secret("receiver"));
    let b = start_node(
        &binary,
        &dir.0,
        "b",
        "ilpAddress: test.b\nname: b\npeers:\n  - { id: a, secretRef: \"env:SECRET_AB\" }\n  - { id: receiver, secretRef: \"env:SECRET_RECEIVER\" }\nroutes:\n  - { prefix: test.b.receiver, peer: receiver }\n",
        &[
            ("SECRET_AB", &ab_secret),
            ("SECRET_RECEIVER", &receiver_secret),
        ],
    )?;
    let a_yaml = format!(
        "ilpAddress: test.a\nname: a\npeers:\n  - {{ id: sender, secretRef: \"env:SECRET_SENDER\" }}\n  - {{ id: b, url: \"{}\", secretRef: \"env:SECRET_AB\" }}\nroutes:\n  - {{ prefix: test.b, peer: b }}\n",
        b.btp_url()
    );
    let a = start_node(
        &binary,
        &dir.0,
        "a",
        &a_yaml,
        &[("SECRET_AB", &ab_secret), ("SECRET_SENDER", &sender_secret)],
    )?;
    let receiver = peer(&b.btp_url(), &receiver_secret, "test.b.receiver").await?;
    let sender = peer(&a.btp_url(), &sender_secret, "test.a.sender").await?;
    blocking(|| {
        a.wait_link_up("b", LINK_TIMEOUT)?;
        b.wait_link_up("a", LINK_TIMEOUT)?;
        b.wait_link_up("receiver", LINK_TIMEOUT)?;
        a.wait_link_up("sender", LINK_TIMEOUT)
    })?;
    Ok(Setup {
        sender: Arc::new(sender),
        receiver,
        destination: Address::new("test.b.receiver.bench")?,
        _relay: None,
        _nodes: vec![a, b],
        _dir: Some(dir),
    })
}
