//! Managed mode end to end: nodes of a control plane + data plane each, changed live through
//! the gRPC API, surviving control-plane outages and restarts.

use std::path::Path;
use std::time::Duration;

use e2e::{
    Process, binary, controlplane_env, dataplane_env, grpc_url, health, http_get, link_state,
    metric, node_env, secret, start_controlplane, start_dataplane, temp_dir, wait_until,
};
use proto::Address;
use proto::grpc::v1 as pb;
use proto::grpc::v1::node_service_client::NodeServiceClient;
use proto::grpc::v1::peer_service_client::PeerServiceClient;
use proto::grpc::v1::route_service_client::RouteServiceClient;
use testpeer::{Payment, TestPeer};
use tonic::transport::Channel;
use tonic::{Code, Request};

const LIMIT: Duration = Duration::from_secs(15);

struct Node {
    cp: Process,
    dp: Process,
    token: String,
}

impl Node {
    fn start(dir: &Path, name: &str, token: &str, secrets: &[(&str, String)]) -> Node {
        let cp_env = [
            vec![("NODE_ID", name.to_string())],
            controlplane_env(&dir.join(name).join("cp"), token),
        ]
        .concat();
        let cp = start_controlplane(name, &cp_env);
        let mut env = [
            node_env(name),
            dataplane_env(0, &dir.join(name).join("dp"), &grpc_url(&cp), token),
        ]
        .concat();
        env.extend(secrets.iter().cloned());
        let dp = start_dataplane(name, &env);
        Node {
            cp,
            dp,
            token: token.to_string(),
        }
    }

    fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.cp.port("grpcPort"))
    }

    fn btp_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.dp.port("btpServerPort"))
    }

    fn health_port(&self) -> u16 {
        self.dp.port("healthPort")
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        let bearer = format!("Bearer {}", self.token).parse().expect("header");
        request.metadata_mut().insert("authorization", bearer);
        request
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(self.grpc_url())
            .unwrap()
            .connect()
            .await
            .expect("control plane reachable")
    }

    async fn add_peer(&self, peer: pb::Peer) -> Result<pb::Peer, tonic::Status> {
        let mut client = PeerServiceClient::new(self.channel().await);
        let request = pb::CreatePeerRequest {
            peer: Some(peer),
            validate_only: false,
        };
        client
            .create_peer(self.request(request))
            .await
            .map(|r| r.into_inner())
    }

    async fn add_route(&self, prefix: &str, peer: &str) -> Result<pb::Route, tonic::Status> {
        let mut client = RouteServiceClient::new(self.channel().await);
        let route = pb::Route {
            prefix: prefix.into(),
            peer_id: peer.into(),
            ..Default::default()
        };
        let request = pb::CreateRouteRequest {
            route: Some(route),
            validate_only: false,
        };
        client
            .create_route(self.request(request))
            .await
            .map(|r| r.into_inner())
    }

    /// Runs the real `ctl` against this node's control plane; returns (exit code, stdout, stderr).
    fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let output = std::process::Command::new(binary("ctl"))
            .env_clear()
            .env("CTL_SERVER", self.grpc_url())
            .env("CTL_TOKEN", &self.token)
            .args(args)
            .output()
            .expect("run ctl");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    async fn status(&self) -> pb::NodeStatus {
        let mut client = NodeServiceClient::new(self.channel().await);
        client
            .get_status(self.request(pb::GetStatusRequest {}))
            .await
            .expect("status")
            .into_inner()
    }

    /// Waits until the data plane has applied the control plane's current version.
    async fn wait_applied(&self) -> pb::NodeStatus {
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            let status = self.status().await;
            let applied = status.data_planes.first().and_then(|dp| dp.applied_version);
            if applied.is_some()
                && applied == status.current_version
                && status.data_planes[0].connected
            {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "data plane never applied {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn peer(id: &str, secret_env: &str) -> pb::Peer {
    pb::Peer {
        id: id.into(),
        secret_ref: format!("env:{secret_env}"),
        ..Default::default()
    }
}

fn payment(destination: &str, data: &str) -> Payment {
    Payment::new(Address::new(destination).unwrap(), 10, data.as_bytes())
}

/// Sends a payment carrying `data` to test.b.receiver; true if it was fulfilled.
async fn reaches_receiver(sender: &TestPeer, data: &str) -> bool {
    sender
        .send(&payment("test.b.receiver", data))
        .await
        .unwrap()
        .is_fulfilled()
}

/// Waits (up to `LIMIT`) until `node`'s link to `peer` is up; `what` names the wait.
fn wait_link_up(node: &Node, peer: &str, what: &str) {
    wait_until(what, LIMIT, || link_state(node.health_port(), peer) == "up");
}

async fn test_peer(url: &str, token: &str, address: &str) -> TestPeer {
    TestPeer::connect_as(url, token, address)
        .await
        .expect("test peer connects")
}

struct Network {
    _dir: tempfile::TempDir,
    a: Node,
    b: Node,
    sender_secret: String,
    receiver_secret: String,
}

/// B serves a receiver; A serves a sender and (once added) dials B.
async fn network() -> Network {
    let dir = temp_dir();
    let (ab, sender, receiver) = (secret("ab"), secret("sender"), secret("receiver"));
    let b = Node::start(
        dir.path(),
        "b",
        &secret("api-b"),
        &[
            ("SECRET_AB", ab.clone()),
            ("SECRET_RECEIVER", receiver.clone()),
        ],
    );
    let a = Node::start(
        dir.path(),
        "a",
        &secret("api-a"),
        &[("SECRET_AB", ab), ("SECRET_SENDER", sender.clone())],
    );
    b.add_peer(peer("a", "SECRET_AB")).await.unwrap();
    b.add_peer(pb::Peer {
        relation: "child".into(),
        ..peer("receiver", "SECRET_RECEIVER")
    })
    .await
    .unwrap();
    b.add_route("test.b.receiver", "receiver").await.unwrap();
    a.add_peer(pb::Peer {
        relation: "child".into(),
        ..peer("sender", "SECRET_SENDER")
    })
    .await
    .unwrap();
    b.wait_applied().await;
    a.wait_applied().await;
    Network {
        _dir: dir,
        a,
        b,
        sender_secret: sender,
        receiver_secret: receiver,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_reach_the_data_plane_live() {
    let net = network().await;
    let (a, b) = (&net.a, &net.b);
    let _receiver = test_peer(&b.btp_url(), &net.receiver_secret, "test.b.receiver").await;
    let sender = test_peer(&a.btp_url(), &net.sender_secret, "test.a.sender").await;
    assert_eq!(
        http_get(a.health_port(), "/health/ready").map(|r| r.0),
        Some(200)
    );

    // Everything that follows shows up as Watch events.
    let mut watcher = NodeServiceClient::new(a.channel().await);
    let mut events = watcher
        .watch(a.request(pb::WatchRequest {}))
        .await
        .unwrap()
        .into_inner();
    let (event_tx, collected) = std::sync::mpsc::channel();
    tokio::spawn(async move {
        while let Ok(Some(event)) = events.message().await {
            if event_tx.send(event).is_err() {
                return;
            }
        }
    });

    // No route yet.
    let outcome = sender
        .send(&payment("test.b.receiver", "early"))
        .await
        .unwrap();
    assert_eq!(outcome.code().map(|c| c.to_string()), Some("F02".into()));

    // A new peer: A's link to it is up within a second, with no restart, and the sender's link
    // is not touched.
    let b_url = b.btp_url();
    let (code, stdout, stderr) = a.ctl(&[
        "peers",
        "add",
        "b",
        "--url",
        &b_url,
        "--secret-ref",
        "env:SECRET_AB",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "ctl peers add: {stderr}");
    let added: serde_json::Value =
        serde_json::from_str(&stdout).expect("ctl -o json prints the peer");
    let took = wait_until("A's link to B", Duration::from_secs(1), || {
        link_state(a.health_port(), "b") == "up"
    });
    eprintln!("peer added → link up in {took:?}");
    assert!(
        !sender.link().is_closed(),
        "the sender's link was not disturbed"
    );
    assert_eq!(
        metric(
            a.health_port(),
            r#"btp_link_reconnects_total{peer="sender"}"#
        ),
        Some(0.0)
    );
    assert_eq!(link_state(b.health_port(), "a"), "up");

    // A new route: packets take it.
    a.add_route("test.b", "b").await.unwrap();
    a.wait_applied().await;
    assert!(reaches_receiver(&sender, "routed").await);

    // Updating one peer's limits keeps its link (and everyone else's).
    let mut peers = PeerServiceClient::new(a.channel().await);
    let update = pb::UpdatePeerRequest {
        peer: Some(pb::Peer {
            id: "b".into(),
            credit_limit: Some(1_000_000),
            etag: added["etag"].as_str().unwrap_or_default().to_string(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["credit_limit".into()],
        }),
        validate_only: false,
    };
    let updated = peers
        .update_peer(a.request(update.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.credit_limit, Some(1_000_000));
    assert_eq!(updated.url, b.btp_url(), "fields outside the mask are kept");
    a.wait_applied().await;
    assert_eq!(link_state(a.health_port(), "b"), "up");
    assert_eq!(
        metric(a.health_port(), r#"btp_link_reconnects_total{peer="b"}"#),
        Some(0.0)
    );
    assert!(!sender.link().is_closed());
    // The same etag again is stale.
    let stale = peers.update_peer(a.request(update)).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");

    // A snapshot the data plane cannot apply is NACKed: the old table keeps serving and the
    // reason shows in the status.
    a.add_peer(peer("broken", "SECRET_NOBODY_SET"))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    let nacked = loop {
        let status = a.status().await;
        let dp = status.data_planes[0].clone();
        if !dp.last_nack_error.is_empty() {
            break (status, dp);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no NACK recorded: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (status, dp) = nacked;
    assert!(
        dp.last_nack_error.contains("broken")
            && dp.last_nack_error.contains("env:SECRET_NOBODY_SET"),
        "{dp:?}"
    );
    assert_eq!(dp.last_nack_version, status.current_version);
    assert_ne!(dp.applied_version, status.current_version);
    assert!(reaches_receiver(&sender, "after-nack").await);
    // `ctl status` shows it too.
    let (code, stdout, _) = a.ctl(&["status", "-o", "json"]);
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let nack = shown["dataPlanes"][0]["lastNackError"]
        .as_str()
        .unwrap_or_default();
    assert!(nack.contains("env:SECRET_NOBODY_SET"), "{stdout}");
    // The address the data plane reports with its links, and where it came from.
    assert_eq!(shown["dataPlanes"][0]["ilpAddress"], "test.a", "{stdout}");
    assert_eq!(
        shown["dataPlanes"][0]["addressSource"], "configured",
        "{stdout}"
    );
    let (_, table, _) = a.ctl(&["status"]);
    assert!(table.contains("env:SECRET_NOBODY_SET"), "{table}");
    // `ctl balances`: the same reported balances, one row per data plane and peer.
    let (code, stdout, stderr) = a.ctl(&["balances", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    let reported = shown["dataPlanes"][0]["balances"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(rows.len(), reported, "{stdout}");
    assert!(reported > 0, "balances reported: {stdout}");
    let (code, stdout, _) = a.ctl(&["balances", "--peer", "b", "-o", "json"]);
    assert_eq!(code, 0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert!(rows.iter().all(|r| r["peerId"] == "b"), "{stdout}");
    assert_eq!(rows.len(), 1, "{stdout}");
    // Fixing it (removing the peer) is applied again.
    let mut peers = PeerServiceClient::new(a.channel().await);
    let delete = pb::DeletePeerRequest {
        id: "broken".into(),
        ..Default::default()
    };
    peers.delete_peer(a.request(delete)).await.unwrap();
    a.wait_applied().await;

    // Clearing one field through ctl keeps the others.
    let (code, stdout, stderr) =
        a.ctl(&["peers", "update", "b", "--clear-credit-limit", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let cleared: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(cleared["creditLimit"], serde_json::Value::Null);
    assert_eq!(cleared["url"], b_url.as_str(), "{stdout}");
    // ctl maps errors to documented exit codes.
    let (code, _, stderr) = a.ctl(&["routes", "add", "test.c", "nobody"]);
    assert_eq!(code, 3, "INVALID_ARGUMENT → 3: {stderr}");
    assert!(stderr.contains("route.peer_id"), "{stderr}");
    // The link state comes from the data plane's reports, which arrive asynchronously.
    let mut explained = serde_json::Value::Null;
    wait_until("explain to show the reported link state", LIMIT, || {
        let (code, stdout, _) = a.ctl(&["routes", "explain", "test.b.receiver.x", "-o", "json"]);
        assert_eq!(code, 0);
        explained = serde_json::from_str(&stdout).unwrap();
        explained["linkState"] == "up"
    });
    assert_eq!(explained["prefix"], "test.b");
    assert_eq!(explained["peerId"], "b");

    // Bad input: INVALID_ARGUMENT naming the field; nothing stored.
    let bad = a
        .add_peer(pb::Peer {
            asset_code: "U$D".into(),
            ..peer("c", "SECRET_C")
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().starts_with("peer.asset_code"),
        "{}",
        bad.message()
    );
    let bad = a
        .add_peer(pb::Peer {
            secret_ref: "hunter2".into(),
            ..peer("c", "X")
        })
        .await
        .unwrap_err();
    assert!(
        bad.message().starts_with("peer.secret_ref"),
        "{}",
        bad.message()
    );
    let bad = a.add_route("test.c", "nobody").await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().starts_with("route.peer_id"),
        "{}",
        bad.message()
    );
    let bad = a.add_route("test..c", "b").await.unwrap_err();
    assert!(
        bad.message().starts_with("route.prefix"),
        "{}",
        bad.message()
    );
    let duplicate = a.add_peer(peer("b", "SECRET_AB")).await.unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);
    // Dry run: validated, not stored.
    let mut peers = PeerServiceClient::new(a.channel().await);
    let dry = pb::CreatePeerRequest {
        peer: Some(peer("dry", "SECRET_DRY")),
        validate_only: true,
    };
    peers.create_peer(a.request(dry)).await.unwrap();
    let missing = peers
        .get_peer(a.request(pb::GetPeerRequest { id: "dry".into() }))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // Wrong or missing token.
    let mut nodes = NodeServiceClient::new(a.channel().await);
    let mut wrong = Request::new(pb::GetStatusRequest {});
    wrong
        .metadata_mut()
        .insert("authorization", "Bearer nope".parse().unwrap());
    assert_eq!(
        nodes.get_status(wrong).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        nodes
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // The watcher saw the changes: peers, routes, link states, applied and refused versions.
    let describe = |e: &pb::WatchEvent| match &e.event {
        Some(pb::watch_event::Event::Peer(p)) => format!("peer {} {}", e.action, p.id),
        Some(pb::watch_event::Event::Route(r)) => format!("route {} {}", e.action, r.prefix),
        Some(pb::watch_event::Event::Link(l)) => format!("link {} {}", l.peer_id, l.state),
        Some(pb::watch_event::Event::ConfigApplied(_)) => "applied".into(),
        Some(pb::watch_event::Event::ConfigNacked(_)) => "nacked".into(),
        Some(pb::watch_event::Event::Missed(m)) => format!("missed {}", m.count),
        None => "empty".into(),
    };
    let mut seen: Vec<String> = Vec::new();
    let wanted = [
        "peer created b",
        "route created test.b",
        "link b up",
        "applied",
        "nacked",
        "peer deleted broken",
    ];
    wait_until("watch events", LIMIT, || {
        while let Ok(event) = collected.try_recv() {
            seen.push(describe(&event));
        }
        wanted
            .iter()
            .all(|want| seen.iter().any(|have| have == want))
    });

    // No secret value in any response or log line.
    let listed = peers
        .list_peers(a.request(pb::ListPeersRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let text = format!("{listed:?}");
    for value in [&net.sender_secret, &net.receiver_secret] {
        assert!(!text.contains(value.as_str()));
        assert!(
            !a.cp
                .logs()
                .iter()
                .chain(a.dp.logs().iter())
                .any(|l| l.contains(value.as_str()))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reflection_lists_the_services() {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let dir = temp_dir();
    let node = Node::start(dir.path(), "r", &secret("api"), &[]);
    let mut client = ServerReflectionClient::new(node.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in [
        "ilpconnector.v1.PeerService",
        "ilpconnector.v1.RouteService",
        "ilpconnector.v1.NodeService",
        "ilpconnector.v1.ConfigService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == service),
            "{service} missing from {names:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_planes_ride_out_control_plane_outages_and_restarts() {
    let mut net = network().await;
    let receiver = test_peer(&net.b.btp_url(), &net.receiver_secret, "test.b.receiver").await;
    net.a
        .add_peer(pb::Peer {
            url: net.b.btp_url(),
            ..peer("b", "SECRET_AB")
        })
        .await
        .unwrap();
    net.a.add_route("test.b", "b").await.unwrap();
    let before = net.a.wait_applied().await;
    let old_version = before.current_version.unwrap();
    wait_link_up(&net.a, "b", "A's link to B");
    let sender = test_peer(&net.a.btp_url(), &net.sender_secret, "test.a.sender").await;
    assert!(reaches_receiver(&sender, "1").await);
    let dependency = |net: &Network| health(net.a.health_port())["dependencies"][0].clone();
    assert_eq!(dependency(&net)["name"], "controlplane");
    assert_eq!(dependency(&net)["state"], "connected");

    // Control plane gone: forwarding goes on, and /health says what is missing and why.
    net.a.cp.kill();
    assert!(reaches_receiver(&sender, "2").await);
    wait_until("A's health shows its control plane down", LIMIT, || {
        dependency(&net)["state"] != "connected"
    });
    assert!(
        dependency(&net)["lastError"].is_string(),
        "{}",
        dependency(&net)
    );
    drop(sender);

    // Data plane restarted while its control plane is down: it serves the saved snapshot.
    let btp_port = net.a.dp.port("btpServerPort");
    net.a.dp.set_env("BTP_SERVER_PORT", btp_port.to_string());
    net.a.dp.restart();
    assert!(net.a.dp.has_log("saved_snapshot_restored"));
    wait_until("A ready from its saved snapshot", LIMIT, || {
        http_get(net.a.health_port(), "/health/ready").map(|r| r.0) == Some(200)
    });
    wait_link_up(&net.a, "b", "A's link to B again");
    let sender = test_peer(&net.a.btp_url(), &net.sender_secret, "test.a.sender").await;
    assert!(reaches_receiver(&sender, "3").await);

    // Control plane back (same database, same port): a new epoch, no version collision, and
    // the data plane resyncs to it.
    let grpc_port = net.a.cp.port("grpcPort");
    net.a.cp.set_env("GRPC_PORT", grpc_port.to_string());
    net.a.cp.restart();
    let status = net.a.wait_applied().await;
    let new_version = status.current_version.unwrap();
    assert!(
        new_version.epoch > old_version.epoch,
        "{old_version:?} → {new_version:?}"
    );
    assert_eq!(status.peer_count, 2);
    // And it follows changes again.
    net.a.add_route("test.b2", "b").await.unwrap();
    let status = net.a.wait_applied().await;
    assert_eq!(status.current_version.unwrap().epoch, new_version.epoch);
    assert!(status.current_version.unwrap().generation > new_version.generation);
    assert!(reaches_receiver(&sender, "4").await);
    drop(receiver);
}
