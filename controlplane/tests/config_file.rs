//! `CONFIG_FILE` through the real binary: declared peers and routes are served by the gRPC API
//! and pushed to data planes, a restart with the same file changes nothing, a changed file
//! updates, peers added through the API survive, and a bad file stops the binary with exit 2
//! and one line naming the file and the field.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use proto::grpc::v1 as pb;
use proto::grpc::v1::config_service_client::ConfigServiceClient;
use proto::grpc::v1::node_service_client::NodeServiceClient;
use proto::grpc::v1::peer_service_client::PeerServiceClient;
use proto::grpc::v1::route_service_client::RouteServiceClient;
use test_kit::Service;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_controlplane");
const TOKEN: &str = "config-file-test-token";
const WAIT: Duration = Duration::from_secs(20);

const FILE: &str = "\
# Peers every node of this network starts with.
peers:
  - id: west
    url: ws://west.internal:3000
    relation: parent
    assetCode: EUR
    assetScale: 6
    creditLimit: 5000
    secretRef: env:WEST_SECRET
  - id: shop
    relation: child
    secretRef: file:/run/secrets/shop
routes:
  - { prefix: g.west, peer: west }
  - { prefix: g.shop, peer: shop }
";

/// A running control plane, stopped (SIGTERM, then SIGKILL) when dropped.
struct Running {
    grpc: Channel,
    /// The `config_file_applied` event, if one was logged before `controlplane_started`.
    applied: Option<serde_json::Value>,
    _service: Service,
}

impl Running {
    async fn start(dir: &Path, config: &Path) -> Running {
        let service = Service::start(
            "controlplane",
            BIN,
            &[
                ("DATA_DIR", dir.join("data").display().to_string()),
                ("API_TOKEN_REF", "env:TOKEN".into()),
                ("TOKEN", TOKEN.into()),
                ("GRPC_HOST", "127.0.0.1".into()),
                ("GRPC_PORT", "0".into()),
                ("HTTP_PORT", "0".into()),
                ("CONFIG_FILE", config.display().to_string()),
            ],
            "controlplane_started",
        );
        let applied = service
            .run_logs()
            .iter()
            .filter_map(|line| test_kit::process::event_message(line))
            .take_while(|(_, message)| message != "controlplane_started")
            .find(|(_, message)| message == "config_file_applied")
            .map(|(event, _)| event);
        let port = service.port("grpcPort");
        let grpc = Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        Running {
            grpc,
            applied,
            _service: service,
        }
    }

    /// Stops the process (dropping it does): SIGTERM, then SIGKILL if it lingers.
    fn stop(self) {
        drop(self);
    }

    async fn peers(&self) -> Vec<pb::Peer> {
        let mut client = PeerServiceClient::new(self.grpc.clone());
        let response = client
            .list_peers(authed(pb::ListPeersRequest {
                page_size: 1000,
                page_token: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(response.next_page_token.is_empty());
        response.peers
    }

    async fn peer(&self, id: &str) -> pb::Peer {
        let peers = self.peers().await;
        peers
            .into_iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("no peer {id}"))
    }

    async fn routes(&self) -> Vec<(String, String)> {
        let mut client = RouteServiceClient::new(self.grpc.clone());
        let response = client
            .list_routes(authed(pb::ListRoutesRequest {
                page_size: 1000,
                page_token: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        let mut routes: Vec<(String, String)> = response
            .routes
            .into_iter()
            .map(|r| (r.prefix, r.peer_id))
            .collect();
        routes.sort();
        routes
    }

    async fn version(&self) -> (u64, u64) {
        let mut client = NodeServiceClient::new(self.grpc.clone());
        let status = client
            .get_status(authed(pb::GetStatusRequest {}))
            .await
            .unwrap()
            .into_inner();
        let version = status.current_version.unwrap();
        (version.epoch, version.generation)
    }

    /// What a data plane that connects now is sent.
    async fn snapshot(&self) -> pb::Snapshot {
        let mut client = ConfigServiceClient::new(self.grpc.clone());
        let hello = pb::DataPlaneMessage {
            message: Some(pb::data_plane_message::Message::Hello(pb::Hello {
                node_id: "dp-test".into(),
                ..Default::default()
            })),
        };
        // The stream stays open after the hello, as a data plane's does.
        let outbound = tokio_stream::iter([hello]).chain(tokio_stream::pending());
        let mut inbound = client
            .stream_config(authed(outbound))
            .await
            .unwrap()
            .into_inner();
        tokio::time::timeout(WAIT, inbound.next())
            .await
            .expect("a snapshot in time")
            .expect("a snapshot")
            .unwrap()
    }
}

fn authed<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    request.set_timeout(Duration::from_secs(10));
    request
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("controlplane.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn counts(event: &serde_json::Value) -> (u64, u64, u64) {
    (
        event["created"].as_u64().unwrap(),
        event["updated"].as_u64().unwrap(),
        event["unchanged"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_is_applied_at_every_start_and_only_its_own_entries_change() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), FILE);

    // First start: everything is created, and the config data planes get includes it.
    let node = Running::start(dir.path(), &config).await;
    let applied = node.applied.clone().expect("config_file_applied logged");
    assert_eq!(counts(&applied), (4, 0, 0), "{applied}");
    assert_eq!(applied["peersCreated"], 2, "{applied}");
    assert_eq!(applied["routesCreated"], 2, "{applied}");
    let west = node.peer("west").await;
    assert_eq!(west.url, "ws://west.internal:3000");
    assert_eq!(west.relation, "parent");
    assert_eq!((west.asset_code.as_str(), west.asset_scale), ("EUR", 6));
    assert_eq!(west.credit_limit, Some(5000));
    assert_eq!(west.secret_ref, "env:WEST_SECRET");
    assert_eq!(west.source, "static");
    let shop = node.peer("shop").await;
    assert_eq!((shop.asset_code.as_str(), shop.asset_scale), ("USD", 9));
    assert_eq!(shop.secret_ref, "file:/run/secrets/shop");
    assert_eq!(
        node.routes().await,
        [
            ("g.shop".to_string(), "shop".to_string()),
            ("g.west".to_string(), "west".to_string())
        ]
    );
    let (epoch, generation) = node.version().await;
    assert_eq!(generation, 2, "the file's changes made one new generation");
    let snapshot = node.snapshot().await;
    let version = snapshot.version.unwrap();
    assert_eq!((version.epoch, version.generation), (epoch, generation));
    let mut pushed: Vec<&str> = snapshot.peers.iter().map(|p| p.id.as_str()).collect();
    pushed.sort();
    assert_eq!(pushed, ["shop", "west"]);
    assert_eq!(snapshot.routes.len(), 2);

    // An operator adds a peer and a route through the API.
    let peer = pb::Peer {
        id: "api-peer".into(),
        secret_ref: "env:API_PEER_SECRET".into(),
        ..Default::default()
    };
    let route = pb::Route {
        prefix: "g.api".into(),
        peer_id: "api-peer".into(),
        ..Default::default()
    };
    let (peer, route) = (Some(peer), Some(route));
    let validate_only = false;
    PeerServiceClient::new(node.grpc.clone())
        .create_peer(authed(pb::CreatePeerRequest {
            peer,
            validate_only,
        }))
        .await
        .unwrap();
    RouteServiceClient::new(node.grpc.clone())
        .create_route(authed(pb::CreateRouteRequest {
            route,
            validate_only,
        }))
        .await
        .unwrap();
    let west_etag = node.peer("west").await.etag;
    let shop_etag = node.peer("shop").await.etag;
    node.stop();

    // Same file again: nothing is touched, so the new epoch stays at its first generation.
    let node = Running::start(dir.path(), &config).await;
    let applied = node.applied.clone().expect("config_file_applied logged");
    assert_eq!(counts(&applied), (0, 0, 4), "{applied}");
    let (restarted_epoch, generation) = node.version().await;
    assert!(restarted_epoch > epoch);
    assert_eq!(generation, 1, "no new generation for an unchanged file");
    assert_eq!(node.peer("west").await.etag, west_etag);
    assert_eq!(node.peer("shop").await.etag, shop_etag);
    assert_eq!(
        node.peer("api-peer").await.secret_ref,
        "env:API_PEER_SECRET"
    );
    assert!(
        node.routes()
            .await
            .contains(&("g.api".into(), "api-peer".into()))
    );
    node.stop();

    // A changed file: west's limit changes, g.shop moves to west, a new peer appears.
    let changed = FILE
        .replace("creditLimit: 5000", "creditLimit: 7000")
        .replace(
            "{ prefix: g.shop, peer: shop }",
            "{ prefix: g.shop, peer: west }",
        )
        .replace(
            "routes:\n",
            "  - id: east\n    secretRef: env:EAST_SECRET\nroutes:\n",
        );
    write(dir.path(), &changed);
    let node = Running::start(dir.path(), &config).await;
    let applied = node.applied.clone().expect("config_file_applied logged");
    assert_eq!(counts(&applied), (1, 2, 2), "{applied}");
    assert_eq!(node.peer("west").await.credit_limit, Some(7000));
    assert_ne!(node.peer("west").await.etag, west_etag);
    assert_eq!(node.peer("shop").await.etag, shop_etag);
    assert_eq!(node.peer("east").await.secret_ref, "env:EAST_SECRET");
    assert_eq!(
        node.routes().await,
        [
            ("g.api".to_string(), "api-peer".to_string()),
            ("g.shop".to_string(), "west".to_string()),
            ("g.west".to_string(), "west".to_string())
        ]
    );
    assert_eq!(node.version().await.1, 2);
    let snapshot = node.snapshot().await;
    assert_eq!(snapshot.peers.len(), 4, "file peers and the API's");
    let pushed_west = snapshot.peers.iter().find(|p| p.id == "west").unwrap();
    assert_eq!(pushed_west.credit_limit, Some(7000));
    node.stop();
}

#[test]
fn bad_files_exit_2_with_one_line_naming_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cp.yaml");
    let missing = dir.path().join("missing.yaml");
    let cases: [(Option<&str>, &str); 7] = [
        (None, "cannot read"),
        (Some("peers: [\n"), "cp.yaml"),
        (
            Some("peer:\n  - { id: a, secretRef: 'env:A' }\n"),
            "unknown field `peer`",
        ),
        (
            Some("peers:\n  - { id: a, secret: hunter2 }\n"),
            "peers[0].secret: literal secrets are refused",
        ),
        (
            Some("peers:\n  - { id: a, secretRef: hunter2 }\n"),
            "peers[0].secretRef: must be a secret reference",
        ),
        (
            Some("peers:\n  - { id: a, secretRef: 'env:A', url: 'http://a' }\n"),
            "peers[0].url",
        ),
        (
            Some(
                "peers:\n  - { id: a, secretRef: 'env:A' }\nroutes:\n  - { prefix: g.b, peer: b }\n",
            ),
            "routes[0].peer: unknown peer \"b\"",
        ),
    ];
    for (text, needle) in cases {
        let file = match text {
            Some(text) => {
                std::fs::write(&path, text).unwrap();
                &path
            }
            None => &missing,
        };
        let output = Command::new(BIN)
            .env_clear()
            .env("DATA_DIR", dir.path().join("data"))
            .env("API_TOKEN_REF", "env:TOKEN")
            .env("TOKEN", TOKEN)
            .env("GRPC_PORT", "0")
            .env("HTTP_PORT", "0")
            .env("CONFIG_FILE", file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        let prefix = format!(
            "controlplane: invalid configuration: CONFIG_FILE: {}: ",
            file.display()
        );
        assert!(
            stderr.starts_with(&prefix),
            "{stderr:?} should start with {prefix:?}"
        );
        assert!(
            stderr.contains(needle),
            "{stderr:?} should contain {needle:?}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
        assert!(output.stdout.is_empty(), "nothing started: {output:?}");
    }
}
