//! The packet path's two extra stages when a shared ledger (TigerBeetle) keeps the money:
//! hold the packet's amounts as pending transfers before it is sent, and post them when a
//! valid Fulfill comes back (before it is passed on) or void them otherwise.

use std::sync::Arc;

use bytes::Bytes;
use proto::ErrorCode;
use sha2::{Digest, Sha256};
use tracing::debug;

use super::{Answer, Outgoing, Pending};
use crate::ledger::tigerbeetle::{Hold, HoldError, Leg, PeerAccounts, TigerBeetle};
use crate::node::Node;
use crate::peer::Peer;

/// What identifies a packet to the ledger: the sender and the Prepare's bytes exactly as they
/// arrived, so the same Prepare always makes the same transfer ids.
pub(super) fn packet_key(from: &str, raw: &Bytes) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((from.len() as u64).to_be_bytes());
    hasher.update(from.as_bytes());
    hasher.update(raw);
    hasher.finalize().into()
}

impl Node {
    /// Places the pending transfers; T04 past the sender's credit line, T03 when the ledger's
    /// queue is full, T00 when it cannot be reached.
    pub(super) async fn hold_shared(
        &self,
        ledger: &Arc<TigerBeetle>,
        from: &Peer,
        key: &[u8; 32],
        pending: &Pending,
        outgoing: &Outgoing,
    ) -> Result<Option<Hold>, Answer> {
        let (incoming, credit_limit) = {
            let settings = from.settings();
            let accounts = PeerAccounts::new(
                &self.node_id,
                &from.id,
                &settings.asset_code,
                settings.asset_scale,
            );
            let leg = Leg {
                accounts,
                amount: pending.incoming_amount,
            };
            (leg, settings.credit_limit)
        };
        let (out, next_limit) = {
            let settings = pending.next.settings();
            let accounts = PeerAccounts::new(
                &self.node_id,
                &pending.next.id,
                &settings.asset_code,
                settings.asset_scale,
            );
            let leg = Leg {
                accounts,
                amount: pending.outgoing_amount,
            };
            (leg, settings.credit_limit)
        };
        let expires_in = outgoing
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        ledger
            .hold(
                key,
                (incoming, &from.id, credit_limit),
                (out, &pending.next.id, next_limit),
                expires_in,
            )
            .await
            .map_err(|error| {
                debug!(peer = %from.id, %error, "ledger_hold_refused");
                let (code, message) = match &error {
                    HoldError::CreditExceeded => (
                        ErrorCode::T04_INSUFFICIENT_LIQUIDITY,
                        "sender has exceeded its credit limit".to_string(),
                    ),
                    HoldError::Busy => (
                        ErrorCode::T03_CONNECTOR_BUSY,
                        "the ledger is busy; try again".to_string(),
                    ),
                    HoldError::Unavailable(_) | HoldError::Refused(_) => {
                        (ErrorCode::T00_INTERNAL_ERROR, error.to_string())
                    }
                };
                self.reject(code, &message, &[])
            })
    }
}

/// Posts a fulfilled packet's hold before its Fulfill goes back; voids any other off the
/// packet path (TigerBeetle would void it at its timeout anyway).
pub(super) async fn finish(ledger: Arc<TigerBeetle>, hold: Hold, answer: &Answer) {
    if answer.code.is_none() {
        ledger.finish(hold, true).await;
    } else {
        tokio::spawn(async move { ledger.finish(hold, false).await });
    }
}
