//! The TigerBeetle ledger (`LEDGER=tigerbeetle`, cargo feature `tigerbeetle`): every packet's
//! money as two-phase transfers in a TigerBeetle cluster that several data planes share.
//!
//! Accounts, all on the ledger of the peer's asset (see [`ledger_of`]):
//! - one **peer account** per (peer, asset), flagged `debits_must_not_exceed_credits`: what the
//!   peer owes us is its debits minus its credits, and TigerBeetle itself refuses a transfer
//!   that would take that past the credit line — so two data planes can never overdraw a peer
//!   together;
//! - one **credit-line account** per (peer, asset): the credit line is granted to the peer
//!   account by transfers from it, and its net debits are the line granted so far;
//! - one **liquidity account** per asset, through which every packet passes (as Rafiki models
//!   it), so a cross-asset hop needs no change of shape once rates exist, and a settlement
//!   account per peer and asset can be added beside these without moving a balance.
//!
//! Per Prepare, two linked **pending** transfers (sender → liquidity, liquidity → next hop)
//! whose timeout covers the packet's expiry; **posted** on a valid Fulfill before it is passed
//! back, **voided** on a Reject or a timeout. A crash leaves pending transfers only, which
//! TigerBeetle voids itself when they time out. Transfer ids are derived from the packet (the
//! node, the sender and the Prepare's bytes), so a retried post can never post twice.
//!
//! Requests are batched: every transfer queued while a request is out goes in the next one
//! (group commit), at most [`MAX_IN_FLIGHT`] requests at once, through a bounded queue. A full
//! queue is T03 (busy: try again), an unreachable cluster T00 — a packet is never forwarded
//! unaccounted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tigerbeetle_unofficial as tb;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{info, warn};

use super::TigerBeetleConfig;
use crate::balance::Balance;
use crate::metrics::LedgerMetrics;

use tb::account::Flags as AccountFlags;
use tb::error::{CreateTransferErrorKind, CreateTransfersError};
use tb::transfer::Flags as TransferFlags;

/// Requests out at once: enough to keep the cluster busy while the next batch fills, few
/// enough that a slow cluster makes batches bigger rather than queues longer.
pub const MAX_IN_FLIGHT: usize = 4;

/// Transfers waiting for a request; past this a packet is refused with T03.
const QUEUE: usize = 16_384;

/// The credit line of a peer without a credit limit: far beyond any u64 amount, so nothing a
/// packet can carry reaches it, and far below TigerBeetle's u128 overflow.
const UNLIMITED: u128 = 1 << 100;

/// Account codes: what an account is for (TigerBeetle requires a non-zero code).
const CODE_PEER: u16 = 1;
const CODE_LIQUIDITY: u16 = 2;
const CODE_CREDIT_LINE: u16 = 3;
/// Transfer codes.
const CODE_PACKET: u16 = 1;
const CODE_CREDIT_CHANGE: u16 = 3;

/// How often the cluster is probed (and balances read) off the packet path.
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// The TigerBeetle ledger of a (peer, asset): its `ledger` field. Stable across nodes and
/// versions (FNV-1a of `CODE/scale`), so every data plane of a node, and any tool, finds the
/// same accounts.
pub fn ledger_of(asset_code: &str, asset_scale: u8) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in format!("{asset_code}/{asset_scale}").bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash.max(1)
}

/// A stable account or transfer id from its parts; never 0 or `u128::MAX` (both reserved).
fn id_of(parts: &[&[u8]]) -> u128 {
    let mut hasher = Sha256::new();
    hasher.update(b"ilp-connector");
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(bytes).clamp(1, u128::MAX - 1)
}

/// The account ids of one peer on one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAccounts {
    pub ledger: u32,
    pub peer: u128,
    pub credit_line: u128,
    pub liquidity: u128,
}

impl PeerAccounts {
    pub fn new(node: &str, peer: &str, asset_code: &str, asset_scale: u8) -> PeerAccounts {
        let ledger = ledger_of(asset_code, asset_scale);
        let ledger_bytes = ledger.to_be_bytes();
        PeerAccounts {
            ledger,
            peer: id_of(&[b"peer", node.as_bytes(), peer.as_bytes(), &ledger_bytes]),
            credit_line: id_of(&[
                b"credit-line",
                node.as_bytes(),
                peer.as_bytes(),
                &ledger_bytes,
            ]),
            liquidity: id_of(&[b"liquidity", node.as_bytes(), &ledger_bytes]),
        }
    }
}

/// Why a hold was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldError {
    #[error("the sender's credit line is used up")]
    CreditExceeded,
    #[error("the ledger's queue is full")]
    Busy,
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
    #[error("the ledger refused the packet: {0}")]
    Refused(String),
}

/// One side of a packet.
#[derive(Debug, Clone, Copy)]
pub struct Leg {
    pub accounts: PeerAccounts,
    pub amount: u64,
}

/// A packet's pending transfers: posted or voided by [`TigerBeetle::finish`].
#[derive(Debug)]
pub struct Hold {
    base: u128,
    incoming: Leg,
    outgoing: Leg,
}

struct Request {
    transfers: Vec<tb::Transfer>,
    reply: oneshot::Sender<Result<Vec<Option<CreateTransferErrorKind>>, String>>,
}

pub struct TigerBeetle {
    node: String,
    client: Arc<tb::Client>,
    queue: mpsc::Sender<Request>,
    config: TigerBeetleConfig,
    healthy: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// Accounts known to exist with this credit line, by peer id.
    synced: Mutex<HashMap<String, (PeerAccounts, Option<u64>)>>,
    /// One account change at a time from this process (two data planes are kept apart by
    /// deterministic ids instead).
    syncing: tokio::sync::Mutex<()>,
    /// Transfers per request: `TIGERBEETLE_MAX_BATCH`, lowered if the cluster says a batch is
    /// too large (its request size is set when it is built, and not asked by clients).
    batch_limit: AtomicUsize,
    metrics: LedgerMetrics,
}

impl TigerBeetle {
    /// Connects (the client connects lazily; [`TigerBeetle::probe`] says whether it answers)
    /// and starts the batcher.
    pub fn connect(
        node: &str,
        config: &TigerBeetleConfig,
        metrics: LedgerMetrics,
    ) -> Result<Arc<TigerBeetle>, String> {
        let resolved = resolve(&config.addresses)?;
        let client = tb::Client::new(config.cluster_id, resolved.as_str())
            .map_err(|e| format!("TIGERBEETLE_ADDRESSES {:?}: {e}", config.addresses))?;
        if resolved != config.addresses {
            info!(addresses = %config.addresses, resolved = %resolved, "ledger_addresses_resolved");
        }
        let (queue, requests) = mpsc::channel(QUEUE);
        let ledger = Arc::new(TigerBeetle {
            node: node.to_string(),
            client: Arc::new(client),
            queue,
            config: config.clone(),
            healthy: AtomicBool::new(false),
            last_error: Mutex::new(Some("not reached yet".into())),
            synced: Mutex::default(),
            syncing: tokio::sync::Mutex::new(()),
            batch_limit: AtomicUsize::new(config.max_batch),
            metrics,
        });
        tokio::spawn(batch(ledger.clone(), requests));
        Ok(ledger)
    }

    pub fn config(&self) -> &TigerBeetleConfig {
        &self.config
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    pub fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    fn mark(&self, result: Result<(), &str>) {
        let healthy = result.is_ok();
        let was = self.healthy.swap(healthy, Ordering::AcqRel);
        self.metrics.healthy.set(i64::from(healthy));
        if let Err(error) = result {
            *lock(&self.last_error) = Some(error.to_string());
            if was {
                warn!(%error, "ledger_unreachable");
            }
        } else if !was {
            info!(addresses = %self.config.addresses, "ledger_reachable");
        }
    }

    /// Places the two pending transfers of a packet. The accounts are created (and the
    /// sender's credit line set) first if this process has not done so yet.
    pub async fn hold(
        &self,
        key: &[u8; 32],
        incoming: (Leg, &str, Option<u64>),
        outgoing: (Leg, &str, Option<u64>),
        expires_in: Duration,
    ) -> Result<Option<Hold>, HoldError> {
        if !self.is_healthy() {
            return Err(HoldError::Unavailable(
                self.last_error().unwrap_or_else(|| "unreachable".into()),
            ));
        }
        let (incoming, from, credit_limit) = incoming;
        let (outgoing, next, next_limit) = outgoing;
        self.ensure(from, incoming.accounts, credit_limit).await?;
        self.ensure(next, outgoing.accounts, next_limit).await?;
        if incoming.amount == 0 && outgoing.amount == 0 {
            return Ok(None); // moves no money
        }
        let base = id_of(&[b"packet", self.node.as_bytes(), key]) & !0b111;
        // Whole seconds, rounded down, plus two: the pending transfer outlives the packet.
        let timeout = u32::try_from(expires_in.as_secs() + 2).unwrap_or(u32::MAX);
        let legs = [
            (
                base,
                incoming.accounts.peer,
                incoming.accounts.liquidity,
                incoming,
            ),
            (
                base | 1,
                outgoing.accounts.liquidity,
                outgoing.accounts.peer,
                outgoing,
            ),
        ];
        let transfers: Vec<tb::Transfer> = legs
            .iter()
            .filter(|(_, _, _, leg)| leg.amount > 0)
            .map(|(id, debit, credit, leg)| {
                tb::Transfer::new(*id)
                    .with_debit_account_id(*debit)
                    .with_credit_account_id(*credit)
                    .with_amount(u128::from(leg.amount))
                    .with_ledger(leg.accounts.ledger)
                    .with_code(CODE_PACKET)
                    .with_flags(TransferFlags::PENDING)
                    .with_timeout(timeout)
            })
            .collect();
        let results = self.submit(link(transfers)).await?;
        let mut exceeded = false;
        let mut refused = None;
        for kind in results.iter().flatten() {
            match kind {
                CreateTransferErrorKind::ExceedsCredits => exceeded = true,
                // The same Prepare held before (a retry, or another data plane): its chain was
                // created whole, so the one hold serves both, and its post lands once.
                CreateTransferErrorKind::Exists | CreateTransferErrorKind::LinkedEventFailed => {}
                other => refused = Some(format!("{other:?}")),
            }
        }
        if exceeded {
            return Err(HoldError::CreditExceeded);
        }
        if let Some(reason) = refused {
            return Err(HoldError::Refused(reason));
        }
        self.metrics.packets_held.inc();
        Ok(Some(Hold {
            base,
            incoming,
            outgoing,
        }))
    }

    /// Posts (`fulfilled`) or voids a hold. A post is retried until it lands or the pending
    /// transfers expire, because the next hop has been paid whatever we record; a void that
    /// fails is left to TigerBeetle's own timeout.
    pub async fn finish(&self, hold: Hold, fulfilled: bool) {
        let (flag, offset) = if fulfilled {
            (TransferFlags::POST_PENDING_TRANSFER, 2)
        } else {
            (TransferFlags::VOID_PENDING_TRANSFER, 4)
        };
        let transfers: Vec<tb::Transfer> = [(0u128, hold.incoming), (1, hold.outgoing)]
            .iter()
            .filter(|(_, leg)| leg.amount > 0)
            .map(|(leg_index, leg)| {
                tb::Transfer::new(hold.base | (offset + leg_index))
                    .with_pending_id(hold.base | leg_index)
                    .with_amount(u128::from(leg.amount))
                    .with_ledger(leg.accounts.ledger)
                    .with_code(CODE_PACKET)
                    .with_flags(flag)
            })
            .collect();
        let transfers = link(transfers);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.submit(transfers.clone()).await {
                Ok(results) => {
                    let problem = results.iter().flatten().find(|kind| {
                        !matches!(
                            kind,
                            CreateTransferErrorKind::Exists
                                | CreateTransferErrorKind::LinkedEventFailed
                                | CreateTransferErrorKind::PendingTransferAlreadyPosted
                                | CreateTransferErrorKind::PendingTransferAlreadyVoided
                        )
                    });
                    if let Some(kind) = problem {
                        // Expired: TigerBeetle voided it; for a Fulfill, money we cannot record.
                        warn!(fulfilled, error = ?kind, "ledger_finish_refused");
                        self.metrics.finish_failures.inc();
                    }
                    break;
                }
                Err(error) if fulfilled && attempt < 20 => {
                    warn!(%error, attempt, "ledger_post_retry");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(error) => {
                    warn!(%error, fulfilled, "ledger_finish_failed");
                    self.metrics.finish_failures.inc();
                    break;
                }
            }
        }
        self.metrics.packets_held.dec();
    }

    /// Queues transfers for the next request and waits for their results (per transfer: its
    /// error, if any).
    async fn submit(
        &self,
        transfers: Vec<tb::Transfer>,
    ) -> Result<Vec<Option<CreateTransferErrorKind>>, HoldError> {
        let (reply, result) = oneshot::channel();
        self.queue
            .try_send(Request { transfers, reply })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => HoldError::Busy,
                mpsc::error::TrySendError::Closed(_) => {
                    HoldError::Unavailable("the batcher stopped".into())
                }
            })?;
        match result.await {
            Ok(Ok(results)) => Ok(results),
            Ok(Err(error)) => Err(HoldError::Unavailable(error)),
            Err(_) => Err(HoldError::Unavailable("the request was dropped".into())),
        }
    }

    /// Creates the peer's accounts and sets its credit line, once per change of either.
    async fn ensure(
        &self,
        peer: &str,
        accounts: PeerAccounts,
        credit_limit: Option<u64>,
    ) -> Result<(), HoldError> {
        let wanted = (accounts, credit_limit);
        let is_synced = |me: &TigerBeetle| lock(&me.synced).get(peer) == Some(&wanted);
        if is_synced(self) {
            return Ok(());
        }
        let _one_at_a_time = self.syncing.lock().await;
        if is_synced(self) {
            return Ok(());
        }
        let unavailable = |e: &dyn std::fmt::Display| HoldError::Unavailable(e.to_string());
        let node_tag = id_of(&[b"node", self.node.as_bytes()]);
        let peer_tag = u64::try_from(id_of(&[b"peer-id", peer.as_bytes()]) >> 64).unwrap_or(0);
        let account = |id: u128, code: u16| {
            tb::Account::new(id, accounts.ledger, code)
                .with_user_data_128(node_tag)
                .with_user_data_64(peer_tag)
        };
        let created = self
            .timed(self.client.create_accounts(vec![
                account(accounts.peer, CODE_PEER)
                    .with_flags(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS),
                account(accounts.credit_line, CODE_CREDIT_LINE),
                account(accounts.liquidity, CODE_LIQUIDITY).with_user_data_64(0),
            ]))
            .await
            .map_err(|e| unavailable(&e))?;
        if let Err(error) = created {
            // `exists` is the normal case after the first time; anything else is a clash.
            let clash = match &error {
                tb::error::CreateAccountsError::Api(api) => api
                    .as_slice()
                    .iter()
                    .find(|e| !matches!(e.kind(), tb::error::CreateAccountErrorKind::Exists))
                    .map(|e| format!("{:?}", e.kind())),
                other => Some(other.to_string()),
            };
            if let Some(clash) = clash {
                return Err(HoldError::Refused(format!("accounts of {peer}: {clash}")));
            }
        }
        self.set_credit_line(peer, &accounts, credit_limit).await?;
        lock(&self.synced).insert(peer.to_string(), wanted);
        Ok(())
    }

    /// Moves the credit line granted to the peer account to `credit_limit` (unlimited when
    /// none). The transfer's id names the step (from, to): two data planes making the same
    /// change make one transfer. Lowering it below what the peer owes takes as much as it can
    /// (a balancing debit); the peer then gets T04 until it owes less.
    async fn set_credit_line(
        &self,
        peer: &str,
        accounts: &PeerAccounts,
        credit_limit: Option<u64>,
    ) -> Result<(), HoldError> {
        let wanted = credit_limit.map(u128::from).unwrap_or(UNLIMITED);
        let looked_up = self
            .timed(self.client.lookup_accounts(vec![accounts.credit_line]))
            .await
            .map_err(HoldError::Unavailable)?
            .map_err(|e| HoldError::Unavailable(e.to_string()))?;
        let granted = looked_up
            .first()
            .map(|line| line.debits_posted().saturating_sub(line.credits_posted()))
            .unwrap_or(0);
        if granted == wanted {
            return Ok(());
        }
        let id = id_of(&[
            b"credit-line-change",
            self.node.as_bytes(),
            peer.as_bytes(),
            &granted.to_be_bytes(),
            &wanted.to_be_bytes(),
        ]);
        let transfer = if wanted > granted {
            tb::Transfer::new(id)
                .with_debit_account_id(accounts.credit_line)
                .with_credit_account_id(accounts.peer)
                .with_amount(wanted - granted)
        } else {
            tb::Transfer::new(id)
                .with_debit_account_id(accounts.peer)
                .with_credit_account_id(accounts.credit_line)
                .with_amount(granted - wanted)
                .with_flags(TransferFlags::BALANCING_DEBIT)
        }
        .with_ledger(accounts.ledger)
        .with_code(CODE_CREDIT_CHANGE);
        let results = self.submit(vec![transfer]).await?;
        match results.first().copied().flatten() {
            None | Some(CreateTransferErrorKind::Exists) => {
                info!(peer, granted = %granted, wanted = %wanted, "ledger_credit_line_set");
                Ok(())
            }
            Some(kind) => Err(HoldError::Refused(format!(
                "credit line of {peer}: {kind:?}"
            ))),
        }
    }

    /// Reads the peers' balances into their views, and says whether the cluster answered.
    pub async fn refresh(&self, views: &[(String, PeerAccounts, Arc<Balance>)]) {
        let mut ids: Vec<u128> = Vec::with_capacity(views.len() * 2 + 1);
        for (_, accounts, _) in views {
            ids.push(accounts.peer);
            ids.push(accounts.credit_line);
        }
        // Something to ask even with no peers: the probe is the lookup itself.
        ids.push(id_of(&[b"probe"]));
        let found = match self.timed(self.client.lookup_accounts(ids)).await {
            Ok(Ok(found)) => {
                self.mark(Ok(()));
                found
            }
            Ok(Err(error)) => {
                self.mark(Err(&error.to_string()));
                return;
            }
            Err(error) => {
                self.mark(Err(&error));
                return;
            }
        };
        let by_id: HashMap<u128, &tb::Account> = found.iter().map(|a| (a.id(), a)).collect();
        for (_, accounts, view) in views {
            let (Some(peer), Some(line)) =
                (by_id.get(&accounts.peer), by_id.get(&accounts.credit_line))
            else {
                continue;
            };
            let granted = signed(line.debits_posted()) - signed(line.credits_posted());
            let owed = signed(peer.debits_posted()) - signed(peer.credits_posted()) + granted;
            view.show(owed, signed(peer.debits_pending()));
        }
    }

    /// A cluster call with this ledger's timeout, timed into the request metric.
    async fn timed<T>(&self, call: impl std::future::Future<Output = T>) -> Result<T, String> {
        let started = Instant::now();
        let result = tokio::time::timeout(self.config.timeout, call).await;
        self.metrics
            .request_duration
            .observe(started.elapsed().as_secs_f64());
        result.map_err(|_| {
            format!(
                "no answer from {} within {:?}",
                self.config.addresses, self.config.timeout
            )
        })
    }
}

/// The replica addresses as TigerBeetle's client takes them: it reads IP addresses and ports
/// only, so host names (`tigerbeetle:3000`, a Compose service) are resolved here, once, at start.
fn resolve(addresses: &str) -> Result<String, String> {
    use std::net::{SocketAddr, ToSocketAddrs};
    let mut resolved = Vec::new();
    for entry in addresses.split(',').map(str::trim) {
        if entry.parse::<u16>().is_ok() || entry.parse::<SocketAddr>().is_ok() {
            resolved.push(entry.to_string());
            continue;
        }
        let mut found = entry
            .to_socket_addrs()
            .map_err(|e| format!("TIGERBEETLE_ADDRESSES: cannot resolve {entry:?}: {e}"))?;
        let address = found
            .find(SocketAddr::is_ipv4)
            .or_else(|| entry.to_socket_addrs().ok().and_then(|mut all| all.next()))
            .ok_or_else(|| format!("TIGERBEETLE_ADDRESSES: {entry:?} resolves to no address"))?;
        resolved.push(address.to_string());
    }
    Ok(resolved.join(","))
}

/// Links a chain so that all of it happens or none: every transfer but the last is `linked`.
fn link(mut transfers: Vec<tb::Transfer>) -> Vec<tb::Transfer> {
    let last = transfers.len().saturating_sub(1);
    for transfer in &mut transfers[..last] {
        let flags = transfer.flags() | TransferFlags::LINKED;
        transfer.set_flags(flags);
    }
    transfers
}

fn signed(value: u128) -> i128 {
    i128::try_from(value).unwrap_or(i128::MAX)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The batcher: takes every request queued since the last one went out (up to the cluster's
/// batch size, never splitting a request's linked chain) into one `create_transfers`.
async fn batch(ledger: Arc<TigerBeetle>, mut requests: mpsc::Receiver<Request>) {
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut carried: Option<Request> = None;
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let max = ledger.batch_limit.load(Ordering::Acquire);
        let first = match carried.take() {
            Some(request) => request,
            None => match requests.recv().await {
                Some(request) => request,
                None => return,
            },
        };
        let mut count = first.transfers.len();
        let mut batch = vec![first];
        while count < max {
            match requests.try_recv() {
                Ok(request) if count + request.transfers.len() <= max => {
                    count += request.transfers.len();
                    batch.push(request);
                }
                Ok(request) => {
                    carried = Some(request);
                    break;
                }
                Err(_) => break,
            }
        }
        let ledger = ledger.clone();
        tokio::spawn(async move {
            let _permit = permit;
            ledger.send_batch(batch, count).await;
        });
    }
}

impl TigerBeetle {
    fn send_batch(
        &self,
        batch: Vec<Request>,
        count: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.send_batch_once(batch, count))
    }

    async fn send_batch_once(&self, mut batch: Vec<Request>, count: usize) {
        self.metrics.requests.inc();
        self.metrics.transfers.inc_by(count as u64);
        let mut all = Vec::with_capacity(count);
        for request in &batch {
            all.extend_from_slice(&request.transfers);
        }
        let outcome = match self.timed(self.client.create_transfers(all)).await {
            Ok(Ok(())) => Ok(Vec::new()),
            Ok(Err(CreateTransfersError::Api(errors))) => Ok(errors
                .as_slice()
                .iter()
                .map(|e| (e.index() as usize, e.kind()))
                .collect()),
            Ok(Err(CreateTransfersError::Send(error)))
                if matches!(error.kind(), tb::error::SendErrorKind::TooMuchData)
                    && batch.len() > 1 =>
            {
                // Halve the limit and send both halves: no packet pays for the discovery.
                let lowered = (count / 2).max(2);
                if self.batch_limit.swap(lowered, Ordering::AcqRel) > lowered {
                    warn!(
                        transfers = count,
                        limit = lowered,
                        "ledger_batch_limit_lowered"
                    );
                }
                let second = batch.split_off(batch.len() / 2);
                let len = |part: &[Request]| part.iter().map(|r| r.transfers.len()).sum();
                let (first_len, second_len) = (len(&batch), len(&second));
                self.send_batch(batch, first_len).await;
                self.send_batch(second, second_len).await;
                return;
            }
            Ok(Err(error)) => Err(error.to_string()),
            Err(timeout) => Err(timeout),
        };
        match outcome {
            Ok(errors) => {
                self.mark(Ok(()));
                let mut offset = 0;
                let mut errors = errors.into_iter().peekable();
                for request in batch {
                    let len = request.transfers.len();
                    let mut results = vec![None; len];
                    while let Some((index, kind)) = errors.peek().copied() {
                        if index >= offset + len {
                            break;
                        }
                        if let Some(slot) =
                            index.checked_sub(offset).and_then(|i| results.get_mut(i))
                        {
                            *slot = Some(kind);
                        }
                        errors.next();
                    }
                    offset += len;
                    let _ = request.reply.send(Ok(results));
                }
            }
            Err(error) => {
                self.metrics.request_errors.inc();
                self.mark(Err(&error));
                for request in batch {
                    let _ = request.reply.send(Err(error.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_distinct_and_never_reserved() {
        let a = PeerAccounts::new("n1", "alice", "USD", 9);
        assert_eq!(a, PeerAccounts::new("n1", "alice", "USD", 9));
        assert_ne!(
            a.peer,
            PeerAccounts::new("n2", "alice", "USD", 9).peer,
            "per node"
        );
        assert_ne!(
            a.peer,
            PeerAccounts::new("n1", "alice", "USD", 6).peer,
            "per asset"
        );
        assert_ne!(a.peer, a.credit_line);
        assert_eq!(
            a.liquidity,
            PeerAccounts::new("n1", "bob", "USD", 9).liquidity,
            "one liquidity account per asset"
        );
        for id in [a.peer, a.credit_line, a.liquidity] {
            assert!(id != 0 && id != u128::MAX);
        }
        assert_eq!(ledger_of("USD", 9), ledger_of("USD", 9));
        assert_ne!(ledger_of("USD", 9), ledger_of("USD", 2));
        assert_ne!(ledger_of("USD", 9), 0);
    }

    #[test]
    fn host_names_are_resolved_and_addresses_kept() {
        assert_eq!(resolve("3000").unwrap(), "3000");
        assert_eq!(
            resolve("10.0.0.5:3000, 10.0.0.6:3001").unwrap(),
            "10.0.0.5:3000,10.0.0.6:3001"
        );
        assert_eq!(resolve("localhost:3002").unwrap(), "127.0.0.1:3002");
        let refused = resolve("no-such-host.invalid:3000").unwrap_err();
        assert!(refused.contains("cannot resolve"), "{refused}");
    }

    #[test]
    fn a_chain_is_linked_but_its_last_transfer() {
        let chain = link(vec![
            tb::Transfer::new(1),
            tb::Transfer::new(2),
            tb::Transfer::new(3),
        ]);
        let linked: Vec<bool> = chain
            .iter()
            .map(|t| t.flags().contains(TransferFlags::LINKED))
            .collect();
        assert_eq!(linked, [true, true, false]);
        assert!(link(Vec::new()).is_empty());
    }
}
