//! ILDCP (RFC 31) end to end with real processes: a child test peer asks a data plane for its
//! address; a data plane without ILP_ADDRESS learns its own from its parent data plane (and again
//! after the parent comes back reconfigured), and a configured ILP_ADDRESS wins over asking.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{NodeProcess, http_get, secret};
use proto::Address;
use proto::ilp::ErrorCode;
use test_kit::wait_until;
use testpeer::{Outcome, Payment, TestPeer, TestPeerError};

const LIMIT: Duration = Duration::from_secs(15);

/// A parent `test.p` whose peers are `entries` (YAML flow mappings) and whose only route is
/// `test.p.bob` to its child bob.
fn parent_yaml(entries: &[String]) -> String {
    let mut yaml = "ilpAddress: test.p\nname: p\npeers:\n".to_string();
    for entry in entries {
        yaml.push_str(&format!("  - {entry}\n"));
    }
    yaml.push_str(
        "  - { id: bob, relation: child, secretRef: \"env:SECRET_BOB\" }\nroutes:\n  - { prefix: test.p.bob, peer: bob }\n",
    );
    yaml
}

/// A data plane `name` with no address: its parent `p` dials it, its child alice dials it, and
/// everything under `test.p` goes to the parent.
fn start_child_node(dir: &Path, name: &str, env: &[(&str, String)]) -> NodeProcess {
    let yaml = format!(
        "name: {name}\npeers:\n  - {{ id: p, relation: parent, secretRef: \"env:SECRET_P\" }}\n  - {{ id: alice, relation: child, secretRef: \"env:SECRET_ALICE\" }}\nroutes:\n  - {{ prefix: test.p, peer: p }}\n"
    );
    NodeProcess::start(dir, name, &yaml, env)
}

fn address_of(node: &NodeProcess) -> (Option<String>, Option<String>) {
    let health = node.health();
    (
        health["ilpAddress"].as_str().map(str::to_string),
        health["addressSource"].as_str().map(str::to_string),
    )
}

fn wait_for_address(node: &NodeProcess, address: &str) {
    wait_until(&format!("{} to learn {address}", node.name), LIMIT, || {
        address_of(node).0.as_deref() == Some(address)
    });
}

fn ready(node: &NodeProcess) -> (u16, String) {
    node.http_get("/health/ready")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_test_peer_learns_its_address_by_ildcp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (kid, kid2, friend, bob) = (
        secret("kid"),
        secret("kid2"),
        secret("friend"),
        secret("bob"),
    );
    let node = NodeProcess::start(
        dir.path(),
        "p",
        &parent_yaml(&[
            r#"{ id: kid, relation: child, assetCode: EUR, assetScale: 2, secretRef: "env:SECRET_KID" }"#.into(),
            r#"{ id: kid2, relation: child, ilpAddress: test.elsewhere.k2, secretRef: "env:SECRET_KID2" }"#.into(),
            r#"{ id: friend, secretRef: "env:SECRET_FRIEND" }"#.into(),
        ]),
        &[
            ("SECRET_KID", kid.clone()),
            ("SECRET_KID2", kid2.clone()),
            ("SECRET_FRIEND", friend.clone()),
            ("SECRET_BOB", bob),
        ],
    );
    let url = node.btp_url();
    let learned = TestPeer::connect_as(&url, &kid, "test.unknown.kid")
        .await
        .expect("kid connects")
        .ildcp()
        .await
        .expect("kid is answered");
    assert_eq!(learned.client_address.as_str(), "test.p.kid");
    assert_eq!(
        (learned.asset_code.as_str(), learned.asset_scale),
        ("EUR", 2)
    );

    let overridden = TestPeer::connect_as(&url, &kid2, "test.unknown.kid2")
        .await
        .expect("kid2 connects")
        .ildcp()
        .await
        .expect("kid2 is answered");
    assert_eq!(overridden.client_address.as_str(), "test.elsewhere.k2");
    assert_eq!(
        (overridden.asset_code.as_str(), overridden.asset_scale),
        ("USD", 9)
    );

    let refused = TestPeer::connect_as(&url, &friend, "test.unknown.friend")
        .await
        .expect("friend connects")
        .ildcp()
        .await;
    match refused {
        Err(TestPeerError::IldcpRejected { code, message }) => {
            assert_eq!(code, ErrorCode::F00_BAD_REQUEST);
            assert!(message.contains("children only"), "{message}");
        }
        other => panic!("a non-child was answered: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_plane_without_an_address_learns_it_from_its_parent_and_forwards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c1, c2, alice, bob) = (secret("c1"), secret("c2"), secret("alice"), secret("bob"));
    let child_env = |link: &str| {
        vec![
            ("SECRET_P", link.to_string()),
            ("SECRET_ALICE", alice.clone()),
        ]
    };
    let node_c1 = start_child_node(dir.path(), "c1", &child_env(&c1));
    let node_c2 = start_child_node(dir.path(), "c2", &child_env(&c2));

    // Before the parent answers: not ready, no address, and nothing is forwarded.
    let (status, body) = ready(&node_c1);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("awaiting_address"), "{body}");
    assert_eq!(address_of(&node_c1), (None, None));
    let sender = TestPeer::connect_as(&node_c1.btp_url(), &alice, "test.p.c1.alice")
        .await
        .expect("alice connects");
    let bob_address = Address::new("test.p.bob").expect("address");
    let early = sender
        .send(&Payment::new(bob_address.clone(), 100, "too early"))
        .await
        .expect("answered");
    match &early {
        Outcome::Rejected {
            code,
            triggered_by,
            message,
            ..
        } => {
            assert_eq!(*code, ErrorCode::T00_INTERNAL_ERROR);
            assert_eq!(triggered_by.as_deref(), None, "no address to name yet");
            assert!(message.contains("no ILP address yet"), "{message}");
        }
        other => panic!("forwarded without an address: {other:?}"),
    }

    // The parent dials both; c2's entry names the address it gets.
    let entries = |c1_override: &str| {
        vec![
            format!(
                r#"{{ id: c1, relation: child, url: "{}", {c1_override}secretRef: "env:SECRET_C1" }}"#,
                node_c1.btp_url()
            ),
            format!(
                r#"{{ id: c2, relation: child, url: "{}", ilpAddress: test.elsewhere.c2, secretRef: "env:SECRET_C2" }}"#,
                node_c2.btp_url()
            ),
        ]
    };
    let mut parent = NodeProcess::start(
        dir.path(),
        "p",
        &parent_yaml(&entries("")),
        &[
            ("SECRET_C1", c1.clone()),
            ("SECRET_C2", c2.clone()),
            ("SECRET_BOB", bob.clone()),
        ],
    );
    let receiver = TestPeer::connect_as(&parent.btp_url(), &bob, "test.p.bob")
        .await
        .expect("bob connects");
    parent.wait_link_state("bob", "up", LIMIT);

    wait_for_address(&node_c1, "test.p.c1");
    assert_eq!(
        address_of(&node_c1),
        (Some("test.p.c1".into()), Some("ildcp".into()))
    );
    wait_for_address(&node_c2, "test.elsewhere.c2");
    wait_until("c1 ready", LIMIT, || ready(&node_c1).0 == 200);
    assert!(node_c1.has_log("ildcp_address_learned"));
    assert_eq!(
        node_c1.metric(r#"dataplane_ildcp_requests_total{result="learned"}"#),
        Some(1.0)
    );

    // Now it forwards, and answers its own child's ILDCP under its learned address.
    let paid = sender
        .send(&Payment::new(bob_address, 100, "hello parent"))
        .await
        .expect("answered");
    assert!(paid.is_fulfilled(), "{paid:?}");
    assert_eq!(
        receiver
            .stats()
            .prepares
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let grandchild = sender.ildcp().await.expect("alice is answered");
    assert_eq!(grandchild.client_address.as_str(), "test.p.c1.alice");

    // The parent comes back with another address for c1: c1 asks again and takes it.
    std::fs::write(
        dir.path().join("p.yaml"),
        parent_yaml(&entries("ilpAddress: test.renamed.c1, ")),
    )
    .expect("rewrite the parent's config");
    parent.restart();
    wait_for_address(&node_c1, "test.renamed.c1");
    node_c1.wait_for_event("ildcp_address_changed", LIMIT);
    assert_eq!(
        node_c1.metric(r#"dataplane_ildcp_requests_total{result="learned"}"#),
        Some(2.0)
    );
    assert_eq!(ready(&node_c1).0, 200, "still ready after re-learning");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_address_wins_and_no_ildcp_request_is_made() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, alice, bob) = (secret("c"), secret("alice"), secret("bob"));
    let node_c = start_child_node(
        dir.path(),
        "c",
        &[
            ("SECRET_P", c.clone()),
            ("SECRET_ALICE", alice),
            ("ILP_ADDRESS", "test.own.c".into()),
        ],
    );
    assert_eq!(ready(&node_c).0, 200, "ready without asking anyone");
    let parent = NodeProcess::start(
        dir.path(),
        "p",
        &parent_yaml(&[format!(
            r#"{{ id: c, relation: child, url: "{}", secretRef: "env:SECRET_C" }}"#,
            node_c.btp_url()
        )]),
        &[("SECRET_C", c), ("SECRET_BOB", bob)],
    );
    parent.wait_link_state("c", "up", LIMIT);
    node_c.wait_link_state("p", "up", LIMIT);
    // Long enough for a request sent at link-up to arrive and be counted.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        address_of(&node_c),
        (Some("test.own.c".into()), Some("configured".into()))
    );
    assert_eq!(
        parent.metric(r#"ilp_packets_total{code="",direction="incoming",peer="c",type="prepare"}"#),
        Some(0.0),
        "the parent was never asked"
    );
    for result in dataplane::metrics::ILDCP_RESULTS {
        assert_eq!(
            node_c.metric(&format!(
                r#"dataplane_ildcp_requests_total{{result="{result}"}}"#
            )),
            Some(0.0),
            "no ILDCP request counted ({result})"
        );
    }
    let (status, _) = http_get(node_c.health_port, "/health/ready");
    assert_eq!(status, 200);
}
