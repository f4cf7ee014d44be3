//! The RFC 27 forwarding pipeline: what happens to one Prepare from the moment a peer sends it
//! until we answer it.
//!
//! Order of checks (each failure answers with our own Reject, `triggeredBy` = our address):
//! draining → T03; no ILP address yet (awaiting the parent's ILDCP answer) → T00, with an empty
//! `triggeredBy` since we have no address to put there; undecodable → F01; already expired → R00 (we read an expired Prepare as a
//! transfer that timed out, as interledger-rs does; JS answers R02); above the sender's max
//! packet amount → F08 with its 16-byte data; `peer.config` from a child → its ILDCP answer
//! (RFC 31: its configured `ilpAddress`, else ours then its id), from anyone else → F00; other `peer.*` → F02; no route → F02; next hop not
//! connected → T01; amount conversion; expiry shortened (and capped) with too little left → R02;
//! sender past its credit limit → T04. Then the Prepare goes out with its amount and expiry
//! rewritten, and we wait at most until the new expiry (→ R00). A Fulfill is checked against
//! the condition (→ F05 if wrong) before it is passed on unchanged and balances move; a Reject
//! from downstream is relayed unchanged.
//!
//! In code, three stages in that order: `admit` (every check, then the rewritten Prepare and a
//! credit reservation), `send` (to the next hop, until the new expiry), and `settle` (the
//! answer, the reservation committed or released). Each check is a small function of its own.

use std::sync::Arc;
use std::time::Duration;

use btp_link::{IncomingHandler, Link, LinkError, Violation};
use bytes::Bytes;
use proto::Timestamp;
use proto::ildcp::IldcpResponse;
use proto::ilp::{
    AmountTooLarge, ErrorCode, Fulfill, FulfillBuilder, PEER_PROTOCOL_CONDITION,
    PEER_PROTOCOL_FULFILLMENT, Prepare, Reject, RejectBuilder, TYPE_FULFILL, TYPE_REJECT,
    fulfillment_matches,
};
use service_runtime::telemetry;
use tracing::field::Empty;
use tracing::{Instrument, Span, debug, warn};

use crate::balance::Reservation;
use crate::config::PeerConfig;
use crate::node::Node;
use crate::peer::Peer;

/// The answer to one Prepare and, for metrics, what kind it is.
pub struct Answer {
    pub bytes: Bytes,
    /// `None` for a Fulfill.
    pub code: Option<ErrorCode>,
}

/// An admitted Prepare on its way out: the link to send it on, its bytes (amount and expiry
/// rewritten) and when to stop waiting for the answer.
struct Outgoing {
    link: Arc<Link>,
    prepare: Bytes,
    deadline: tokio::time::Instant,
}

/// What settling the next hop's answer needs, held across the wait.
struct Pending {
    next: Arc<Peer>,
    /// In the sender's units; what a shared ledger holds (local ledgers hold it in
    /// `reservation`).
    #[cfg_attr(not(feature = "tigerbeetle"), allow(dead_code))]
    incoming_amount: u64,
    /// In the next hop's units.
    outgoing_amount: u64,
    condition: [u8; 32],
    /// The sender's amount held against its credit limit: committed on a valid Fulfill,
    /// released (dropped) otherwise. `None` when balances are not kept.
    reservation: Option<Reservation>,
}

impl Node {
    /// Handles one Prepare from `from`, counting it in metrics and in-flight. `traceparent` is
    /// the trace context the previous hop sent, if any.
    pub async fn handle_incoming(
        &self,
        from: &Peer,
        raw: Bytes,
        traceparent: Option<Bytes>,
    ) -> Bytes {
        let started = std::time::Instant::now();
        from.metrics.incoming_prepares.inc();
        // With traces off no span is built at all: `Span::none()` costs a branch.
        let span = if telemetry::traces_enabled() {
            let span = tracing::info_span!(
                "ilp.forward",
                otel.kind = "server",
                ilp.from = %from.id,
                ilp.destination_prefix = Empty,
                ilp.next_hop = Empty,
                ilp.amount = Empty,
                ilp.result = Empty,
                ilp.downstream_wait_ms = Empty,
            );
            if let Some(traceparent) = &traceparent {
                telemetry::set_remote_parent(&span, traceparent);
            }
            span
        } else {
            Span::none()
        };
        let answer = {
            let _in_flight = self.track_in_flight();
            if span.is_none() {
                self.forward(from, raw, started, &span).await
            } else {
                self.forward(from, raw, started, &span)
                    .instrument(span.clone())
                    .await
            }
        };
        let elapsed = started.elapsed().as_secs_f64();
        match answer.code {
            None => {
                from.metrics.incoming_fulfills.inc();
                self.metrics.fulfilled_duration.observe(elapsed);
                span.record("ilp.result", "fulfilled");
            }
            Some(code) => {
                self.metrics
                    .reject(&from.metrics, "incoming", code.as_str());
                self.metrics.rejected_duration.observe(elapsed);
                span.record("ilp.result", code.as_str());
            }
        }
        answer.bytes
    }

    /// The pipeline in RFC 27 order: admit, send to the next hop, settle its answer.
    /// `received`: when the Prepare arrived.
    async fn forward(
        &self,
        from: &Peer,
        raw: Bytes,
        received: std::time::Instant,
        trace: &Span,
    ) -> Answer {
        #[cfg(feature = "tigerbeetle")]
        let shared = self
            .ledger
            .tigerbeetle()
            .map(|ledger| (ledger.clone(), shared_ledger::packet_key(&from.id, &raw)));
        let (outgoing, pending) = match self.admit(from, raw, received, trace) {
            Ok(admitted) => admitted,
            Err(reject) => return reject,
        };
        #[cfg(feature = "tigerbeetle")]
        let hold = match &shared {
            Some((ledger, key)) => {
                match self
                    .hold_shared(ledger, from, key, &pending, &outgoing)
                    .await
                {
                    Ok(hold) => hold,
                    Err(reject) => return reject,
                }
            }
            None => None,
        };
        let reply = send(&pending.next, outgoing, trace).await;
        let answer = self.settle(from, pending, reply);
        #[cfg(feature = "tigerbeetle")]
        if let (Some((ledger, _)), Some(hold)) = (shared, hold) {
            shared_ledger::finish(ledger, hold, &answer).await;
        }
        answer
    }

    /// Every check a Prepare must pass before it goes on, in order; the first that fails is our
    /// Reject. A Prepare that passes has its amount and expiry rewritten and its amount reserved
    /// against the sender's credit limit.
    fn admit(
        &self,
        from: &Peer,
        raw: Bytes,
        received: std::time::Instant,
        trace: &Span,
    ) -> Result<(Outgoing, Pending), Answer> {
        // One atomic load covers both reasons to refuse everything; which one is read only then.
        if self.blocked() != 0 {
            return Err(self.refuse_all());
        }
        let mut prepare = self.decode(from, raw)?;
        let now = Timestamp::now();
        if prepare.expires_at() <= now {
            return Err(self.reject(
                ErrorCode::R00_TRANSFER_TIMED_OUT,
                "packet had already expired when it arrived",
                &[],
            ));
        }
        let amount = prepare.amount();
        // Guards from `arc_swap` are cheap only while few are alive per thread: every one here
        // is dropped before the first await, and what outlives it is an owned `Arc`.
        let from_settings = from.settings();
        self.check_max_amount(amount, &from_settings)?;
        // One scheme test per packet, as before ILDCP: only `peer.*` pays for the rest.
        if prepare.destination().scheme() == "peer" {
            return Err(self.peer_protocol(from, &from_settings, &prepare));
        }
        let (next, link) = self.next_hop(&prepare, trace)?;
        let outgoing_amount = convert_amount(amount, &from_settings, &next.settings())
            .map_err(|(code, message)| self.reject(code, &message, &[]))?;
        let Some(outgoing_expiry) = self.outgoing_expiry(prepare.expires_at(), now) else {
            return Err(self.reject(
                ErrorCode::R02_INSUFFICIENT_TIMEOUT,
                "too little time left before expiry to forward",
                &[],
            ));
        };
        let reservation = self.reserve_credit(from, amount, from_settings.credit_limit)?;
        drop(from_settings);
        let condition = *prepare.execution_condition();
        // One copy of the packet: the only two fields a connector may change, in place.
        prepare.set_amount_and_expires_at(outgoing_amount, outgoing_expiry);
        // Only the bytes go on; a `Prepare` kept in scope would be stored across the wait in
        // every in-flight request's future.
        let outgoing = prepare.encode();
        drop(prepare);
        let wait = Duration::from_millis(
            u64::try_from(outgoing_expiry.unix_ms() - now.unix_ms()).unwrap_or(0),
        );
        // `received` is microseconds old: the deadline is that much early, and a clock read saved.
        let deadline = tokio::time::Instant::from_std(received) + wait;
        Ok((
            Outgoing {
                link,
                prepare: outgoing,
                deadline,
            },
            Pending {
                next,
                incoming_amount: amount,
                outgoing_amount,
                condition,
                reservation,
            },
        ))
    }

    /// Why nothing is admitted now: shutting down (T03), or no address yet (T00: a temporary
    /// failure of this connector, so the sender may retry; not T01, which would blame the next
    /// hop, nor T03, which says we are loaded).
    #[cold]
    fn refuse_all(&self) -> Answer {
        if self.is_draining() {
            return self.reject(
                ErrorCode::T03_CONNECTOR_BUSY,
                "connector is shutting down",
                &[],
            );
        }
        self.reject(
            ErrorCode::T00_INTERNAL_ERROR,
            "connector has no ILP address yet: waiting for its parent's ILDCP answer",
            &[],
        )
    }

    /// The Prepare, or F01 (counted as the sender's protocol violation).
    fn decode(&self, from: &Peer, raw: Bytes) -> Result<Prepare, Answer> {
        Prepare::decode(raw).map_err(|error| {
            warn!(peer = %from.id, error = %error, "invalid_prepare");
            self.metrics
                .violations
                .with_label_values(&[&from.id, "invalid_prepare"])
                .inc();
            self.reject(
                ErrorCode::F01_INVALID_PACKET,
                &format!("invalid packet: {error}"),
                &[],
            )
        })
    }

    /// F08, with the 16-byte data saying what was received and what is allowed.
    fn check_max_amount(&self, amount: u64, from: &PeerConfig) -> Result<(), Answer> {
        if let Some(maximum) = from.max_packet_amount
            && amount > maximum
        {
            let data = AmountTooLarge {
                received_amount: amount,
                maximum_amount: maximum,
            }
            .encode();
            return Err(self.reject(
                ErrorCode::F08_AMOUNT_TOO_LARGE,
                &format!("amount {amount} exceeds the maximum packet amount {maximum}"),
                &data,
            ));
        }
        Ok(())
    }

    /// A link-local `peer.*` request: ILDCP is answered here; every other one is F02.
    fn peer_protocol(&self, from: &Peer, settings: &PeerConfig, prepare: &Prepare) -> Answer {
        if prepare.destination().as_str() == proto::ildcp::DESTINATION {
            return self.ildcp(from, settings, prepare);
        }
        self.reject(
            ErrorCode::F02_UNREACHABLE,
            "peer.* addresses are link-local and not served here",
            &[],
        )
    }

    /// ILDCP (RFC 31): a child asking `peer.config` is told its address (its configured
    /// `ilpAddress`, else ours then its id), and its asset; anyone else, or a request whose
    /// condition our zero fulfillment cannot meet, gets F00 saying why.
    fn ildcp(&self, from: &Peer, settings: &PeerConfig, prepare: &Prepare) -> Answer {
        if settings.relation != crate::config::Relation::Child {
            return self.reject(
                ErrorCode::F00_BAD_REQUEST,
                &format!(
                    "peer.config is answered for children only; {} is a {}",
                    from.id,
                    settings.relation.as_str()
                ),
                &[],
            );
        }
        if *prepare.execution_condition() != PEER_PROTOCOL_CONDITION {
            return self.reject(
                ErrorCode::F00_BAD_REQUEST,
                "peer.config needs the peer-protocol condition (SHA-256 of 32 zero bytes)",
                &[],
            );
        }
        let client_address = match &settings.ilp_address {
            Some(configured) => configured.clone(),
            None => {
                let ours = self.address_guard();
                // `admit` refuses everything before our address is known; kept as a Reject.
                let Some(ours) = ours.as_ref() else {
                    return self.refuse_all();
                };
                // Not `with_suffix`: a peer id may hold dots, each then a segment of its own.
                match proto::Address::new(&format!("{}.{}", ours.address.as_str(), from.id)) {
                    Ok(address) => address,
                    Err(error) => {
                        return self.reject(
                            ErrorCode::F00_BAD_REQUEST,
                            &format!(
                                "{}.{} is not an ILP address: {error}",
                                ours.address, from.id
                            ),
                            &[],
                        );
                    }
                }
            }
        };
        let address = client_address.clone();
        let data = IldcpResponse {
            client_address,
            asset_scale: settings.asset_scale,
            asset_code: settings.asset_code.clone(),
        }
        .encode();
        match (FulfillBuilder {
            fulfillment: &PEER_PROTOCOL_FULFILLMENT,
            data: &data,
        })
        .build()
        {
            Ok(fulfill) => {
                debug!(peer = %from.id, address = %address, "ildcp_answered");
                Answer {
                    bytes: fulfill.encode(),
                    code: None,
                }
            }
            Err(error) => self.reject(ErrorCode::F00_BAD_REQUEST, &error.to_string(), &[]),
        }
    }

    /// The peer the route names and its open link: F02 for no route, T01 if the next hop is
    /// not connected. (`peer.*` never gets here: `peer_protocol` answers it.)
    fn next_hop(&self, prepare: &Prepare, trace: &Span) -> Result<(Arc<Peer>, Arc<Link>), Answer> {
        let destination = prepare.destination().as_str();
        let next = {
            let snapshot = self.snapshot();
            let Some(route) = snapshot.routes.lookup(destination) else {
                return Err(self.reject(
                    ErrorCode::F02_UNREACHABLE,
                    &format!("no route to {destination}"),
                    &[],
                ));
            };
            let Some(next) = snapshot.peers.get(route.peer) else {
                return Err(self.reject(
                    ErrorCode::F02_UNREACHABLE,
                    &format!("no route to {destination}"),
                    &[],
                ));
            };
            if !trace.is_none() {
                trace.record("ilp.destination_prefix", route.prefix);
                trace.record("ilp.next_hop", &*next.id);
                trace.record("ilp.amount", prepare.amount());
            }
            next.clone()
        };
        let Some(link) = next.link() else {
            return Err(self.reject(
                ErrorCode::T01_PEER_UNREACHABLE,
                &format!("next hop {} is not connected", next.id),
                &[],
            ));
        };
        Ok((next, link))
    }

    /// Holds `amount` against the sender's credit limit (T04 past it), when balances are kept.
    fn reserve_credit(
        &self,
        from: &Peer,
        amount: u64,
        credit_limit: Option<u64>,
    ) -> Result<Option<Reservation>, Answer> {
        if !self.forwarding.track_balances {
            return Ok(None);
        }
        if self.ledger.is_failing() {
            // Forwarding now would move money the ledger cannot record.
            return Err(self.reject(
                ErrorCode::T00_INTERNAL_ERROR,
                "the ledger cannot record balances right now",
                &[],
            ));
        }
        if !self.ledger.is_local() {
            return Ok(None); // held by the shared ledger after admission
        }
        match from.balance.reserve(amount, credit_limit) {
            Ok(reservation) => Ok(Some(reservation)),
            Err(exceeded) => {
                debug!(peer = %from.id, %exceeded, "credit_limit_exceeded");
                Err(self.reject(
                    ErrorCode::T04_INSUFFICIENT_LIQUIDITY,
                    "sender has exceeded its credit limit",
                    &[],
                ))
            }
        }
    }

    /// Answers the sender from what the next hop said (or why it said nothing): a Fulfill that
    /// matches the condition moves the balances and goes back unchanged, a Reject is relayed
    /// unchanged; anything else is our own Reject, and the reservation is released.
    fn settle(&self, from: &Peer, pending: Pending, reply: Result<Bytes, LinkError>) -> Answer {
        let next = &pending.next;
        let reply = match reply {
            Ok(reply) => reply,
            Err(error) => {
                let (code, message) = match error {
                    LinkError::Timeout => (
                        ErrorCode::R00_TRANSFER_TIMED_OUT,
                        format!("no answer from {} before expiry", next.id),
                    ),
                    LinkError::Closed => (
                        ErrorCode::T01_PEER_UNREACHABLE,
                        format!("link to {} closed while waiting for an answer", next.id),
                    ),
                    other => (
                        ErrorCode::T00_INTERNAL_ERROR,
                        format!("sending to {} failed: {other}", next.id),
                    ),
                };
                self.metrics
                    .reject(&next.metrics, "outgoing", code.as_str());
                return self.reject(code, &message, &[]);
            }
        };
        match reply.first().copied() {
            Some(TYPE_FULFILL) => self.settle_fulfill(from, pending, reply),
            Some(TYPE_REJECT) => self.settle_reject(next, reply),
            _ => {
                warn!(peer = %next.id, "invalid_answer");
                self.metrics.reject(&next.metrics, "outgoing", "T00");
                self.reject(
                    ErrorCode::T00_INTERNAL_ERROR,
                    &format!("invalid answer from {}", next.id),
                    &[],
                )
            }
        }
    }

    /// A Fulfill: checked against the condition (F05 if wrong), then the reservation is
    /// committed and both balances move.
    fn settle_fulfill(&self, from: &Peer, pending: Pending, reply: Bytes) -> Answer {
        let Pending {
            next,
            incoming_amount: _,
            outgoing_amount,
            condition,
            reservation,
        } = pending;
        match Fulfill::decode(reply.clone()) {
            Ok(fulfill) if fulfillment_matches(fulfill.fulfillment(), &condition) => {
                next.metrics.outgoing_fulfills.inc();
                if let Some(reservation) = reservation {
                    let owed_by_sender = reservation.commit();
                    let owed_by_next = next.balance.outgoing_fulfilled(outgoing_amount);
                    from.metrics.balance.set(owed_by_sender as f64);
                    next.metrics.balance.set(owed_by_next as f64);
                }
                Answer {
                    bytes: reply,
                    code: None,
                }
            }
            Ok(_) => {
                warn!(peer = %next.id, "fulfillment_mismatch");
                self.metrics.reject(&next.metrics, "outgoing", "F05");
                self.reject(
                    ErrorCode::F05_WRONG_CONDITION,
                    &format!(
                        "{} returned a fulfillment that does not match the condition",
                        next.id
                    ),
                    &[],
                )
            }
            Err(error) => {
                warn!(peer = %next.id, %error, "invalid_fulfill");
                self.metrics.reject(&next.metrics, "outgoing", "T00");
                self.reject(
                    ErrorCode::T00_INTERNAL_ERROR,
                    &format!("invalid fulfill from {}", next.id),
                    &[],
                )
            }
        }
    }

    /// A Reject from downstream, relayed unchanged.
    fn settle_reject(&self, next: &Peer, reply: Bytes) -> Answer {
        match Reject::decode(reply.clone()) {
            Ok(reject) => {
                self.metrics
                    .reject(&next.metrics, "outgoing", reject.code().as_str());
                Answer {
                    bytes: reply,
                    code: Some(reject.code()),
                }
            }
            Err(error) => {
                warn!(peer = %next.id, %error, "invalid_reject");
                self.metrics.reject(&next.metrics, "outgoing", "T00");
                self.reject(
                    ErrorCode::T00_INTERNAL_ERROR,
                    &format!("invalid reject from {}", next.id),
                    &[],
                )
            }
        }
    }

    /// `min(incoming − margin, now + max hold)`, or `None` if that leaves less than the margin.
    fn outgoing_expiry(&self, incoming: Timestamp, now: Timestamp) -> Option<Timestamp> {
        let margin = millis(self.forwarding.expiry_margin);
        let shortened = incoming.saturating_sub_ms(margin);
        let cap = now.checked_add_ms(millis(self.forwarding.max_hold_time))?;
        let outgoing = shortened.min(cap);
        (outgoing.unix_ms() - now.unix_ms() >= margin).then_some(outgoing)
    }

    /// Our own Reject.
    pub fn reject(&self, code: ErrorCode, message: &str, data: &[u8]) -> Answer {
        Answer {
            bytes: self.reject_bytes(code, message, data),
            code: Some(code),
        }
    }

    pub fn reject_bytes(&self, code: ErrorCode, message: &str, data: &[u8]) -> Bytes {
        let message = truncate(message, proto::ilp::MAX_MESSAGE_LEN);
        let address = self.address_guard();
        let built = RejectBuilder {
            code,
            // Empty before ILDCP has told us our address (accepted by JS and RS readers).
            triggered_by: address.as_ref().map(|a| &a.address),
            message,
            data,
        }
        .build();
        match built {
            Ok(reject) => reject.encode(),
            // Unreachable with a truncated message and our small data; keep answering anyway.
            Err(_) => Bytes::from_static(b"\x0e\x06T00\x00\x00\x00"),
        }
    }
}

/// Sends the admitted Prepare to the next hop and waits for its answer, at most until the
/// deadline (then `LinkError::Timeout`).
async fn send(next: &Peer, outgoing: Outgoing, trace: &Span) -> Result<Bytes, LinkError> {
    let Outgoing {
        link,
        prepare,
        deadline,
    } = outgoing;
    next.metrics.outgoing_prepares.inc();
    if trace.is_none() {
        link.request(prepare, deadline).await
    } else {
        let downstream = tracing::info_span!(
            parent: trace,
            "ilp.send",
            otel.kind = "client",
            ilp.next_hop = %next.id,
        );
        let traceparent = telemetry::traceparent(&downstream);
        let sent_at = std::time::Instant::now();
        // Boxed: traced requests are rare enough that the untraced ones should not carry
        // their space.
        let reply = Box::pin(
            link.request_traced(prepare, deadline, traceparent.as_deref())
                .instrument(downstream),
        )
        .await;
        trace.record(
            "ilp.downstream_wait_ms",
            sent_at.elapsed().as_secs_f64() * 1000.0,
        );
        reply
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Converts between the two peers' units. Same asset: scale only (exact, rounding down);
/// different assets need a rate source this node does not have yet.
fn convert_amount(
    amount: u64,
    from: &PeerConfig,
    to: &PeerConfig,
) -> Result<u64, (ErrorCode, String)> {
    if from.asset_code != to.asset_code {
        return Err((
            ErrorCode::F02_UNREACHABLE,
            format!(
                "no exchange rate from {} to {}",
                from.asset_code, to.asset_code
            ),
        ));
    }
    scale_amount(amount, from.asset_scale, to.asset_scale)
}

fn scale_amount(amount: u64, from_scale: u8, to_scale: u8) -> Result<u64, (ErrorCode, String)> {
    use std::cmp::Ordering;
    let factor = |diff: u8| 10u128.checked_pow(u32::from(diff));
    match to_scale.cmp(&from_scale) {
        Ordering::Equal => Ok(amount),
        Ordering::Greater => factor(to_scale - from_scale)
            .and_then(|f| u128::from(amount).checked_mul(f))
            .and_then(|v| u64::try_from(v).ok())
            .ok_or((
                ErrorCode::F08_AMOUNT_TOO_LARGE,
                "amount overflows the next hop's units".to_string(),
            )),
        Ordering::Less => {
            let converted = match factor(from_scale - to_scale) {
                Some(f) => u128::from(amount) / f,
                None => 0,
            };
            if converted == 0 && amount > 0 {
                return Err((
                    ErrorCode::R01_INSUFFICIENT_SOURCE_AMOUNT,
                    "amount is too small to forward in the next hop's units".to_string(),
                ));
            }
            Ok(u64::try_from(converted).unwrap_or(u64::MAX))
        }
    }
}

/// Serves one peer's link: its Prepares go through the pipeline.
pub struct PeerHandler {
    pub node: Arc<Node>,
    pub peer: Arc<Peer>,
}

impl IncomingHandler for PeerHandler {
    async fn handle_prepare(&self, prepare: Bytes) -> Bytes {
        self.node.handle_incoming(&self.peer, prepare, None).await
    }

    // Not `async`: returning the pipeline's future itself spares every in-flight Prepare a
    // wrapper holding a second copy of the arguments.
    fn handle_traced_prepare(
        &self,
        prepare: Bytes,
        traceparent: Option<Bytes>,
    ) -> impl std::future::Future<Output = Bytes> + Send {
        self.node.handle_incoming(&self.peer, prepare, traceparent)
    }

    fn busy_reject(&self) -> Bytes {
        self.node.reject_bytes(
            ErrorCode::T03_CONNECTOR_BUSY,
            "too many requests in flight on this link",
            &[],
        )
    }

    fn violation(&self, violation: Violation) {
        warn!(peer = %self.peer.id, kind = violation.as_str(), "protocol_violation");
        self.node
            .metrics
            .violations
            .with_label_values(&[&self.peer.id, violation.as_str()])
            .inc();
    }
}

#[cfg(feature = "tigerbeetle")]
mod shared_ledger;
#[cfg(test)]
mod tests;
