//! `ctl localnet`: N data planes in a line (n1—n2—…—nN) as separate processes on this machine,
//! their configuration and logs under one directory, a receiver behind the last node and a
//! sender in front of the first, one test payment end to end, then run until Ctrl-C.
//!
//! Secrets are generated per run and handed to the nodes through their environment; the
//! configuration files on disk hold only references to them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use proto::Address;
use testpeer::{Options, Payment, TestPeer};

use crate::http;

#[derive(clap::Args)]
pub struct Args {
    /// Number of nodes in the line (at least 3).
    #[arg(long, default_value_t = 3)]
    nodes: u16,
    /// Directory for configuration and logs (recreated on each run).
    #[arg(long, default_value = ".localnet")]
    dir: PathBuf,
    /// BTP port of the first node; the others follow.
    #[arg(long, default_value_t = 3000)]
    btp_base_port: u16,
    /// Health/metrics port of the first node; the others follow.
    #[arg(long, default_value_t = 8080)]
    health_base_port: u16,
    /// The `dataplane` binary (default: next to this `ctl`, then PATH).
    #[arg(long)]
    dataplane_bin: Option<PathBuf>,
    /// Start, send the test payment, print, and stop (for scripts and CI).
    #[arg(long)]
    once: bool,
}

struct NodeProcess {
    name: String,
    child: Child,
    btp_port: u16,
    health_port: u16,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        // SIGTERM lets the node drain and log its shutdown; kill it only if it lingers.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: sending a signal to a child we spawned and have not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dataplane_binary(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("dataplane")));
    if let Some(path) = sibling.filter(|p| p.is_file()) {
        return Ok(path);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("dataplane"))
        .find(|p| p.is_file());
    on_path.context(
        "cannot find the dataplane binary: build it first (cargo build --workspace --bins)",
    )
}

fn random_secret() -> String {
    let bytes: [u8; 24] = rand::random();
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The YAML and secrets of node `i` (0-based) in a line of `n`.
fn node_config(i: u16, n: u16, btp_base: u16) -> (String, Vec<(String, String)>) {
    let name = |i: u16| format!("n{}", i + 1);
    let mut yaml = format!(
        "ilpAddress: test.{0}\nname: {0}\nasset: {{ code: USD, scale: 9 }}\npeers:\n",
        name(i)
    );
    let mut routes = String::from("routes:\n");
    let mut env_names = Vec::new();
    if i > 0 {
        // The previous node dials us.
        yaml += &format!(
            "  - {{ id: {}, secretRef: \"env:SECRET_{}_{}\" }}\n",
            name(i - 1),
            i,
            i + 1
        );
        env_names.push(format!("SECRET_{}_{}", i, i + 1));
        for j in 0..i {
            routes += &format!(
                "  - {{ prefix: test.{}, peer: {} }}\n",
                name(j),
                name(i - 1)
            );
        }
    } else {
        yaml += "  - { id: sender, relation: child, secretRef: \"env:SECRET_SENDER\" }\n";
        env_names.push("SECRET_SENDER".into());
    }
    if i + 1 < n {
        yaml += &format!(
            "  - {{ id: {}, url: \"ws://127.0.0.1:{}\", secretRef: \"env:SECRET_{}_{}\" }}\n",
            name(i + 1),
            btp_base + i + 1,
            i + 1,
            i + 2
        );
        env_names.push(format!("SECRET_{}_{}", i + 1, i + 2));
        for j in i + 1..n {
            routes += &format!(
                "  - {{ prefix: test.{}, peer: {} }}\n",
                name(j),
                name(i + 1)
            );
        }
    } else {
        yaml += "  - { id: receiver, relation: child, secretRef: \"env:SECRET_RECEIVER\" }\n";
        env_names.push("SECRET_RECEIVER".into());
        routes += &format!(
            "  - {{ prefix: test.{}.receiver, peer: receiver }}\n",
            name(i)
        );
    }
    (
        yaml + &routes,
        env_names.into_iter().map(|n| (n, String::new())).collect(),
    )
}

fn start_node(
    bin: &Path,
    dir: &Path,
    name: &str,
    yaml: &str,
    env: &[(String, String)],
    btp_port: u16,
    health_port: u16,
) -> anyhow::Result<NodeProcess> {
    let node_dir = dir.join(name);
    std::fs::create_dir_all(&node_dir)?;
    let config = node_dir.join("dataplane.yaml");
    std::fs::write(&config, yaml)?;
    let log = std::fs::File::create(node_dir.join("dataplane.log"))?;
    let mut command = Command::new(bin);
    command
        .env("CONFIG_FILE", &config)
        .env("BTP_SERVER_HOST", "127.0.0.1")
        .env("BTP_SERVER_PORT", btp_port.to_string())
        .env("HEALTH_CHECK_HOST", "127.0.0.1")
        .env("HEALTH_CHECK_PORT", health_port.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(NodeProcess {
        name: name.to_string(),
        child,
        btp_port,
        health_port,
    })
}

fn wait_ready(node: &mut NodeProcess, dir: &Path, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = node.child.try_wait() {
            let log = std::fs::read_to_string(dir.join(&node.name).join("dataplane.log"))
                .unwrap_or_default();
            bail!("{} exited ({status}):\n{log}", node.name);
        }
        if matches!(http::get(node.health_port, "/health/ready"), Ok((200, _))) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} not ready after {limit:?} (is port {} or {} taken?)",
                node.name,
                node.btp_port,
                node.health_port
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn links_up(node: &NodeProcess) -> bool {
    let Ok((200, body)) = http::get(node.health_port, "/health") else {
        return false;
    };
    let Ok(health) = serde_json::from_str::<serde_json::Value>(&body) else {
        return false;
    };
    health["peers"].as_array().is_some_and(|peers| {
        peers
            .iter()
            .filter(|p| p["url"].is_string())
            .all(|p| p["linkState"] == "up")
    })
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.nodes < 3 {
        bail!("--nodes must be at least 3");
    }
    let bin = dataplane_binary(args.dataplane_bin.clone())?;
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)
            .with_context(|| format!("clearing {}", args.dir.display()))?;
    }
    std::fs::create_dir_all(&args.dir)?;
    let dir = args.dir.canonicalize()?;

    // One secret per link, shared by its two ends.
    let mut secrets = std::collections::BTreeMap::new();
    let mut nodes: Vec<NodeProcess> = Vec::new();
    // Start from the far end so every node's dial target is already listening.
    for i in (0..args.nodes).rev() {
        let (yaml, names) = node_config(i, args.nodes, args.btp_base_port);
        let env: Vec<(String, String)> = names
            .into_iter()
            .map(|(name, _)| {
                let value = secrets
                    .entry(name.clone())
                    .or_insert_with(random_secret)
                    .clone();
                (name, value)
            })
            .collect();
        let name = format!("n{}", i + 1);
        let mut node = start_node(
            &bin,
            &dir,
            &name,
            &yaml,
            &env,
            args.btp_base_port + i,
            args.health_base_port + i,
        )?;
        wait_ready(&mut node, &dir, Duration::from_secs(20))?;
        nodes.push(node);
    }
    nodes.reverse();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !nodes.iter().all(links_up) {
        if Instant::now() > deadline {
            bail!(
                "links did not come up within 20 s; see the logs under {}",
                dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let last = nodes.last().context("no nodes")?;
    let receiver_address = format!("test.n{}.receiver", args.nodes);
    let receiver = TestPeer::connect(
        &format!("ws://127.0.0.1:{}", last.btp_port),
        &secrets["SECRET_RECEIVER"],
        Options::new(Address::new(&receiver_address)?),
    )
    .await
    .context("connecting the receiver")?;
    let sender = TestPeer::connect(
        &format!("ws://127.0.0.1:{}", nodes[0].btp_port),
        &secrets["SECRET_SENDER"],
        Options::new(Address::new("test.n1.sender")?),
    )
    .await
    .context("connecting the sender")?;
    // The receiver's link is installed on the last node asynchronously; give it a moment.
    let payment = Payment {
        destination: Address::new(&format!("{receiver_address}.hello"))?,
        amount: 1000,
        data: b"localnet test payment".to_vec(),
        expires_in: Duration::from_secs(30),
    };
    let started = Instant::now();
    let mut outcome = sender.send(&payment).await?;
    while !outcome.is_fulfilled() && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        outcome = sender.send(&payment).await?;
    }

    println!(
        "Local network: {} nodes in a line, state and logs under {}",
        args.nodes,
        dir.display()
    );
    println!();
    println!("{:<6} {:<28} {:<34} metrics", "node", "BTP", "health");
    for node in &nodes {
        let btp = format!("ws://127.0.0.1:{}", node.btp_port);
        let health = format!("http://127.0.0.1:{}/health", node.health_port);
        println!(
            "{:<6} {btp:<28} {health:<34} http://127.0.0.1:{}/metrics",
            node.name, node.health_port
        );
    }
    println!("(gRPC management endpoints arrive with the control plane.)");
    println!();
    match &outcome {
        testpeer::Outcome::Fulfilled { .. } => println!(
            "Test payment: 1000 units test.n1.sender → {} across {} hops: fulfilled in {:?}",
            payment.destination,
            args.nodes,
            started.elapsed()
        ),
        testpeer::Outcome::Rejected {
            code,
            triggered_by,
            message,
            ..
        } => {
            bail!("test payment rejected: {code} by {triggered_by:?}: {message}")
        }
    }
    if args.once {
        receiver.close();
        sender.close();
        drop(nodes);
        return Ok(());
    }
    println!("Running until Ctrl-C.");
    tokio::signal::ctrl_c().await?;
    println!("Stopping…");
    receiver.close();
    sender.close();
    drop(nodes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_configs_route_both_ways() {
        let (first, env) = node_config(0, 3, 3000);
        assert!(first.contains("url: \"ws://127.0.0.1:3001\""), "{first}");
        assert!(first.contains("prefix: test.n3, peer: n2"), "{first}");
        assert_eq!(env.len(), 2);
        let (middle, _) = node_config(1, 3, 3000);
        assert!(middle.contains("prefix: test.n1, peer: n1"), "{middle}");
        assert!(middle.contains("prefix: test.n3, peer: n3"), "{middle}");
        let (last, _) = node_config(2, 3, 3000);
        assert!(
            last.contains("prefix: test.n3.receiver, peer: receiver"),
            "{last}"
        );
        assert!(!last.contains("url:"), "{last}");
    }
}
