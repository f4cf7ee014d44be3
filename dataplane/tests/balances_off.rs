//! `TRACK_BALANCES=false` (for measuring what balance tracking costs): packets still flow,
//! balances stay untouched, and a credit limit that could not be enforced is refused.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{BIN, NodeProcess, secret};
use proto::Address;
use testpeer::Payment;

const NODE: &str = r#"
ilpAddress: test.n
name: n
peers:
  - { id: sender, secretRef: "env:SECRET_SENDER" }
  - { id: receiver, secretRef: "env:SECRET_RECEIVER" }
routes:
  - { prefix: test.n.receiver, peer: receiver }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_balance_tracking_packets_flow_and_balances_stay_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (sender_token, receiver_token) = (secret("s"), secret("r"));
    let node = NodeProcess::start(
        dir.path(),
        "n",
        NODE,
        &[
            ("SECRET_SENDER", sender_token.clone()),
            ("SECRET_RECEIVER", receiver_token.clone()),
            ("TRACK_BALANCES", "false".into()),
        ],
    );
    let (_receiver, sender) =
        common::connect_sender_and_receiver(&node, &sender_token, &receiver_token).await;
    for i in 0..3 {
        let payment = Payment {
            destination: Address::new("test.n.receiver").unwrap(),
            amount: 100,
            data: format!("untracked-{i}").into_bytes(),
            expires_in: Duration::from_secs(10),
        };
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
