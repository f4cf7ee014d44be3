//! Automatic peering through a discovery server: nodes find each other and forward with no
//! node-to-node peer configured by hand; a node that stops is withdrawn; an impostor's key does
//! not open a link; the discovery server going away (and coming back) drops nobody; the seed
//! story's unsigned entries are known to a control plane but never peered.

use std::path::Path;
use std::time::Duration;

use e2e::{
    Process, binary, controlplane_env, dataplane_env, grpc_url, health, http_get, node_env, secret,
    start_controlplane, start_dataplane, temp_dir, wait_until,
};
use proto::Address;
use proto::grpc::v1 as pb;
use proto::grpc::v1::peer_service_client::PeerServiceClient;
use proto::grpc::v1::route_service_client::RouteServiceClient;
use test_kit::free_port;
use testpeer::{Payment, TestPeer};
use tonic::Request;

const TTL_SECONDS: u64 = 2;

struct Node {
    name: String,
    cp: Process,
    dp: Process,
    token: String,
}

impl Node {
    fn start(dir: &Path, name: &str, discovery_port: u16, secrets: &[(&str, String)]) -> Node {
        let token = secret("api");
        let btp_port = free_port();
        let key_file = dir.join(name).join("node.key").display().to_string();
        let cp_env = [
            node_env(name),
            controlplane_env(&dir.join(name).join("cp"), &token),
            vec![
                ("NODE_KEY_FILE", key_file.clone()),
                ("PEER_DISCOVERY_ENABLED", "true".into()),
                (
                    "PEER_DISCOVERY_ENDPOINTS",
                    format!("http://127.0.0.1:{discovery_port}"),
                ),
                (
                    "PEER_ANNOUNCE_ADDRESS",
                    format!("ws://127.0.0.1:{btp_port}"),
                ),
                ("PEER_AUTO_PEERING", "all".into()),
                ("PEER_BROADCAST_INTERVAL_SECONDS", "1".into()),
            ],
        ]
        .concat();
        let cp = start_controlplane(name, &cp_env);
        let mut env = [
            node_env(name),
            dataplane_env(btp_port, &dir.join(name).join("dp"), &grpc_url(&cp), &token),
            vec![("NODE_KEY_FILE", key_file)],
        ]
        .concat();
        env.extend(secrets.iter().cloned());
        let dp = start_dataplane(name, &env);
        Node {
            name: name.to_string(),
            cp,
            dp,
            token,
        }
    }

    fn health_port(&self) -> u16 {
        self.dp.port("healthPort")
    }

    fn btp_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.dp.port("btpServerPort"))
    }

    fn peers(&self) -> Vec<(String, String)> {
        health(self.health_port())["peers"]
            .as_array()
            .map(|peers| {
                peers
                    .iter()
                    .map(|p| {
                        (
                            p["id"].as_str().unwrap_or_default().to_string(),
                            p["linkState"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn link(&self, peer: &str) -> Option<String> {
        self.peers()
            .into_iter()
            .find(|(id, _)| id == peer)
            .map(|(_, state)| state)
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.token).parse().unwrap(),
        );
        request
    }

    /// A hand-configured edge peer (a test peer) with a route.
    async fn add_edge_peer(&self, id: &str, secret_env: &str, route: Option<&str>) {
        let url = format!("http://127.0.0.1:{}", self.cp.port("grpcPort"));
        let channel = tonic::transport::Channel::from_shared(url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        let peer = pb::Peer {
            id: id.into(),
            relation: "child".into(),
            secret_ref: format!("env:{secret_env}"),
            ..Default::default()
        };
        PeerServiceClient::new(channel.clone())
            .create_peer(self.request(pb::CreatePeerRequest {
                peer: Some(peer),
                validate_only: false,
            }))
            .await
            .unwrap();
        if let Some(prefix) = route {
            let route = pb::Route {
                prefix: prefix.into(),
                peer_id: id.into(),
                ..Default::default()
            };
            RouteServiceClient::new(channel)
                .create_route(self.request(pb::CreateRouteRequest {
                    route: Some(route),
                    validate_only: false,
                }))
                .await
                .unwrap();
        }
    }
}

/// Sends a 7-unit payment carrying `data` to test.n3.receiver; true if it was fulfilled.
async fn reaches_n3(sender: &TestPeer, data: &str) -> bool {
    let payment = Payment::new(
        Address::new("test.n3.receiver").unwrap(),
        7,
        data.as_bytes(),
    );
    sender.send(&payment).await.unwrap().is_fulfilled()
}

fn start_discovery(dir: &Path, port: u16) -> Process {
    Process::start(
        "discovery",
        binary("discovery-server"),
        &[
            ("DISCOVERY_HOST", "127.0.0.1".into()),
            ("DISCOVERY_PORT", port.to_string()),
            ("DISCOVERY_TTL_SECONDS", TTL_SECONDS.to_string()),
            ("DATA_DIR", dir.join("discovery").display().to_string()),
        ],
        "discovery_started",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_find_each_other_peer_and_forward() {
    let dir = temp_dir();
    let discovery_port = free_port();
    let mut discovery = start_discovery(dir.path(), discovery_port);
    let (sender_secret, receiver_secret) = (secret("sender"), secret("receiver"));
    let n1 = Node::start(
        dir.path(),
        "n1",
        discovery_port,
        &[("SECRET_SENDER", sender_secret.clone())],
    );
    let mut n2 = Node::start(dir.path(), "n2", discovery_port, &[]);
    let n3 = Node::start(
        dir.path(),
        "n3",
        discovery_port,
        &[("SECRET_RECEIVER", receiver_secret.clone())],
    );
    let limit = Duration::from_secs(20);

    // Everyone peers with everyone, links up, without a node-to-node peer added by hand.
    for (node, others) in [
        (&n1, ["n2", "n3"]),
        (&n2, ["n1", "n3"]),
        (&n3, ["n1", "n2"]),
    ] {
        for other in others {
            wait_until(&format!("{} linked to {other}", node.name), limit, || {
                node.link(other).as_deref() == Some("up")
            });
        }
    }

    n1.add_edge_peer("sender", "SECRET_SENDER", None).await;
    n3.add_edge_peer("receiver", "SECRET_RECEIVER", Some("test.n3.receiver"))
        .await;
    wait_until("n3 serving its receiver route", limit, || {
        n3.link("receiver").is_some()
    });
    let _receiver = TestPeer::connect_as(&n3.btp_url(), &receiver_secret, "test.n3.receiver")
        .await
        .unwrap();
    wait_until("n1 serving its sender", limit, || {
        n1.link("sender").is_some()
    });
    let sender = TestPeer::connect_as(&n1.btp_url(), &sender_secret, "test.n1.sender")
        .await
        .unwrap();
    assert!(reaches_n3(&sender, "found").await);
    // `ctl discovery list` shows what n1 knows, and that it is peered.
    let output = std::process::Command::new(binary("ctl"))
        .env_clear()
        .env(
            "CTL_SERVER",
            format!("http://127.0.0.1:{}", n1.cp.port("grpcPort")),
        )
        .env("CTL_TOKEN", &n1.token)
        .args(["discovery", "list", "-o", "json"])
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON list");
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["nodeId"].as_str())
        .collect();
    assert_eq!(ids, ["n2", "n3"], "{listed}");
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["peered"] == true),
        "{listed}"
    );
    assert_eq!(listed[1]["ilpAddress"], "test.n3");

    // An impostor with its own key cannot open a link as n3.
    let now = proto::Timestamp::now().unix_ms();
    let forged =
        node_identity::link_token::token(&node_identity::NodeKey::generate(), "n3", "n1", now);
    let refused = btp_link::connect(
        &n1.btp_url(),
        &btp_link::ClientCredentials {
            token: forged,
            username: None,
        },
        &btp_link::LinkSettings::default(),
    )
    .await;
    assert!(
        matches!(refused, Err(btp_link::LinkError::AuthRejected { .. })),
        "{:?}",
        refused.err()
    );
    assert_eq!(n1.link("n3").as_deref(), Some("up"));

    // The discovery server goes away: nothing is withdrawn, forwarding goes on.
    discovery.kill();
    std::thread::sleep(Duration::from_secs(3 * TTL_SECONDS));
    assert_eq!(n1.link("n3").as_deref(), Some("up"));
    assert!(reaches_n3(&sender, "server-down").await);
    // The unreachable endpoint is counted, per operation.
    let endpoint = format!("http://127.0.0.1:{discovery_port}");
    let unreachable = format!(
        r#"controlplane_discovery_requests_total{{endpoint="{endpoint}",operation="list",result="unreachable"}}"#
    );
    let metrics = http_get(n1.cp.port("httpPort"), "/metrics")
        .expect("control plane metrics")
        .1;
    let value = metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{unreachable} ")))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(value >= 1.0, "{metrics}");
    assert!(
        metrics.contains("controlplane_discovered_nodes 2"),
        "{metrics}"
    );
    // It comes back after everyone's entry went stale by its clock: the restart grace keeps
    // them listed until they re-announce, so nobody is dropped.
    discovery = start_discovery(dir.path(), discovery_port);
    std::thread::sleep(Duration::from_secs(2 * TTL_SECONDS));
    assert_eq!(n1.link("n3").as_deref(), Some("up"));
    assert_eq!(n1.link("n2").as_deref(), Some("up"));
    assert!(reaches_n3(&sender, "server-back").await);

    // n2 stops without deregistering: within 2×TTL (plus a broadcast round) the others
    // withdraw it.
    n2.cp.kill();
    n2.dp.kill();
    // The registry drops n2 2×TTL after its last announcement (at most one broadcast period
    // before the kill); the others notice at their next fetch (one period) and push at once.
    let bound = Duration::from_secs(2 * TTL_SECONDS + 3);
    for node in [&n1, &n3] {
        let took = wait_until(&format!("{} withdraws n2", node.name), bound, || {
            node.link("n2").is_none()
        });
        eprintln!("{} withdrew n2 {took:?} after the kill", node.name);
    }
    assert!(http_get(n1.health_port(), "/health").is_some());
    assert!(reaches_n3(&sender, "after-n2").await);
    drop(discovery);
}

/// One POST of `body` to the discovery server; its status.
fn post_announce(port: u16, body: &[u8]) -> u16 {
    service_runtime::http_client::request(
        "127.0.0.1",
        port,
        "POST",
        proto::discovery::ANNOUNCE_PATH,
        &[("Content-Type", "application/json")],
        body,
        Duration::from_secs(5),
    )
    .map(|response| response.status)
    .unwrap_or(0)
}

/// `ctl discovery list -o json` against `cp`: (node id, peered, verified).
fn discovery_list(cp: &Process, token: &str) -> Vec<(String, bool, bool)> {
    let output = std::process::Command::new(binary("ctl"))
        .env_clear()
        .env(
            "CTL_SERVER",
            format!("http://127.0.0.1:{}", cp.port("grpcPort")),
        )
        .env("CTL_TOKEN", token)
        .args(["discovery", "list", "-o", "json"])
        .output()
        .expect("ctl runs");
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    listed
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .map(|n| {
                    (
                        n["nodeId"].as_str().unwrap_or_default().to_string(),
                        n["peered"] == true,
                        n["verified"] == true,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A signed node and a seed-story client share the registry; a control plane auto-peering with
/// everyone peers with the signed one only, and still lists both.
#[test]
fn unsigned_entries_are_known_but_never_peered() {
    let dir = temp_dir();
    let discovery_port = free_port();
    let _discovery = start_discovery(dir.path(), discovery_port);
    let token = secret("api");
    let env = [
        node_env("me"),
        controlplane_env(&dir.path().join("me"), &token),
        vec![
            (
                "NODE_KEY_FILE",
                dir.path().join("me.key").display().to_string(),
            ),
            ("PEER_DISCOVERY_ENABLED", "true".into()),
            (
                "PEER_DISCOVERY_ENDPOINTS",
                format!("http://127.0.0.1:{discovery_port}"),
            ),
            ("PEER_ANNOUNCE_ADDRESS", "ws://127.0.0.1:1".into()),
            ("PEER_AUTO_PEERING", "all".into()),
            ("PEER_BROADCAST_INTERVAL_SECONDS", "1".into()),
        ],
    ]
    .concat();
    let cp = start_controlplane("me", &env);
    let key = node_identity::NodeKey::generate();
    let story = serde_json::json!({
        "nodeId": "story", "btpEndpoint": "ws://127.0.0.1:2", "ilpAddress": "test.story",
        "capabilities": ["peering"], "version": "1.0.0",
    })
    .to_string();
    let mut sequence = 0;
    // Both keep announcing (the TTL is short) until the control plane has seen them.
    let wanted = vec![
        ("keyed".to_string(), true, true),
        ("story".to_string(), false, false),
    ];
    let mut listed = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while listed != wanted {
        assert!(
            std::time::Instant::now() < deadline,
            "the control plane lists {listed:?}, expected {wanted:?}\n{}",
            cp.logs().join("\n")
        );
        sequence += 1;
        let mut signed = proto::discovery::Announcement {
            node_id: "keyed".into(),
            btp_endpoint: "ws://127.0.0.1:3".into(),
            ilp_address: "test.keyed".into(),
            capabilities: vec!["peering".into()],
            version: "1.0.0".into(),
            public_key: String::new(),
            sequence,
            signature: String::new(),
        };
        proto::discovery::sign_announcement(&key, &mut signed);
        let body = serde_json::to_vec(&signed).expect("JSON");
        assert_eq!(post_announce(discovery_port, &body), 200);
        assert_eq!(post_announce(discovery_port, story.as_bytes()), 200);
        std::thread::sleep(Duration::from_millis(300));
        listed = discovery_list(&cp, &token);
    }
}
