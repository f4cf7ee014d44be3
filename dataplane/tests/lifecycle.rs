//! Process lifecycle: SIGTERM drains, bad configuration exits non-zero with one clear line,
//! `dataplane healthcheck` reports liveness by exit code.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{BIN, NodeProcess, SINGLE_NODE, secret};
use proto::Address;
use proto::ilp::ErrorCode;
use testpeer::Payment;

fn payment(data: &str) -> Payment {
    Payment::new(Address::new("test.n.receiver").unwrap(), 1, data.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_in_flight_packets_finish_then_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, _receiver, sender) =
        common::start_single_node(dir.path(), SINGLE_NODE, &[]).await;

    // A slow packet is in flight when SIGTERM arrives.
    let slow = payment("tp:delay:1500");
    let in_flight = tokio::spawn({
        let sender = std::sync::Arc::new(sender);
        let s = sender.clone();
        async move { (s.send(&slow).await, sender) }
    });
    test_kit::wait_until(
        "the slow packet to be in flight",
        Duration::from_secs(5),
        || node.metric("ilp_packets_in_flight") == Some(1.0),
    );
    let signalled = Instant::now();
    node.terminate();
    test_kit::wait_until(
        "the node to report draining",
        Duration::from_secs(5),
        || node.http_get("/health/ready").0 == 503,
    );
    let (outcome, sender) = in_flight.await.unwrap();
    assert!(
        outcome.unwrap().is_fulfilled(),
        "the in-flight packet finishes"
    );

    // New packets during the drain are refused, not dropped. The node may already be gone.
    if let Ok(late) = sender.send(&payment("late")).await {
        assert_eq!(late.code(), Some(ErrorCode::T03_CONNECTOR_BUSY));
    }

    let status = node.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    assert!(
        signalled.elapsed() >= Duration::from_millis(1000),
        "it waited for the packet"
    );
    let logs = node.logs();
    let shutdown = logs
        .iter()
        .find(|l| l.contains("\"connector_shutdown\""))
        .expect("connector_shutdown logged");
    let event: serde_json::Value = serde_json::from_str(shutdown).unwrap();
    assert_eq!(event["drained"], true);
    assert_eq!(event["level"], "INFO");
    let started = logs
        .iter()
        .find(|l| l.contains("\"connector_started\""))
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(started).unwrap();
    assert_eq!(event["nodeId"], "n");
    assert!(event["btpServerPort"].as_u64().is_some());
}

/// Runs the binary with `yaml` and `env`, expecting it to refuse to start.
fn refused(yaml: &str, env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, yaml).unwrap();
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("CONFIG_FILE", &path)
        .env("BTP_SERVER_PORT", "0")
        .env("HEALTH_CHECK_PORT", "0");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    (output.status.code().unwrap_or(-1), stderr)
}

#[test]
fn bad_configuration_exits_with_one_line_naming_the_field() {
    // (config file, extra environment, what stderr must say)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            "ilpAddress: test.n\npeers:\n  - { id: x, secret: hunter2 }\n",
            &[],
            "peers[0].secret: literal secrets are refused",
        ),
        (
            "ilpAddress: test.n\npeers:\n  - { id: x, secretRef: 'env:MISSING_SECRET' }\n",
            &[],
            "peers[0].secretRef (peer x): env:MISSING_SECRET: environment variable is not set",
        ),
        ("ilpAddress: 'test..n'\n", &[], "ilpAddress"),
        (
            "name: n\npeers:\n  - { id: x, relation: child, secretRef: 'env:S1' }\n",
            &[("S1", "one")],
            "ILP_ADDRESS: required (or ilpAddress in CONFIG_FILE) unless a peer has relation: parent",
        ),
        (
            "name: n\npeers:\n  - { id: x, relation: parent, secretRef: 'env:S1' }\n  - { id: y, relation: parent, secretRef: 'env:S2' }\n",
            &[("S1", "one"), ("S2", "two")],
            "peers[1].relation: y is a second parent besides x; a node has one parent at most",
        ),
        (
            "ilpAddress: test.n\nroutes:\n  - { prefix: test.x, peer: ghost }\n",
            &[],
            "routes[0].peer: unknown peer",
        ),
        (
            "ilpAddress: test.n\n",
            &[("BTP_SERVER_PORT", "http")],
            "BTP_SERVER_PORT",
        ),
        (
            "ilpAddress: test.n\npeers:\n  - { id: x, secretRef: 'env:S1' }\n  - { id: y, secretRef: 'env:S2' }\n",
            &[("S1", "same"), ("S2", "same")],
            "resolve to the same secret",
        ),
    ];
    for (yaml, env, needle) in cases {
        let (code, stderr) = refused(yaml, env);
        assert_eq!(code, 2, "exit code for {yaml:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr:?}");
        assert!(
            stderr.contains(needle),
            "{stderr:?} should contain {needle:?}"
        );
        assert!(
            !stderr.contains("hunter2") && !stderr.contains("same\""),
            "no secret in {stderr:?}"
        );
    }
}

#[test]
fn healthcheck_subcommand_reports_liveness() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(
        dir.path(),
        "n",
        SINGLE_NODE,
        &[
            ("SECRET_SENDER", secret("s")),
            ("SECRET_RECEIVER", secret("r")),
        ],
    );
    let ok = Command::new(BIN)
        .args(["healthcheck", "--port", &node.health_port.to_string()])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Nothing listens on a port we just released.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = Command::new(BIN)
        .args(["healthcheck", "--port", &free.to_string()])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
}
