//! Both ledgers against one specification, and what only the embedded one adds: restoring
//! every balance, writing only what moved, and refusing to pretend when the disk fails.

use std::sync::Arc;
use std::time::Duration;

use super::*;

const INTERVAL: Duration = Duration::from_millis(5);

fn embedded(dir: &Path) -> Ledger {
    let config = LedgerConfig::Embedded {
        flush_interval: INTERVAL,
    };
    Ledger::open_embedded(&config, dir).unwrap().0
}

/// What every ledger does, whatever keeps it.
fn specification(ledger: &Ledger) {
    let alice = ledger.account("alice");
    assert!(
        Arc::ptr_eq(&alice, &ledger.account("alice")),
        "one account per id: a replaced peer finds its balance"
    );
    let held = alice.reserve(600, Some(1000)).unwrap();
    assert!(alice.reserve(500, Some(1000)).is_err(), "in flight counts");
    drop(held);
    assert_eq!(alice.reserve(1000, Some(1000)).unwrap().commit(), 1000);
    assert_eq!(ledger.account("bob").outgoing_fulfilled(1000), -1000);
    assert_eq!(
        ledger.balances(),
        [("alice".to_string(), 1000), ("bob".to_string(), -1000)].into()
    );
    // Concurrent packets: every commit counted once, nothing left reserved.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let carol = ledger.account("carol");
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    let reservation = carol.reserve(3, Some(1_000_000)).unwrap();
                    reservation.commit();
                    drop(carol.reserve(5, None).unwrap());
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let carol = ledger.account("carol").snapshot();
    assert_eq!(carol.balance, 12_000);
    assert_eq!(carol.pending_incoming, 0);
}

#[test]
fn the_in_memory_ledger_meets_the_specification() {
    let ledger = Ledger::in_memory();
    specification(&ledger);
    assert_eq!(ledger.flush().unwrap(), None, "nothing to write");
    assert_eq!(ledger.dir(), None);
}

#[test]
fn the_embedded_ledger_meets_the_specification_and_restores_it_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = embedded(dir.path());
    specification(&ledger);
    let flushed = ledger.flush().unwrap().expect("balances moved");
    assert_eq!(flushed.accounts, 3);
    let before = ledger.balances();
    drop(ledger);

    let restored = embedded(dir.path());
    assert_eq!(restored.balances(), before);
    assert_eq!(restored.account("carol").snapshot().pending_incoming, 0);
    // And it goes on from there.
    restored.account("alice").reserve(1, None).unwrap().commit();
    restored.flush().unwrap();
    drop(restored);
    assert_eq!(embedded(dir.path()).balances()["alice"], 1001);
}

#[test]
fn a_flush_writes_only_the_accounts_that_moved() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = embedded(dir.path());
    for id in ["a", "b", "c"] {
        ledger.account(id).reserve(1, None).unwrap().commit();
    }
    assert_eq!(ledger.flush().unwrap().map(|f| f.accounts), Some(3));
    assert_eq!(ledger.flush().unwrap(), None, "nothing moved since");
    ledger.account("b").outgoing_fulfilled(1);
    assert_eq!(ledger.flush().unwrap().map(|f| f.accounts), Some(1));
    // A reservation released moves nothing.
    drop(ledger.account("c").reserve(9, None).unwrap());
    assert_eq!(ledger.flush().unwrap(), None);
}

#[test]
fn a_failing_disk_makes_the_ledger_failing_until_a_flush_succeeds_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = embedded(dir.path());
    ledger.account("alice").reserve(7, None).unwrap().commit();
    ledger.with_journal(Journal::break_writes);
    assert!(ledger.flush().is_err());
    assert!(ledger.is_failing());
    // Still failing on the retry, and the change is still waiting to be written.
    ledger.account("alice").reserve(1, None).unwrap().commit();
    assert!(ledger.flush().is_err());
    assert!(ledger.is_failing());

    ledger.with_journal(Journal::mend_writes);
    let flushed = ledger
        .flush()
        .unwrap()
        .expect("the retry writes what failed");
    assert_eq!(flushed.accounts, 1);
    assert!(!ledger.is_failing());
    drop(ledger);
    assert_eq!(embedded(dir.path()).balances()["alice"], 8);
}

#[test]
fn the_flusher_thread_writes_within_its_interval_and_once_more_when_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(embedded(dir.path()));
    let metrics = crate::metrics::Metrics::new();
    let reports = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = reports.clone();
    let flusher = flusher::Flusher::spawn(
        ledger.clone(),
        INTERVAL,
        metrics.ledger.clone(),
        Box::new(move |error| seen.lock().unwrap().push(error.is_some())),
    )
    .unwrap();
    ledger.account("alice").reserve(5, None).unwrap().commit();
    // Bounded wait for the background flush (well past 5 ms, for a loaded machine).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while metrics.ledger.accounts_written.get() == 0 {
        assert!(std::time::Instant::now() < deadline, "no flush in 10 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(embedded_copy(dir.path())["alice"], 5);

    ledger.with_journal(Journal::break_writes);
    ledger.account("alice").reserve(2, None).unwrap().commit();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ledger.is_failing() {
        assert!(std::time::Instant::now() < deadline, "the failure not seen");
        std::thread::sleep(Duration::from_millis(2));
    }
    ledger.with_journal(Journal::mend_writes);
    ledger.account("alice").reserve(3, None).unwrap().commit();
    flusher.stop().unwrap();
    assert!(!ledger.is_failing());
    assert_eq!(
        *reports.lock().unwrap(),
        vec![true, false],
        "failed, then recovered"
    );
    assert!(metrics.ledger.flush_errors.get() >= 1);
    assert_eq!(embedded_copy(dir.path())["alice"], 10);
}

/// What a fresh open of the files would restore (a copy, so the live journal is untouched).
fn embedded_copy(dir: &Path) -> journal::Balances {
    let copy = tempfile::tempdir().unwrap();
    let from = dir.join("ledger");
    let to = copy.path().join("ledger");
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    embedded(copy.path()).balances()
}

mod property {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// One step a packet path (or a restart) can take.
    #[derive(Debug, Clone)]
    enum Step {
        /// An incoming Prepare from `peer`, then fulfilled (commit) or not (release).
        Incoming {
            peer: u8,
            amount: u64,
            fulfilled: bool,
        },
        /// A Prepare we sent to `peer` was fulfilled.
        Outgoing {
            peer: u8,
            amount: u64,
        },
        Flush,
        /// A graceful stop and a start from the files.
        Reopen,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..4, 0u64..1_000_000, any::<bool>()).prop_map(|(peer, amount, fulfilled)| {
                Step::Incoming {
                    peer,
                    amount,
                    fulfilled,
                }
            }),
            (0u8..4, 0u64..1_000_000).prop_map(|(peer, amount)| Step::Outgoing { peer, amount }),
            Just(Step::Flush),
            Just(Step::Reopen),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the order of packets, flushes and restarts, the embedded ledger holds what
        /// a plain sum of the fulfilled packets says, and nothing stays reserved.
        #[test]
        fn the_embedded_ledger_equals_the_sum_of_fulfilled_packets(steps in proptest::collection::vec(step(), 1..60)) {
            let dir = tempfile::tempdir().unwrap();
            let mut ledger = embedded(dir.path());
            let mut model: BTreeMap<String, i128> = BTreeMap::new();
            for step in steps {
                match step {
                    Step::Incoming { peer, amount, fulfilled } => {
                        let id = format!("p{peer}");
                        let reservation = ledger.account(&id).reserve(amount, None).unwrap();
                        if fulfilled {
                            reservation.commit();
                            *model.entry(id).or_default() += i128::from(amount);
                        } else {
                            drop(reservation);
                            model.entry(id).or_default();
                        }
                    }
                    Step::Outgoing { peer, amount } => {
                        let id = format!("p{peer}");
                        ledger.account(&id).outgoing_fulfilled(amount);
                        *model.entry(id).or_default() -= i128::from(amount);
                    }
                    Step::Flush => {
                        ledger.flush().unwrap();
                    }
                    Step::Reopen => {
                        ledger.flush().unwrap();
                        drop(ledger);
                        ledger = embedded(dir.path());
                    }
                }
            }
            ledger.flush().unwrap();
            drop(ledger);
            let restored = embedded(dir.path());
            let balances = restored.balances();
            for (id, expected) in &model {
                // An account that never moved need not be written.
                prop_assert_eq!(balances.get(id).copied().unwrap_or(0), *expected, "{}", id);
                prop_assert_eq!(restored.account(id).snapshot().pending_incoming, 0);
            }
        }
    }
}
