//! Applying a new table of peers and routes to a running node: what is kept, what changes,
//! and that a bad table changes nothing.

use std::sync::Arc;

use config_model::{PeerConfig, RouteConfig, SecretRef};
use dataplane::config::NodeConfig;
use dataplane::node::{ApplyError, Node};

struct Secrets(tempfile::TempDir);

impl Secrets {
    fn new() -> Secrets {
        Secrets(tempfile::tempdir().unwrap())
    }

    fn reference(&self, name: &str, value: &str) -> SecretRef {
        let path = self.0.path().join(name);
        std::fs::write(&path, value).unwrap();
        SecretRef::File(path)
    }
}

fn peer(id: &str, secret_ref: SecretRef) -> PeerConfig {
    PeerConfig::new(id, secret_ref)
}

fn route(prefix: &str, peer: &str) -> RouteConfig {
    RouteConfig {
        prefix: prefix.into(),
        peer: peer.into(),
    }
}

fn node() -> Arc<Node> {
    Arc::new(Node::new(
        &NodeConfig::from_yaml("ilpAddress: test.x\n").unwrap(),
    ))
}

#[tokio::test]
async fn unchanged_connections_keep_their_peer_object() {
    let secrets = Secrets::new();
    let node = node();
    let a = peer("a", secrets.reference("a", "token-a"));
    let b = peer("b", secrets.reference("b", "token-b"));
    let applied = node
        .apply(&[a.clone(), b.clone()], &[route("test.a", "a")])
        .unwrap();
    assert_eq!(applied.added, ["a", "b"]);
    assert!(node.is_ready() || !node.is_draining());
    let a_before = node.snapshot().peers["a"].clone();
    let b_before = node.snapshot().peers["b"].clone();

    // New limits for a, b untouched, c added, route moved.
    let a_limited = PeerConfig {
        credit_limit: Some(10),
        ..a.clone()
    };
    let c = peer("c", secrets.reference("c", "token-c"));
    let applied = node
        .apply(
            &[a_limited.clone(), b.clone(), c],
            &[route("test.a", "a"), route("test.c", "c")],
        )
        .unwrap();
    assert_eq!(applied.updated, ["a"]);
    assert_eq!(applied.added, ["c"]);
    assert!(applied.replaced.is_empty() && applied.removed.is_empty());
    let snapshot = node.snapshot();
    assert!(
        Arc::ptr_eq(&snapshot.peers["a"], &a_before),
        "a keeps its link and balance"
    );
    assert!(
        Arc::ptr_eq(&snapshot.peers["b"], &b_before),
        "b is untouched"
    );
    assert_eq!(snapshot.peers["a"].settings().credit_limit, Some(10));
    assert_eq!(
        snapshot.routes.lookup("test.c.x").unwrap().peer.as_ref(),
        "c"
    );

    // A new secret for b is a new connection: a new peer object; dropping c retires it.
    let b_rotated = peer("b", secrets.reference("b2", "token-b-rotated"));
    let applied = node
        .apply(&[a_limited, b_rotated], &[route("test.a", "a")])
        .unwrap();
    assert_eq!(applied.replaced, ["b"]);
    assert_eq!(applied.removed, ["c"]);
    assert!(!Arc::ptr_eq(&node.snapshot().peers["b"], &b_before));
    assert!(node.snapshot().routes.lookup("test.c.x").is_none());
}

#[tokio::test]
async fn a_bad_table_changes_nothing() {
    let secrets = Secrets::new();
    let node = node();
    let a = peer("a", secrets.reference("a", "token-a"));
    node.apply(std::slice::from_ref(&a), &[route("test.a", "a")])
        .unwrap();
    let before = node.snapshot().peers["a"].clone();

    let unknown_peer = node
        .apply(std::slice::from_ref(&a), &[route("test.b", "ghost")])
        .unwrap_err();
    assert!(
        matches!(&unknown_peer, ApplyError::Invalid(e) if e.field == "routes[0].peer"),
        "{unknown_peer}"
    );

    let missing = peer("m", SecretRef::Env("DATAPLANE_APPLY_TEST_UNSET".into()));
    let a_limited = PeerConfig {
        credit_limit: Some(5),
        ..a.clone()
    };
    let error = node.apply(&[a_limited, missing], &[]).unwrap_err();
    assert_eq!(
        node.snapshot().peers["a"].settings().credit_limit,
        None,
        "a's new limit was not applied"
    );
    let text = error.to_string();
    assert!(
        text.contains("peer m") && text.contains("env:DATAPLANE_APPLY_TEST_UNSET"),
        "{text}"
    );

    let twin = peer("twin", secrets.reference("twin", "token-a"));
    let error = node.apply(&[a, twin], &[]).unwrap_err();
    assert!(
        matches!(error, ApplyError::DuplicateToken { .. }),
        "{error}"
    );
    assert!(
        !error.to_string().contains("token-a"),
        "never print the secret: {error}"
    );

    let snapshot = node.snapshot();
    assert!(Arc::ptr_eq(&snapshot.peers["a"], &before));
    assert_eq!(snapshot.routes.lookup("test.a").unwrap().peer.as_ref(), "a");
}
