//! End to end: three `dataplane` processes in a line, A—B—C, a sender behind A and a receiver
//! behind C (both `testpeer`s).

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{NodeProcess, secret};
use proto::ilp::{AmountTooLarge, ErrorCode, PrepareBuilder};
use proto::{Address, Timestamp};
use test_kit::wait_until;
use testpeer::{Options, Outcome, Payment, TestPeer};

const LINK_TIMEOUT: Duration = Duration::from_secs(15);

struct Network {
    _dir: tempfile::TempDir,
    a: NodeProcess,
    b: NodeProcess,
    c: NodeProcess,
    alice_token: String,
    bob_token: String,
    receiver_token: String,
}

fn start_network() -> Network {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ab, bc) = (secret("ab"), secret("bc"));
    let (alice, bob, receiver) = (secret("alice"), secret("bob"), secret("receiver"));
    let c = NodeProcess::start_node(
        dir.path(),
        "c",
        &[
            r#"{ id: b, secretRef: "env:SECRET_BC" }"#.into(),
            r#"{ id: receiver, relation: child, secretRef: "env:SECRET_RECEIVER" }"#.into(),
        ],
        &[("test.c.receiver", "receiver")],
        &[
            ("SECRET_BC", bc.clone()),
            ("SECRET_RECEIVER", receiver.clone()),
        ],
    );
    let b = NodeProcess::start_node(
        dir.path(),
        "b",
        &[
            r#"{ id: a, secretRef: "env:SECRET_AB" }"#.into(),
            format!(
                r#"{{ id: c, url: "ws://127.0.0.1:{}", secretRef: "env:SECRET_BC" }}"#,
                c.btp_port
            ),
        ],
        &[("test.c", "c")],
        &[("SECRET_AB", ab.clone()), ("SECRET_BC", bc)],
    );
    let a = NodeProcess::start_node(
        dir.path(),
        "a",
            &[
                format!(
                    r#"{{ id: b, url: "ws://127.0.0.1:{}", secretRef: "env:SECRET_AB" }}"#,
                    b.btp_port
                ),
                r#"{ id: alice, relation: child, maxPacketAmount: 1000, creditLimit: 1000000000, secretRef: "env:SECRET_ALICE" }"#.into(),
                r#"{ id: bob, relation: child, maxPacketAmount: 1000, creditLimit: 1000, secretRef: "env:SECRET_BOB" }"#.into(),
            ],
            &[("test.c", "b"), ("test.b", "b")],
        &[
            ("SECRET_AB", ab),
            ("SECRET_ALICE", alice.clone()),
            ("SECRET_BOB", bob.clone()),
        ],
    );
    a.wait_link_state("b", "up", LINK_TIMEOUT);
    b.wait_link_state("c", "up", LINK_TIMEOUT);
    Network {
        _dir: dir,
        a,
        b,
        c,
        alice_token: alice,
        bob_token: bob,
        receiver_token: receiver,
    }
}

async fn peer(url: &str, token: &str, address: &str) -> TestPeer {
    TestPeer::connect_as(url, token, address)
        .await
        .expect("test peer connects")
}

fn payment(destination: &str, amount: u64, data: &str, expires_in: Duration) -> Payment {
    Payment {
        expires_in,
        ..Payment::new(Address::new(destination).unwrap(), amount, data.as_bytes())
    }
}

fn rejected(outcome: &Outcome) -> (ErrorCode, Option<String>, Bytes) {
    match outcome {
        Outcome::Rejected {
            code,
            triggered_by,
            data,
            ..
        } => (*code, triggered_by.clone(), data.clone()),
        Outcome::Fulfilled { .. } => panic!("expected a reject, got {outcome:?}"),
    }
}

/// `sender` pays `amount` to `destination` with `data`, expiring in `expires_in`.
async fn send(
    sender: &TestPeer,
    destination: &str,
    amount: u64,
    data: &str,
    expires_in: Duration,
) -> Outcome {
    sender
        .send(&payment(destination, amount, data, expires_in))
        .await
        .unwrap()
}

/// `sender`'s payment (as for `send`) is fulfilled.
async fn fulfilled(
    sender: &TestPeer,
    destination: &str,
    amount: u64,
    data: &str,
    expires_in: Duration,
) -> bool {
    send(sender, destination, amount, data, expires_in)
        .await
        .is_fulfilled()
}

/// `outcome` is a Reject with `code`, triggered by `by`; returns the Reject's data.
#[track_caller]
fn assert_rejected(outcome: &Outcome, code: ErrorCode, by: &str) -> Bytes {
    let (got, triggered_by, data) = rejected(outcome);
    assert_eq!((got, triggered_by.as_deref()), (code, Some(by)));
    data
}

/// The entry for peer `id` in a node's /health document.
fn peer_entry(health: &serde_json::Value, id: &str) -> serde_json::Value {
    health["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn linear_network_forwards_and_enforces_connector_rules() {
    let net = start_network();
    let receiver = peer(&net.c.btp_url(), &net.receiver_token, "test.c.receiver").await;
    let alice = peer(&net.a.btp_url(), &net.alice_token, "test.a.alice").await;
    let bob = peer(&net.a.btp_url(), &net.bob_token, "test.a.bob").await;
    net.c.wait_link_state("receiver", "up", LINK_TIMEOUT);
    let long = Duration::from_secs(10);

    // A—B—C forwards, and the fulfillment comes back.
    let outcome = send(&alice, "test.c.receiver.shop", 100, "hello", long).await;
    match &outcome {
        Outcome::Fulfilled { fulfillment, .. } => {
            assert_eq!(*fulfillment, testpeer::fulfillment_for(b"hello"))
        }
        other => panic!("expected a fulfill, got {other:?}"),
    }
    assert_eq!(
        receiver
            .stats()
            .prepares
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );

    // Many packets, concurrently.
    let sends = (0..50).map(|i| {
        let p = payment("test.c.receiver", 10, &format!("burst-{i}"), long);
        let alice = &alice;
        async move { alice.send(&p).await.unwrap() }
    });
    let outcomes = futures_util::future::join_all(sends).await;
    assert!(outcomes.iter().all(Outcome::is_fulfilled), "{outcomes:?}");

    // Unknown destination: F02 from A; a prefix C has no route for: F02 from C.
    for (destination, by) in [
        ("test.nowhere.x", "test.a"),
        ("test.c.stranger", "test.c"),
        // Whole segments only: test.c.receiver2 is not under test.c.receiver.
        ("test.c.receiver2", "test.c"),
    ] {
        let (code, triggered_by, _) = rejected(&send(&alice, destination, 1, "x", long).await);
        assert_eq!(
            (code, triggered_by.as_deref()),
            (ErrorCode::F02_UNREACHABLE, Some(by)),
            "{destination}"
        );
    }

    // Too little time: A takes its 1 s margin and has less than 1 s left → R02 from A.
    assert_rejected(
        &send(
            &alice,
            "test.c.receiver",
            1,
            "x",
            Duration::from_millis(1500),
        )
        .await,
        ErrorCode::R02_INSUFFICIENT_TIMEOUT,
        "test.a",
    );

    // Above the sender's max packet amount: F08 with the 16-byte data.
    let data = assert_rejected(
        &send(&alice, "test.c.receiver", 1001, "x", long).await,
        ErrorCode::F08_AMOUNT_TOO_LARGE,
        "test.a",
    );
    assert_eq!(
        AmountTooLarge::decode(&data),
        Some(AmountTooLarge {
            received_amount: 1001,
            maximum_amount: 1000
        })
    );

    // The receiver never answers: C gives up at its outgoing expiry and R00 flows back.
    let started = Instant::now();
    assert_rejected(
        &send(
            &alice,
            "test.c.receiver",
            1,
            "tp:ignore",
            Duration::from_secs(6),
        )
        .await,
        ErrorCode::R00_TRANSFER_TIMED_OUT,
        "test.c",
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "R00 must arrive before the sender's expiry"
    );

    for (data, expected) in [
        // A fulfillment that does not match the condition is never passed upstream.
        (
            "tp:bad-fulfill",
            (ErrorCode::F05_WRONG_CONDITION, Some("test.c")),
        ),
        // A downstream Reject is relayed unchanged.
        (
            "tp:reject:F99",
            (ErrorCode::F99_APPLICATION_ERROR, Some("test.c.receiver")),
        ),
    ] {
        let (code, by, _) = rejected(&send(&alice, "test.c.receiver", 1, data, long).await);
        assert_eq!((code, by.as_deref()), expected, "{data}");
    }

    // Credit limit: bob may owe A at most 1000.
    assert!(fulfilled(&bob, "test.c.receiver", 600, "bob-1", long).await);
    assert_rejected(
        &send(&bob, "test.c.receiver", 600, "bob-2", long).await,
        ErrorCode::T04_INSUFFICIENT_LIQUIDITY,
        "test.a",
    );
    assert!(fulfilled(&bob, "test.c.receiver", 400, "bob-3", long).await);
    let health = net.a.health();
    let bob_entry = peer_entry(&health, "bob");
    assert_eq!(bob_entry["balance"], "1000", "{bob_entry}");
    assert_eq!(bob_entry["pendingIncoming"], "0");
    // Rejected and failed packets moved no balance: b's side at A is minus what was fulfilled.
    let fulfilled_total: u64 = 100 + 50 * 10 + 600 + 400;
    let b_entry = peer_entry(&health, "b");
    assert_eq!(
        b_entry["balance"],
        format!("-{fulfilled_total}"),
        "{b_entry}"
    );

    // Malformed ILP from a peer: F01, and the link stays up.
    assert_rejected(
        &alice
            .send_raw(Bytes::from_static(&[12, 3, 0, 0, 0]), long)
            .await
            .unwrap(),
        ErrorCode::F01_INVALID_PACKET,
        "test.a",
    );

    // Already expired on arrival: R00 from A.
    let destination = Address::new("test.c.receiver").unwrap();
    let stale = PrepareBuilder {
        amount: 1,
        expires_at: Timestamp::from_unix_ms(Timestamp::now().unix_ms() - 1000),
        execution_condition: &testpeer::condition_for(b"stale"),
        destination: &destination,
        data: b"stale",
    }
    .build()
    .unwrap();
    assert_rejected(
        &alice.send_raw(stale.encode(), long).await.unwrap(),
        ErrorCode::R00_TRANSFER_TIMED_OUT,
        "test.a",
    );

    // Metrics count what happened.
    let series = |peer: &str, direction: &str, kind: &str, code: &str| {
        format!(
            r#"ilp_packets_total{{code="{code}",direction="{direction}",peer="{peer}",type="{kind}"}}"#
        )
    };
    let alice_fulfills = net
        .a
        .metric(&series("alice", "incoming", "fulfill", ""))
        .unwrap_or(0.0);
    assert_eq!(alice_fulfills, 51.0);
    assert_eq!(
        net.a.metric(&series("alice", "incoming", "reject", "F08")),
        Some(1.0)
    );
    assert_eq!(
        net.a.metric(&series("bob", "incoming", "reject", "T04")),
        Some(1.0)
    );
    assert_eq!(
        net.c
            .metric(&series("receiver", "outgoing", "reject", "F05")),
        Some(1.0)
    );
    assert_eq!(net.a.metric(r#"btp_link_up{peer="b"}"#), Some(1.0));
    assert_eq!(net.a.metric("ilp_packets_in_flight"), Some(0.0));

    // A wrong token cannot connect, and the attempt leaves alice's session alone.
    let impostor = TestPeer::connect(
        &net.a.btp_url(),
        "not-a-token",
        Options::new(Address::new("test.x").unwrap()),
    )
    .await;
    assert!(
        matches!(
            &impostor,
            Err(testpeer::TestPeerError::Link(
                btp_link::LinkError::AuthRejected { .. }
            ))
        ),
        "{:?}",
        impostor.as_ref().err()
    );
    // The right token with someone else's name is refused as well.
    let mut options = Options::new(Address::new("test.x").unwrap());
    options.username = Some("bob".into());
    assert!(
        TestPeer::connect(&net.a.btp_url(), &net.alice_token, options)
            .await
            .is_err()
    );
    assert!(fulfilled(&alice, "test.c.receiver", 1, "still-here", long).await);
    assert_eq!(
        net.a
            .metric(r#"btp_auth_failures_total{reason="invalid_token"}"#),
        Some(1.0)
    );
    assert_eq!(
        net.a
            .metric(r#"btp_auth_failures_total{reason="username_mismatch"}"#),
        Some(1.0)
    );

    // /health shows the links.
    let health = net.b.health();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["nodeId"], "b");
    assert_eq!(net.b.link_state("a"), "up");
    assert_eq!(net.b.link_state("c"), "up");
    assert_eq!(net.b.http_get("/health/ready").0, 200);
    assert_eq!(net.b.http_get("/health/live").0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn links_come_back_after_a_node_restarts() {
    let mut net = start_network();
    let _receiver = peer(&net.c.btp_url(), &net.receiver_token, "test.c.receiver").await;
    let alice = peer(&net.a.btp_url(), &net.alice_token, "test.a.alice").await;
    net.c.wait_link_state("receiver", "up", LINK_TIMEOUT);
    let long = Duration::from_secs(10);
    assert!(fulfilled(&alice, "test.c.receiver", 5, "before", long).await);

    net.b.kill();
    wait_until("A to notice B is gone", LINK_TIMEOUT, || {
        net.a.link_state("b") != "up"
    });
    assert_rejected(
        &send(&alice, "test.c.receiver", 5, "while-down", long).await,
        ErrorCode::T01_PEER_UNREACHABLE,
        "test.a",
    );
    let health = net.a.health();
    let b_entry = peer_entry(&health, "b");
    assert!(
        b_entry["lastError"].is_string(),
        "the last error is shown: {b_entry}"
    );

    net.b.restart();
    net.a.wait_link_state("b", "up", LINK_TIMEOUT);
    net.b.wait_link_state("c", "up", LINK_TIMEOUT);
    assert!(fulfilled(&alice, "test.c.receiver", 5, "after", long).await);
    assert!(
        net.a
            .metric(r#"btp_link_reconnects_total{peer="b"}"#)
            .unwrap_or(0.0)
            >= 1.0
    );
}
