//! The embedded ledger's flusher: a thread of its own, so an `fdatasync` of a few milliseconds
//! never stalls one of the two runtime workers that forward packets.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{info, warn};

use super::Ledger;
use super::journal::JournalError;
use crate::metrics::LedgerMetrics;

/// Told about every change between healthy and failing: `None` when flushes succeed again,
/// the error when one fails.
pub type Report = Box<dyn Fn(Option<&JournalError>) + Send>;

pub struct Flusher {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Result<(), JournalError>>,
}

impl Flusher {
    /// Flushes `ledger` every `interval` until [`Flusher::stop`].
    pub fn spawn(
        ledger: Arc<Ledger>,
        interval: Duration,
        metrics: LedgerMetrics,
        report: Report,
    ) -> std::io::Result<Flusher> {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ledger-flusher".into())
            .spawn(move || {
                let mut failing = false;
                loop {
                    let last = match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => false,
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
                    };
                    let result = flush_once(&ledger, &metrics);
                    // Logged on a change only: a full disk would otherwise log 100 lines a second.
                    if failing != result.is_err() {
                        failing = result.is_err();
                        match &result {
                            Err(error) => warn!(%error, "ledger_flush_failed"),
                            Ok(()) => info!("ledger_flush_recovered"),
                        }
                        report(result.as_ref().err());
                    }
                    if last {
                        return result;
                    }
                }
            })?;
        Ok(Flusher { stop, thread })
    }

    /// Flushes one last time and stops; the error if that last flush failed.
    pub fn stop(self) -> Result<(), JournalError> {
        let _ = self.stop.send(());
        match self.thread.join() {
            Ok(result) => result,
            Err(_) => Err(JournalError::Io {
                path: "ledger-flusher".into(),
                source: std::io::Error::other("the flusher thread panicked"),
            }),
        }
    }
}

fn flush_once(ledger: &Ledger, metrics: &LedgerMetrics) -> Result<(), JournalError> {
    match ledger.flush() {
        Ok(None) => Ok(()),
        Ok(Some(flushed)) => {
            metrics.flush_duration.observe(flushed.took.as_secs_f64());
            metrics.accounts_written.inc_by(flushed.accounts as u64);
            if flushed.compacted {
                info!(accounts = ledger.balances().len(), "ledger_compacted");
            }
            metrics.healthy.set(1);
            Ok(())
        }
        Err(error) => {
            metrics.flush_errors.inc();
            metrics.healthy.set(0);
            Err(error)
        }
    }
}
