//! Starting the line of nodes for `ctl localnet`: each node's control plane, its peers and
//! routes created through the gRPC API, then its data plane, from the far end so every dial
//! target is already listening; then a bounded wait until every link is up.
//!
//! The processes are supervised here rather than by the workspace's `test-kit`: this is an
//! operator command in a shipped binary, which must not depend on a dev-only crate, and its
//! processes log to files under the network's directory that outlive the run (the operator
//! reads them), where test-kit captures lines in memory for tests.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use proto::grpc::v1 as pb;
use proto::grpc::v1::peer_service_client::PeerServiceClient;
use proto::grpc::v1::route_service_client::RouteServiceClient;
use service_runtime::http_client;

use super::Args;

/// A child process stopped with SIGTERM (so it drains and logs its shutdown) when dropped.
struct Managed {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Drop for Managed {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: signalling a child we spawned and have not reaped.
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

impl Managed {
    fn exited(&mut self) -> anyhow::Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            bail!("{} exited ({status}):\n{log}", self.name);
        }
        Ok(())
    }
}

pub(super) struct Node {
    pub(super) name: String,
    pub(super) btp_port: u16,
    pub(super) health_port: u16,
    pub(super) grpc_port: u16,
    pub(super) token_file: PathBuf,
    // Fields drop in declaration order: the data plane stops before its control plane.
    _dataplane: Managed,
    _controlplane: Managed,
}

/// One peer of a node in the line.
struct PeerPlan {
    id: String,
    url: Option<String>,
    relation: &'static str,
    secret_env: String,
}

/// Node `i`'s (0-based) peers and routes in a line of `n`.
fn plan(i: u16, n: u16, btp_base: u16) -> (Vec<PeerPlan>, Vec<(String, String)>) {
    let name = |i: u16| format!("n{}", i + 1);
    let mut peers = Vec::new();
    let mut routes = Vec::new();
    if i > 0 {
        // The previous node dials us.
        peers.push(PeerPlan {
            id: name(i - 1),
            url: None,
            relation: "peer",
            secret_env: format!("SECRET_{}_{}", i, i + 1),
        });
        for j in 0..i {
            routes.push((format!("test.{}", name(j)), name(i - 1)));
        }
    } else {
        peers.push(PeerPlan {
            id: "sender".into(),
            url: None,
            relation: "child",
            secret_env: "SECRET_SENDER".into(),
        });
    }
    if i + 1 < n {
        peers.push(PeerPlan {
            id: name(i + 1),
            url: Some(format!("ws://127.0.0.1:{}", btp_base + i + 1)),
            relation: "peer",
            secret_env: format!("SECRET_{}_{}", i + 1, i + 2),
        });
        for j in i + 1..n {
            routes.push((format!("test.{}", name(j)), name(i + 1)));
        }
    } else {
        peers.push(PeerPlan {
            id: "receiver".into(),
            url: None,
            relation: "child",
            secret_env: "SECRET_RECEIVER".into(),
        });
        routes.push((format!("test.{}.receiver", name(i)), "receiver".into()));
    }
    (peers, routes)
}

fn find_binary(explicit: Option<&Path>, name: &str) -> anyhow::Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir.join(name));
    }
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)));
    if let Some(path) = sibling.filter(|p| p.is_file()) {
        return Ok(path);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "cannot find the {name} binary: build it first (cargo build --workspace --bins)"
            )
        })
}

fn random_hex(bytes: usize) -> String {
    (0..bytes).fold(String::new(), |mut out, _| {
        let _ = write!(out, "{:02x}", rand::random::<u8>());
        out
    })
}

fn spawn(
    program: &Path,
    name: &str,
    log: PathBuf,
    env: &[(String, String)],
) -> anyhow::Result<Managed> {
    let file = std::fs::File::create(&log)?;
    let mut command = Command::new(program);
    command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    Ok(Managed {
        name: name.to_string(),
        child,
        log,
    })
}

fn wait_for(
    what: &str,
    limit: Duration,
    process: &mut Managed,
    mut ready: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !ready() {
        process.exited()?;
        if Instant::now() > deadline {
            bail!(
                "{what} not ready after {limit:?}; see {}",
                process.log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

fn authorized<T>(message: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

async fn configure(
    grpc_port: u16,
    token: &str,
    peers: &[PeerPlan],
    routes: &[(String, String)],
) -> anyhow::Result<()> {
    let url = format!("http://127.0.0.1:{grpc_port}");
    let channel = tonic::transport::Channel::from_shared(url.clone())?
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let mut peer_client = PeerServiceClient::new(channel.clone());
    let mut route_client = RouteServiceClient::new(channel);
    for peer in peers {
        let request = pb::CreatePeerRequest {
            peer: Some(pb::Peer {
                id: peer.id.clone(),
                url: peer.url.clone().unwrap_or_default(),
                relation: peer.relation.into(),
                asset_code: "USD".into(),
                asset_scale: 9,
                secret_ref: format!("env:{}", peer.secret_env),
                ..Default::default()
            }),
            validate_only: false,
        };
        peer_client
            .create_peer(authorized(request, token)?)
            .await
            .with_context(|| format!("adding peer {}", peer.id))?;
    }
    for (prefix, peer) in routes {
        let request = pb::CreateRouteRequest {
            route: Some(pb::Route {
                prefix: prefix.clone(),
                peer_id: peer.clone(),
                ..Default::default()
            }),
            validate_only: false,
        };
        route_client
            .create_route(authorized(request, token)?)
            .await
            .with_context(|| format!("adding route {prefix}"))?;
    }
    Ok(())
}

fn links_up(node: &Node) -> bool {
    let Ok(response) = http_client::get(node.health_port, "/health") else {
        return false;
    };
    if response.status != 200 {
        return false;
    }
    let Ok(health) = serde_json::from_str::<serde_json::Value>(&response.body) else {
        return false;
    };
    health["peers"].as_array().is_some_and(|peers| {
        peers
            .iter()
            .filter(|p| p["url"].is_string())
            .all(|p| p["linkState"] == "up")
    })
}

/// The running line, first node first, and the link secrets by variable name (the sender's
/// and the receiver's among them). Dropping it stops every process.
pub(super) struct Line {
    pub(super) nodes: Vec<Node>,
    pub(super) secrets: BTreeMap<String, String>,
}

/// Starts and configures every node under `dir`, and waits for their links.
pub(super) async fn start_line(args: &Args, dir: &Path) -> anyhow::Result<Line> {
    let dataplane = find_binary(args.bin_dir.as_deref(), "dataplane")?;
    let controlplane = find_binary(args.bin_dir.as_deref(), "controlplane")?;
    // One secret per link, shared by its two ends.
    let mut secrets = BTreeMap::new();
    let mut nodes: Vec<Node> = Vec::new();
    // From the far end, so every node's dial target is already listening.
    for i in (0..args.nodes).rev() {
        let name = format!("n{}", i + 1);
        let node_dir = dir.join(&name);
        std::fs::create_dir_all(&node_dir)?;
        let token = random_hex(24);
        let token_file = node_dir.join("api-token");
        std::fs::write(&token_file, &token)?;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600))?;
        let grpc_port = args.grpc_base_port + i;
        let (btp_port, health_port) = (args.btp_base_port + i, args.health_base_port + i);

        let cp_env = vec![
            ("NODE_ID".to_string(), name.clone()),
            ("GRPC_HOST".into(), "127.0.0.1".into()),
            ("GRPC_PORT".into(), grpc_port.to_string()),
            (
                "HTTP_PORT".into(),
                (args.controlplane_http_base_port + i).to_string(),
            ),
            (
                "DATA_DIR".into(),
                node_dir.join("controlplane").display().to_string(),
            ),
            (
                "API_TOKEN_REF".into(),
                format!("file:{}", token_file.display()),
            ),
        ];
        let mut cp = spawn(
            &controlplane,
            &format!("{name} controlplane"),
            node_dir.join("controlplane.log"),
            &cp_env,
        )?;
        wait_for(
            &format!("{name} controlplane"),
            Duration::from_secs(20),
            &mut cp,
            || std::net::TcpStream::connect(("127.0.0.1", grpc_port)).is_ok(),
        )?;
        let (peers, routes) = plan(i, args.nodes, args.btp_base_port);
        configure(grpc_port, &token, &peers, &routes).await?;

        let mut dp_env = vec![
            ("NODE_ID".to_string(), name.clone()),
            ("ILP_ADDRESS".into(), format!("test.{name}")),
            ("BTP_SERVER_HOST".into(), "127.0.0.1".into()),
            ("BTP_SERVER_PORT".into(), btp_port.to_string()),
            ("HEALTH_CHECK_HOST".into(), "127.0.0.1".into()),
            ("HEALTH_CHECK_PORT".into(), health_port.to_string()),
            (
                "CONTROLPLANE_URL".into(),
                format!("http://127.0.0.1:{grpc_port}"),
            ),
            (
                "CONTROLPLANE_TOKEN_REF".into(),
                format!("file:{}", token_file.display()),
            ),
            (
                "DATA_DIR".into(),
                node_dir.join("dataplane").display().to_string(),
            ),
        ];
        for peer in &peers {
            let value = secrets
                .entry(peer.secret_env.clone())
                .or_insert_with(|| random_hex(24))
                .clone();
            dp_env.push((peer.secret_env.clone(), value));
        }
        let mut dp = spawn(
            &dataplane,
            &format!("{name} dataplane"),
            node_dir.join("dataplane.log"),
            &dp_env,
        )?;
        wait_for(
            &format!("{name} dataplane"),
            Duration::from_secs(20),
            &mut dp,
            || http_client::get(health_port, "/health/ready").is_ok_and(|r| r.status == 200),
        )?;
        nodes.push(Node {
            name,
            btp_port,
            health_port,
            grpc_port,
            token_file,
            _dataplane: dp,
            _controlplane: cp,
        });
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

    Ok(Line { nodes, secrets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_plans_route_both_ways() {
        let (peers, routes) = plan(0, 3, 3000);
        assert_eq!(peers[1].url.as_deref(), Some("ws://127.0.0.1:3001"));
        assert!(routes.contains(&("test.n3".into(), "n2".into())));
        let (peers, routes) = plan(1, 3, 3000);
        assert_eq!(peers.len(), 2);
        assert!(routes.contains(&("test.n1".into(), "n1".into())));
        assert!(routes.contains(&("test.n3".into(), "n3".into())));
        let (peers, routes) = plan(2, 3, 3000);
        assert!(peers.iter().all(|p| p.url.is_none()));
        assert!(routes.contains(&("test.n3.receiver".into(), "receiver".into())));
        // Both ends of a link use the same secret.
        assert_eq!(
            plan(0, 3, 3000).0[1].secret_env,
            plan(1, 3, 3000).0[0].secret_env
        );
    }
}
