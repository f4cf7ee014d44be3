//! `TRACK_BALANCES=false` (for measuring what balance tracking costs): packets still flow,
//! balances stay untouched, and a credit limit that could not be enforced is refused.

mod common;

use std::process::Command;

use common::{BIN, SINGLE_NODE};
use proto::Address;
use testpeer::Payment;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_balance_tracking_packets_flow_and_balances_stay_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (node, _receiver, sender) = common::start_single_node(
        dir.path(),
        SINGLE_NODE,
        &[("TRACK_BALANCES", "false".into())],
    )
    .await;
    for i in 0..3 {
        let payment = Payment::new(
            Address::new("test.n.receiver").unwrap(),
            100,
            format!("untracked-{i}").into_bytes(),
        );
        assert!(sender.send(&payment).await.unwrap().is_fulfilled());
    }
    let health = node.health();
    for peer in health["peers"].as_array().unwrap() {
        assert_eq!(peer["balance"], "0", "{peer}");
    }
}

#[test]
fn a_credit_limit_without_balance_tracking_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.yaml");
    std::fs::write(
        &path,
        "ilpAddress: test.n\npeers:\n  - { id: x, secretRef: 'env:S', creditLimit: 10 }\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .env_clear()
        .env("CONFIG_FILE", &path)
        .env("S", "secret")
        .env("TRACK_BALANCES", "false")
        .env("BTP_SERVER_PORT", "0")
        .env("HEALTH_CHECK_PORT", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("peers[0].creditLimit") && stderr.contains("balance tracking"),
        "{stderr}"
    );
}
