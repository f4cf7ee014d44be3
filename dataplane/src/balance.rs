//! Per-peer balances, exact in i128.
//!
//! The balance is what the peer owes us: it grows when we forward one of its Prepares and that
//! Prepare is fulfilled, and shrinks when a Prepare we sent to it is fulfilled. Its credit limit
//! bounds what it may owe, counting Prepares still in flight, so a burst of concurrent Prepares
//! cannot overshoot the limit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BalanceSnapshot {
    /// What the peer owes us from fulfilled packets (negative: what we owe it).
    pub balance: i128,
    /// Amounts of the peer's Prepares we are still forwarding.
    pub pending_incoming: i128,
}

#[derive(Debug, Default)]
pub struct Balance {
    state: Mutex<BalanceSnapshot>,
    /// Shared with the ledger (and every other account): set when a fulfilled packet moves
    /// this balance, so the flusher knows there is something to write without scanning.
    changed: Arc<AtomicBool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount {amount} would take the balance to {would_be}, above the credit limit {limit}")]
pub struct CreditExceeded {
    pub amount: u64,
    pub would_be: i128,
    pub limit: u64,
}

impl Balance {
    /// An account starting at `balance` (restored from the ledger), reporting changes to
    /// `changed`.
    pub fn new(balance: i128, changed: Arc<AtomicBool>) -> Balance {
        Balance {
            state: Mutex::new(BalanceSnapshot {
                balance,
                pending_incoming: 0,
            }),
            changed,
        }
    }

    pub fn snapshot(&self) -> BalanceSnapshot {
        *self.lock()
    }

    /// Holds `amount` against the credit limit until the Prepare is settled one way or the
    /// other. Dropping the reservation without committing rolls it back.
    pub fn reserve(
        self: &Arc<Self>,
        amount: u64,
        credit_limit: Option<u64>,
    ) -> Result<Reservation, CreditExceeded> {
        let mut state = self.lock();
        let would_be = state.balance + state.pending_incoming + i128::from(amount);
        if let Some(limit) = credit_limit
            && would_be > i128::from(limit)
        {
            return Err(CreditExceeded {
                amount,
                would_be,
                limit,
            });
        }
        state.pending_incoming += i128::from(amount);
        Ok(Reservation {
            balance: Some(self.clone()),
            amount,
        })
    }

    /// Shows what a shared ledger (TigerBeetle) holds for this peer: there, not here, is where
    /// its money moves, and this account is only the view `/health` and the reports read.
    pub fn show(&self, balance: i128, pending_incoming: i128) {
        *self.lock() = BalanceSnapshot {
            balance,
            pending_incoming,
        };
    }

    /// A Prepare we sent to this peer was fulfilled: we owe it `amount` more.
    pub fn outgoing_fulfilled(&self, amount: u64) -> i128 {
        let balance = {
            let mut state = self.lock();
            state.balance -= i128::from(amount);
            state.balance
        };
        self.mark_changed();
        balance
    }

    /// Release after the lock is let go: a flusher that sees the flag (Acquire) also sees
    /// the new balance. The load first keeps the shared flag's cache line read-mostly.
    fn mark_changed(&self) {
        if !self.changed.load(Ordering::Acquire) {
            self.changed.store(true, Ordering::Release);
        }
    }

    fn lock(&self) -> MutexGuard<'_, BalanceSnapshot> {
        // Updates are single additions; a poisoned lock still holds a consistent value.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An incoming Prepare's amount held against its sender's credit limit.
#[derive(Debug)]
pub struct Reservation {
    balance: Option<Arc<Balance>>,
    amount: u64,
}

impl Reservation {
    /// The Prepare was fulfilled: the sender owes us its amount. Returns the new balance.
    pub fn commit(mut self) -> i128 {
        match self.balance.take() {
            Some(balance) => {
                let owed = {
                    let mut state = balance.lock();
                    state.pending_incoming -= i128::from(self.amount);
                    state.balance += i128::from(self.amount);
                    state.balance
                };
                balance.mark_changed();
                owed
            }
            None => 0,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(balance) = self.balance.take() {
            balance.lock().pending_incoming -= i128::from(self.amount);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_against_the_limit_until_settled() {
        let balance = Arc::new(Balance::default());
        let first = balance.reserve(600, Some(1000)).unwrap();
        let refused = balance.reserve(500, Some(1000)).unwrap_err();
        assert_eq!(refused.would_be, 1100);
        drop(first); // rejected downstream: rolled back
        assert_eq!(balance.snapshot(), BalanceSnapshot::default());
        let second = balance.reserve(1000, Some(1000)).unwrap();
        assert_eq!(second.commit(), 1000);
        assert!(
            balance.reserve(1, Some(1000)).is_err(),
            "limit is inclusive of what is owed"
        );
        assert_eq!(balance.outgoing_fulfilled(300), 700);
        assert!(balance.reserve(300, Some(1000)).is_ok());
    }

    #[test]
    fn only_moved_balances_raise_the_changed_flag() {
        let changed = Arc::new(AtomicBool::new(false));
        let balance = Arc::new(Balance::new(-7, changed.clone()));
        assert_eq!(balance.snapshot().balance, -7);
        drop(balance.reserve(5, None).unwrap());
        assert!(
            !changed.load(Ordering::Acquire),
            "a released reservation moves nothing"
        );
        balance.reserve(5, None).unwrap().commit();
        assert!(changed.swap(false, Ordering::AcqRel));
        balance.outgoing_fulfilled(1);
        assert!(changed.load(Ordering::Acquire));
        assert_eq!(balance.snapshot().balance, -3);
    }

    #[test]
    fn no_limit_and_exact_large_amounts() {
        let balance = Arc::new(Balance::default());
        for _ in 0..4 {
            balance.reserve(u64::MAX, None).unwrap().commit();
        }
        assert_eq!(balance.snapshot().balance, 4 * i128::from(u64::MAX));
        assert_eq!(balance.snapshot().pending_incoming, 0);
    }
}
