//! The embedded ledger across real process deaths: a graceful stop keeps every balance exactly,
//! and `kill -9` under load loses at most what was fulfilled within one flush interval (plus a
//! sync) before the kill.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{NodeProcess, SINGLE_NODE, connect_sender_and_receiver, secret};
use proto::Address;
use testpeer::{Payment, TestPeer};

async fn pay(sender: &TestPeer, amount: u64, tag: &str) -> bool {
    let payment = Payment::new(
        Address::new("test.n.receiver").unwrap(),
        amount,
        tag.as_bytes().to_vec(),
    );
    matches!(sender.send(&payment).await, Ok(outcome) if outcome.is_fulfilled())
}

async fn reconnect(node: &NodeProcess) -> (TestPeer, TestPeer) {
    connect_sender_and_receiver(node, &secret("sender"), &secret("receiver")).await
}

fn start(dir: &std::path::Path, env: &[(&str, String)]) -> NodeProcess {
    let mut all = vec![
        ("SECRET_SENDER", secret("sender")),
        ("SECRET_RECEIVER", secret("receiver")),
    ];
    all.extend(env.iter().cloned());
    NodeProcess::start(dir, "n", SINGLE_NODE, &all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_restart_restores_every_balance_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = start(dir.path(), &[]);
    let (_receiver, sender) = reconnect(&node).await;
    let mut total: i128 = 0;
    for i in 1..=25u64 {
        let amount = i * 1_000_003;
        assert!(pay(&sender, amount, &format!("p{i}")).await, "payment {i}");
        total += i128::from(amount);
    }
    assert_eq!(node.balance("sender"), (total, 0));
    assert_eq!(node.balance("receiver"), (-total, 0));

    let status = node.terminate_and_wait(Duration::from_secs(30));
    assert!(status.success(), "{status}");
    assert!(node.has_log("ledger_saved"));
    node.restart();
    let restored = node.wait_for_event("ledger_restored", Duration::from_secs(5));
    assert_eq!(restored["accounts"], 2, "{restored}");
    assert_eq!(node.balance("sender"), (total, 0));
    assert_eq!(node.balance("receiver"), (-total, 0));
    let metric = node.metric("ilp_peer_balance{peer=\"sender\"}");
    assert_eq!(
        metric,
        Some(total as f64),
        "the gauge starts from the ledger"
    );

    // And it counts on from there.
    let (_receiver, sender) = reconnect(&node).await;
    assert!(pay(&sender, 7, "after").await);
    assert_eq!(node.balance("sender").0, total + 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_load_loses_at_most_one_flush_interval() {
    const INTERVAL_MS: u64 = 50;
    const SENDERS: usize = 4;
    const AMOUNT: u64 = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let mut node = start(
        dir.path(),
        &[("LEDGER_FLUSH_INTERVAL_MS", INTERVAL_MS.to_string())],
    );
    let (_receiver, sender) = reconnect(&node).await;
    let sender = Arc::new(sender);

    // When each payment's Fulfill reached the sender.
    let fulfilled_at: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for task in 0..SENDERS {
        let (sender, fulfilled_at, stop) = (sender.clone(), fulfilled_at.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 1_000_000 {
                i += 1;
                if pay(&sender, AMOUNT, &format!("{task}-{i}")).await {
                    fulfilled_at.lock().unwrap().push(Instant::now());
                } else {
                    break; // the node is gone
                }
            }
        }));
    }
    // Long enough that losing everything would be far above the bound below.
    tokio::time::sleep(Duration::from_secs(8)).await;
    node.kill();
    let killed = Instant::now();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        let _ = tokio::time::timeout(Duration::from_secs(40), task).await;
    }
    let fulfilled = fulfilled_at.lock().unwrap().clone();
    let seen = i128::try_from(fulfilled.len()).unwrap() * i128::from(AMOUNT);
    // What a kill may lose: payments whose Fulfill came back within one interval, plus a sync
    // and scheduling on a loaded 2-core machine (a generous second), before the kill.
    let window = Duration::from_millis(INTERVAL_MS) + Duration::from_secs(1);
    let recent = fulfilled
        .iter()
        .filter(|at| killed.saturating_duration_since(**at) <= window)
        .count();
    let may_lose = i128::try_from(recent).unwrap() * i128::from(AMOUNT);
    assert!(
        fulfilled.len() > 3 * recent,
        "the load ran well past the window: {} fulfilled, {recent} in the last {window:?}",
        fulfilled.len()
    );

    node.restart();
    let (owed, in_flight) = node.balance("sender");
    let (owing, _) = node.balance("receiver");
    let lost = seen - owed;
    eprintln!(
        "kill -9 after {} fulfilled ({seen}): restored {owed}, lost {lost} ({} packets); bound {may_lose}",
        fulfilled.len(),
        lost / i128::from(AMOUNT)
    );
    assert_eq!(in_flight, 0, "nothing reserved survives a crash");
    // Never more than was fulfilled, bar the Prepares in flight at the kill (committed here,
    // their Fulfill lost on the way back): at most one per sender task.
    assert!(
        owed <= seen + (SENDERS as i128) * i128::from(AMOUNT),
        "restored {owed} > fulfilled {seen}"
    );
    assert!(
        lost <= may_lose,
        "lost {lost}, more than the {may_lose} fulfilled in the last {window:?}"
    );
    // Both sides of each packet are written by the same flushes: they differ by in-flight
    // packets at most.
    assert!(
        (owed + owing).abs() <= (SENDERS as i128) * i128::from(AMOUNT),
        "sender {owed} and receiver {owing} disagree"
    );
}
