//! The TigerBeetle ledger against a real TigerBeetle server (`TIGERBEETLE_BIN`, built by
//! `deploy/tigerbeetle/toolchain.sh server`): money moves as posted transfers, the credit
//! limit is TigerBeetle's own and holds across two data planes of one node, a Reject voids,
//! `kill -9` of a data plane loses no fulfilled packet, and an unreachable cluster refuses
//! packets and readiness until it is back.
#![cfg(feature = "tigerbeetle")]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{NodeProcess, connect_sender_and_receiver, secret};
use proto::{Address, ErrorCode};
use test_kit::tigerbeetle::Cluster;
use test_kit::wait_until;
use testpeer::{Outcome, Payment, TestPeer};

const LIMIT: u64 = 5_000;

fn yaml() -> String {
    format!(
        r#"
ilpAddress: test.n
name: n
peers:
  - {{ id: sender, secretRef: "env:SECRET_SENDER", creditLimit: {LIMIT} }}
  - {{ id: receiver, secretRef: "env:SECRET_RECEIVER" }}
routes:
  - {{ prefix: test.n.receiver, peer: receiver }}
"#
    )
}

/// A data plane of node `n` on `cluster`; `label` names its process and data directory.
fn start(dir: &Path, label: &str, cluster: &Cluster) -> NodeProcess {
    let node = NodeProcess::start(
        dir,
        label,
        &yaml(),
        &[
            ("SECRET_SENDER", secret("sender")),
            ("SECRET_RECEIVER", secret("receiver")),
            ("LEDGER", "tigerbeetle".into()),
            ("TIGERBEETLE_ADDRESSES", cluster.addresses.clone()),
            ("TIGERBEETLE_TIMEOUT_MS", "1000".into()),
        ],
    );
    wait_ready(&node, true);
    node
}

fn wait_ready(node: &NodeProcess, ready: bool) {
    wait_until(
        &format!("/health/ready to say {ready}"),
        Duration::from_secs(60),
        || (common::http_get(node.health_port, "/health/ready").0 == 200) == ready,
    );
}

fn wait_balance(node: &NodeProcess, peer: &str, wanted: (i128, i128)) {
    wait_until(
        &format!("{peer}'s balance to be {wanted:?}"),
        Duration::from_secs(30),
        || node.balance(peer) == wanted,
    );
}

async fn pay(sender: &TestPeer, amount: u64, data: &str) -> Outcome {
    let payment = Payment::new(
        Address::new("test.n.receiver").unwrap(),
        amount,
        data.as_bytes().to_vec(),
    );
    sender.send(&payment).await.expect("an answer")
}

async fn peers(node: &NodeProcess) -> (TestPeer, TestPeer) {
    connect_sender_and_receiver(node, &secret("sender"), &secret("receiver")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn money_moves_as_posted_transfers_and_the_credit_limit_is_tigerbeetles() {
    let cluster = Cluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "n", &cluster);
    assert_eq!(node.health()["ledger"]["kind"], "tigerbeetle");
    let (_receiver, sender) = peers(&node).await;

    for i in 0..3 {
        assert!(pay(&sender, 1_000, &format!("p{i}")).await.is_fulfilled());
    }
    wait_balance(&node, "sender", (3_000, 0));
    wait_balance(&node, "receiver", (-3_000, 0));

    // 3 000 owed + 2 500 > 5 000: TigerBeetle refuses the pending transfer.
    let refused = pay(&sender, 2_500, "too-much").await;
    assert_eq!(refused.code(), Some(ErrorCode::T04_INSUFFICIENT_LIQUIDITY));
    // A Reject from the receiver voids the hold: nothing moves.
    let rejected = pay(&sender, 1_000, "tp:reject:F99").await;
    assert_eq!(rejected.code(), Some(ErrorCode::F99_APPLICATION_ERROR));
    wait_balance(&node, "sender", (3_000, 0));
    // Exactly up to the limit is allowed.
    assert!(pay(&sender, 2_000, "last").await.is_fulfilled());
    wait_balance(&node, "sender", (5_000, 0));
    let metrics = node.metrics();
    let transfers = test_kit::metric_value(&metrics, "ledger_transfers_total").unwrap_or(0.0);
    assert!(transfers >= 10.0, "holds, posts and voids: {transfers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_data_planes_of_one_node_share_one_credit_limit() {
    let cluster = Cluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path(), "n-a", &cluster);
    let second = start(dir.path(), "n-b", &cluster);
    let (_receiver_a, sender_a) = peers(&first).await;
    let (_receiver_b, sender_b) = peers(&second).await;

    assert!(pay(&sender_a, 3_000, "via-a").await.is_fulfilled());
    // Alone, the second data plane would allow it; together the sender would owe 6 000.
    let refused = pay(&sender_b, 3_000, "via-b").await;
    assert_eq!(refused.code(), Some(ErrorCode::T04_INSUFFICIENT_LIQUIDITY));
    assert!(pay(&sender_b, 2_000, "via-b-fits").await.is_fulfilled());
    // Both read the one truth.
    wait_balance(&first, "sender", (5_000, 0));
    wait_balance(&second, "sender", (5_000, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_a_data_plane_loses_no_fulfilled_packet() {
    const SENDERS: usize = 4;
    let cluster = Cluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let mut node = start(dir.path(), "n", &cluster);
    let (_receiver, sender) = peers(&node).await;
    let sender = Arc::new(sender);
    let fulfilled = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut load = Vec::new();
    for task in 0..SENDERS {
        let (sender, fulfilled) = (sender.clone(), fulfilled.clone());
        load.push(tokio::spawn(async move {
            for i in 0..100_000 {
                // Short expiries: holds left by the kill time out within seconds.
                let mut payment = Payment::new(
                    Address::new("test.n.receiver").unwrap(),
                    1,
                    format!("{task}-{i}").into_bytes(),
                );
                payment.expires_in = Duration::from_secs(3);
                match sender.send(&payment).await {
                    Ok(outcome) if outcome.is_fulfilled() => {
                        fulfilled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => break, // the node is gone
                }
            }
        }));
    }
    wait_until("a few hundred packets", Duration::from_secs(60), || {
        fulfilled.load(std::sync::atomic::Ordering::Relaxed) >= 300
    });
    node.kill();
    for task in load {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    let seen = i128::from(fulfilled.load(std::sync::atomic::Ordering::Relaxed));

    node.restart();
    wait_ready(&node, true);
    // Every Fulfill the sender saw was posted before it was passed back; a packet posted whose
    // Fulfill died with the process is counted too (at most one per sender task). Everything
    // else was voided or expires: nothing stays pending.
    wait_until(
        "the holds the kill left to time out",
        Duration::from_secs(60),
        || node.balance("sender").1 == 0,
    );
    let (owed, _) = node.balance("sender");
    let (owing, _) = node.balance("receiver");
    eprintln!("kill -9 after {seen} fulfilled: TigerBeetle holds {owed} posted");
    assert!(
        owed >= seen && owed <= seen + SENDERS as i128,
        "posted {owed}, fulfilled {seen}"
    );
    assert_eq!(owed, -owing, "both legs of every packet posted together");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_cluster_refuses_packets_and_readiness_until_it_returns() {
    let mut cluster = Cluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "n", &cluster);
    let (_receiver, sender) = peers(&node).await;
    assert!(pay(&sender, 10, "before").await.is_fulfilled());

    cluster.kill(0);
    wait_ready(&node, false);
    let health = node.health();
    assert_eq!(health["ledger"]["state"], "failing", "{health}");
    assert!(
        health["ledger"]["lastError"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{health}"
    );
    let refused = pay(&sender, 10, "during").await;
    assert_eq!(
        refused.code(),
        Some(ErrorCode::T00_INTERNAL_ERROR),
        "{refused:?}"
    );

    cluster.restart(0);
    wait_ready(&node, true);
    assert!(pay(&sender, 10, "after").await.is_fulfilled());
    wait_balance(&node, "sender", (20, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_three_replica_cluster_keeps_forwarding_when_a_replica_is_killed_under_load() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let mut cluster = Cluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "n", &cluster);
    let (_receiver, sender) = peers(&node).await;
    let sender = Arc::new(sender);
    let (fulfilled, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for task in 0..4 {
        let (sender, fulfilled, refused, stop) = (
            sender.clone(),
            fulfilled.clone(),
            refused.clone(),
            stop.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                match pay(&sender, 1, &format!("{task}-{i}")).await {
                    outcome if outcome.is_fulfilled() => fulfilled.fetch_add(1, Ordering::Relaxed),
                    _ => refused.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    wait_until("load through the cluster", Duration::from_secs(60), || {
        count(&fulfilled) >= 200
    });
    // Replica 0 is the first primary; whichever it is now, the other two are a quorum.
    cluster.kill(0);
    let at_kill = count(&fulfilled);
    wait_until(
        "packets fulfilled after the replica died",
        Duration::from_secs(60),
        || count(&fulfilled) >= at_kill + 300,
    );
    stop.store(true, Ordering::Relaxed);
    for task in load {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    let total = i128::from(count(&fulfilled));
    eprintln!(
        "3 replicas, replica 0 killed after {at_kill} fulfilled: {total} fulfilled in all, {} refused",
        count(&refused)
    );
    // No data plane died: what TigerBeetle holds is exactly what was fulfilled.
    wait_balance(&node, "sender", (total, 0));
    wait_balance(&node, "receiver", (-total, 0));
}

/// The ledger's own calls against a real server, with the specification the embedded ledger's
/// unit tests follow: hold and post, hold and void, the credit limit counting what is held,
/// a retried packet counted once, and concurrent packets each counted exactly once.
mod specification {
    use std::sync::Arc;
    use std::time::Duration;

    use dataplane::balance::Balance;
    use dataplane::ledger::TigerBeetleConfig;
    use dataplane::ledger::tigerbeetle::{HoldError, Leg, PeerAccounts, TigerBeetle};
    use dataplane::metrics::Metrics;
    use test_kit::tigerbeetle::Cluster;

    struct Fixture {
        ledger: Arc<TigerBeetle>,
        metrics: Metrics,
        views: Vec<(String, PeerAccounts, Arc<Balance>)>,
        _cluster: Cluster,
    }

    impl Fixture {
        async fn new() -> Fixture {
            let cluster = Cluster::start(1);
            let config = TigerBeetleConfig {
                cluster_id: cluster.cluster_id,
                addresses: cluster.addresses.clone(),
                timeout: Duration::from_secs(2),
                // The cluster's smaller limit is found by the first batch it refuses.
                max_batch: dataplane::ledger::DEFAULT_TIGERBEETLE_MAX_BATCH,
            };
            let metrics = Metrics::new();
            let ledger = TigerBeetle::connect("spec", &config, metrics.ledger.clone()).unwrap();
            let views = ["alice", "bob"]
                .map(|id| {
                    let accounts = PeerAccounts::new("spec", id, "USD", 9);
                    (id.to_string(), accounts, Arc::new(Balance::default()))
                })
                .to_vec();
            let fixture = Fixture {
                ledger,
                metrics,
                views,
                _cluster: cluster,
            };
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while !fixture.ledger.is_healthy() {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the cluster never answered"
                );
                fixture.ledger.refresh(&fixture.views).await;
            }
            fixture
        }

        fn leg(&self, index: usize, amount: u64) -> Leg {
            Leg {
                accounts: self.views[index].1,
                amount,
            }
        }

        /// alice → bob, alice's credit limit `limit`.
        async fn hold(
            &self,
            key: u8,
            amount: u64,
            limit: Option<u64>,
        ) -> Result<Option<dataplane::ledger::tigerbeetle::Hold>, HoldError> {
            self.ledger
                .hold(
                    &[key; 32],
                    (self.leg(0, amount), "alice", limit),
                    (self.leg(1, amount), "bob", None),
                    Duration::from_secs(10),
                )
                .await
        }

        async fn balances(&self) -> ((i128, i128), (i128, i128)) {
            self.ledger.refresh(&self.views).await;
            let read = |i: usize| {
                let s = self.views[i].2.snapshot();
                (s.balance, s.pending_incoming)
            };
            (read(0), read(1))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn hold_post_void_limit_retry_and_concurrency() {
        let f = Fixture::new().await;
        const LIMIT: Option<u64> = Some(1_000);

        // Held: pending on alice, nothing posted.
        let hold = f.hold(1, 400, LIMIT).await.unwrap().expect("money moves");
        assert_eq!(f.balances().await, ((0, 400), (0, 0)));
        // The limit counts what is held: 400 + 700 > 1 000.
        assert_eq!(
            f.hold(2, 700, LIMIT).await.unwrap_err(),
            HoldError::CreditExceeded
        );
        f.ledger.finish(hold, true).await;
        assert_eq!(f.balances().await, ((400, 0), (-400, 0)));

        // Voided: nothing moves, the hold is released.
        let hold = f.hold(3, 600, LIMIT).await.unwrap().expect("money moves");
        f.ledger.finish(hold, false).await;
        assert_eq!(f.balances().await, ((400, 0), (-400, 0)));
        // Exactly up to the limit.
        let hold = f.hold(4, 600, LIMIT).await.unwrap().expect("money moves");
        f.ledger.finish(hold, true).await;
        assert_eq!(f.balances().await, ((1_000, 0), (-1_000, 0)));

        // The same packet again (a retry) is the same hold, and posts once. The limit is
        // raised first so the retry is not refused for credit.
        const RAISED: Option<u64> = Some(1_000_000);
        let hold = f.hold(5, 10, RAISED).await.unwrap().expect("money moves");
        let again = f.hold(5, 10, RAISED).await.unwrap().expect("the same hold");
        f.ledger.finish(hold, true).await;
        f.ledger.finish(again, true).await;
        assert_eq!(f.balances().await, ((1_010, 0), (-1_010, 0)));

        // 200 concurrent packets: each counted once, batched into fewer requests.
        let requests_before = f.metrics.ledger.requests.get();
        let mut tasks = Vec::new();
        let f = Arc::new(f);
        for key in 0..200u8 {
            let f = f.clone();
            tasks.push(tokio::spawn(async move {
                let mut packet = [key; 32];
                packet[0] = 0xEE; // distinct from the keys above
                let hold = f
                    .ledger
                    .hold(
                        &packet,
                        (f.leg(0, 1), "alice", RAISED),
                        (f.leg(1, 1), "bob", None),
                        Duration::from_secs(10),
                    )
                    .await
                    .unwrap()
                    .expect("money moves");
                f.ledger.finish(hold, true).await;
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(f.balances().await, ((1_210, 0), (-1_210, 0)));
        let requests = f.metrics.ledger.requests.get() - requests_before;
        assert!(
            requests < 400,
            "400 chains (hold + post) went out in {requests} requests: batched"
        );
    }
}
