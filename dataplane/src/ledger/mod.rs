//! The ledger: one account per peer, held by id so a peer that is removed, re-keyed or re-added
//! finds what it owed, and — for the embedded kind — made durable in `DATA_DIR/ledger/`.
//!
//! The packet path never waits for the disk. Fulfilled packets move balances in memory (see
//! [`Balance`]) and raise one shared flag; a flusher thread wakes every flush interval, writes
//! the balances that moved as one journal batch and syncs it (group commit). A graceful stop
//! flushes last, so SIGTERM loses nothing; after `kill -9` what is lost is bounded by one
//! interval plus one sync. A reservation (a Prepare still in flight) is never written: after a
//! crash its packet was not fulfilled through us, and nothing is owed for it.
//!
//! When a flush fails (disk full, I/O error) the ledger is *failing*: new Prepares are refused
//! with T00 and readiness is false until a later flush succeeds, so no packet is forwarded
//! whose money could not be recorded.

pub mod flusher;
pub mod journal;
#[cfg(feature = "tigerbeetle")]
pub mod tigerbeetle;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::balance::Balance;
use journal::{Balances, Journal, JournalError, Recovered};

/// Which ledger keeps the balances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerConfig {
    /// Balances in memory only: a restart starts every peer at zero. For measuring and for
    /// nodes whose balances live elsewhere.
    Memory,
    /// Balances in memory, journaled to `DATA_DIR/ledger/` every `flush_interval`.
    Embedded { flush_interval: Duration },
    /// Every packet as two-phase transfers in a TigerBeetle cluster (feature `tigerbeetle`).
    TigerBeetle(TigerBeetleConfig),
}

/// Where the TigerBeetle cluster is and how the data plane talks to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TigerBeetleConfig {
    /// `TIGERBEETLE_CLUSTER_ID` (default 0).
    pub cluster_id: u128,
    /// `TIGERBEETLE_ADDRESSES`: every replica, comma-separated (`3000`, `10.0.0.5:3000,…`).
    pub addresses: String,
    /// `TIGERBEETLE_TIMEOUT_MS` (default 2000): a request not answered in this is an outage.
    pub timeout: Duration,
    /// `TIGERBEETLE_MAX_BATCH` (default 8189, a production replica's most): transfers per
    /// request. A smaller cluster limit (a `--development` replica takes 32 KiB requests, about
    /// 250 transfers) is found at the first batch it refuses, and kept.
    pub max_batch: usize,
}

pub const DEFAULT_TIGERBEETLE_TIMEOUT: Duration = Duration::from_millis(2000);
pub const DEFAULT_TIGERBEETLE_MAX_BATCH: usize = 8189;

/// Why the configured ledger could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("LEDGER=tigerbeetle: {0}")]
    TigerBeetle(String),
}

/// 10 ms: one `fdatasync` per interval is ~0.1–0.5 % of a core on the disks measured here,
/// and 10 ms of fulfilled packets is the most a `kill -9` can lose.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(10);

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig::Embedded {
            flush_interval: DEFAULT_FLUSH_INTERVAL,
        }
    }
}

impl LedgerConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            LedgerConfig::Memory => "memory",
            LedgerConfig::Embedded { .. } => "embedded",
            LedgerConfig::TigerBeetle(_) => "tigerbeetle",
        }
    }
}

/// What one flush wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    pub accounts: usize,
    pub bytes: usize,
    pub took: Duration,
    pub compacted: bool,
}

pub struct Ledger {
    config: LedgerConfig,
    accounts: Mutex<HashMap<Arc<str>, Arc<Balance>>>,
    /// Raised by any account whose balance moved; lowered by the flusher when it looks.
    changed: Arc<AtomicBool>,
    /// The embedded kind's files, and the balances they hold.
    store: Option<Mutex<Store>>,
    failing: AtomicBool,
    #[cfg(feature = "tigerbeetle")]
    tigerbeetle: Option<Arc<tigerbeetle::TigerBeetle>>,
}

struct Store {
    dir: PathBuf,
    journal: Journal,
    written: Balances,
}

impl Ledger {
    pub fn in_memory() -> Ledger {
        Ledger {
            config: LedgerConfig::Memory,
            accounts: Mutex::default(),
            changed: Arc::default(),
            store: None,
            failing: AtomicBool::new(false),
            #[cfg(feature = "tigerbeetle")]
            tigerbeetle: None,
        }
    }

    /// Opens the configured ledger: for the embedded kind, restores every balance from
    /// `data_dir/ledger/`; for TigerBeetle, starts its client (inside a Tokio runtime).
    pub fn open(
        config: &LedgerConfig,
        data_dir: &Path,
        node_id: &str,
        metrics: &crate::metrics::LedgerMetrics,
    ) -> Result<(Ledger, Recovered), OpenError> {
        match config {
            LedgerConfig::Memory => Ok((Ledger::in_memory(), Recovered::default())),
            LedgerConfig::Embedded { .. } => Ok(Ledger::open_embedded(config, data_dir)?),
            LedgerConfig::TigerBeetle(settings) => {
                Ledger::open_tigerbeetle(config, settings, node_id, metrics)
            }
        }
    }

    #[cfg(feature = "tigerbeetle")]
    fn open_tigerbeetle(
        config: &LedgerConfig,
        settings: &TigerBeetleConfig,
        node_id: &str,
        metrics: &crate::metrics::LedgerMetrics,
    ) -> Result<(Ledger, Recovered), OpenError> {
        let client = tigerbeetle::TigerBeetle::connect(node_id, settings, metrics.clone())
            .map_err(OpenError::TigerBeetle)?;
        let ledger = Ledger {
            config: config.clone(),
            tigerbeetle: Some(client),
            ..Ledger::in_memory()
        };
        Ok((ledger, Recovered::default()))
    }

    #[cfg(not(feature = "tigerbeetle"))]
    fn open_tigerbeetle(
        _: &LedgerConfig,
        _: &TigerBeetleConfig,
        _: &str,
        _: &crate::metrics::LedgerMetrics,
    ) -> Result<(Ledger, Recovered), OpenError> {
        Err(OpenError::TigerBeetle(
            "this data plane was built without TigerBeetle (cargo build --features dataplane/tigerbeetle; the images have it)".into(),
        ))
    }

    /// The embedded ledger, every balance restored from `data_dir/ledger/`.
    pub fn open_embedded(
        config: &LedgerConfig,
        data_dir: &Path,
    ) -> Result<(Ledger, Recovered), JournalError> {
        let dir = data_dir.join("ledger");
        let (journal, recovered) = Journal::open(&dir)?;
        let changed: Arc<AtomicBool> = Arc::default();
        let accounts = recovered
            .balances
            .iter()
            .map(|(id, balance)| {
                let account = Arc::new(Balance::new(*balance, changed.clone()));
                (Arc::from(id.as_str()), account)
            })
            .collect();
        let ledger = Ledger {
            config: config.clone(),
            accounts: Mutex::new(accounts),
            changed,
            store: Some(Mutex::new(Store {
                dir,
                journal,
                written: recovered.balances.clone(),
            })),
            failing: AtomicBool::new(false),
            #[cfg(feature = "tigerbeetle")]
            tigerbeetle: None,
        };
        Ok((ledger, recovered))
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    /// Where the embedded ledger keeps its files.
    pub fn dir(&self) -> Option<PathBuf> {
        self.store.as_ref().map(|store| lock(store).dir.clone())
    }

    /// The account of peer `id`, created at zero the first time.
    pub fn account(&self, id: &str) -> Arc<Balance> {
        let mut accounts = lock(&self.accounts);
        if let Some(account) = accounts.get(id) {
            return account.clone();
        }
        let account = Arc::new(Balance::new(0, self.changed.clone()));
        accounts.insert(Arc::from(id), account.clone());
        account
    }

    /// Every account's balance, including peers no longer configured: what they owe is not
    /// forgotten when they leave the table.
    pub fn balances(&self) -> Balances {
        lock(&self.accounts)
            .iter()
            .map(|(id, account)| (id.to_string(), account.snapshot().balance))
            .collect()
    }

    /// True while the last flush failed (or TigerBeetle does not answer): the packet path
    /// refuses new Prepares.
    pub fn is_failing(&self) -> bool {
        #[cfg(feature = "tigerbeetle")]
        if let Some(tigerbeetle) = &self.tigerbeetle {
            return !tigerbeetle.is_healthy();
        }
        self.failing.load(Ordering::Acquire)
    }

    /// The TigerBeetle client, when that is the ledger: the packet path holds and posts
    /// through it instead of reserving here.
    #[cfg(feature = "tigerbeetle")]
    pub fn tigerbeetle(&self) -> Option<&Arc<tigerbeetle::TigerBeetle>> {
        self.tigerbeetle.as_ref()
    }

    /// What `/health` shows of the ledger.
    pub fn health(&self) -> serde_json::Value {
        let mut health = serde_json::json!({
            "kind": self.config.kind(),
            "state": if self.is_failing() { "failing" } else { "ok" },
            "accounts": self.balances().len(),
        });
        match &self.config {
            LedgerConfig::Memory => {}
            LedgerConfig::Embedded { flush_interval } => {
                health["directory"] = self.dir().map(|d| d.display().to_string()).into();
                health["flushIntervalMs"] = (flush_interval.as_millis() as u64).into();
            }
            LedgerConfig::TigerBeetle(settings) => {
                health["addresses"] = settings.addresses.clone().into();
                health["clusterId"] = settings.cluster_id.to_string().into();
                #[cfg(feature = "tigerbeetle")]
                if let Some(tigerbeetle) = &self.tigerbeetle {
                    health["lastError"] = tigerbeetle.last_error().into();
                }
            }
        }
        health
    }

    /// True when balances move here (memory, embedded); false when a shared ledger keeps them
    /// and the accounts here are only views.
    pub fn is_local(&self) -> bool {
        !matches!(self.config, LedgerConfig::TigerBeetle(_))
    }

    /// Writes the balances that moved since the last flush as one synced journal batch.
    /// `Ok(None)` when nothing moved (or the ledger is in memory).
    pub fn flush(&self) -> Result<Option<Flushed>, JournalError> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        if !self.changed.swap(false, Ordering::AcqRel) {
            return Ok(None);
        }
        let started = Instant::now();
        let mut store = lock(store);
        let current = self.balances();
        let changes: Balances = current
            .iter()
            .filter(|(id, balance)| store.written.get(*id) != Some(*balance))
            .map(|(id, balance)| (id.clone(), *balance))
            .collect();
        if changes.is_empty() {
            self.failing.store(false, Ordering::Release);
            return Ok(None);
        }
        let written = match store.journal.append(&changes) {
            Ok(bytes) => bytes,
            Err(error) => {
                // Looked at again next time: the flag is what makes a retry happen.
                self.changed.store(true, Ordering::Release);
                self.failing.store(true, Ordering::Release);
                return Err(error);
            }
        };
        store
            .written
            .extend(changes.iter().map(|(k, v)| (k.clone(), *v)));
        let mut compacted = false;
        if store.journal.needs_compaction() {
            let all = store.written.clone();
            // A failed compaction loses nothing: the journal still holds every batch.
            compacted = store.journal.compact(&all).is_ok();
        }
        self.failing.store(false, Ordering::Release);
        Ok(Some(Flushed {
            accounts: changes.len(),
            bytes: written,
            took: started.elapsed(),
            compacted,
        }))
    }
}

#[cfg(test)]
impl Ledger {
    pub(crate) fn with_journal(&self, change: impl FnOnce(&mut Journal)) {
        let store = self.store.as_ref().expect("an embedded ledger");
        change(&mut lock(store).journal);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the value consistent; a panic elsewhere does not taint it.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
