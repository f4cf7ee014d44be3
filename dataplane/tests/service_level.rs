//! `/health`'s service-level figures through the real binary: the last minute's share of
//! Prepares fulfilled and its p99, which rejects pull down; and no dependencies in standalone
//! mode (managed mode's control plane dependency is checked in e2e).

mod common;

use std::time::Duration;

use common::SINGLE_NODE;
use proto::Address;
use test_kit::wait_until;
use testpeer::Payment;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rejects_pull_the_success_rate_down() {
    let dir = tempfile::tempdir().unwrap();
    let (node, _receiver, sender) = common::start_single_node(dir.path(), SINGLE_NODE, &[]).await;
    let health = node.health();
    // Standalone: no control plane; the embedded ledger is its one dependency.
    let dependencies = health["dependencies"].as_array().expect("a list");
    assert_eq!(dependencies.len(), 1, "{health}");
    assert_eq!(dependencies[0]["name"], "ledger", "{health}");
    assert_eq!(dependencies[0]["up"], true, "{health}");
    assert_eq!(health["slaWindowSeconds"], 60, "{health}");
    // One sample must exist before the packets for them to count: the first is taken at start.
    for i in 0..3 {
        let paid = Payment::new(
            Address::new("test.n.receiver").unwrap(),
            10,
            format!("paid-{i}").into_bytes(),
        );
        assert!(sender.send(&paid).await.unwrap().is_fulfilled());
    }
    // No route: our own F02.
    let lost = Payment::new(Address::new("test.n.nobody").unwrap(), 10, b"lost".to_vec());
    assert!(!sender.send(&lost).await.unwrap().is_fulfilled());
    wait_until(
        "the four answers are sampled",
        Duration::from_secs(10),
        || node.health()["packets"] == 4,
    );
    let health = node.health();
    assert_eq!(health["packetSuccessRate"], 0.75, "{health}");
    let p99 = health["p99LatencyMs"].as_f64().unwrap_or(-1.0);
    assert!(p99 > 0.0 && p99 <= 30_000.0, "{health}");
}
