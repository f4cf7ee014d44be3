//! The data plane's Prometheus metrics. Labels are bounded: peer ids come from configuration,
//! codes are three characters, and no destination address or packet id is ever a label.

use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
};
use service_runtime::metrics::Catalogue;

use crate::link_state::LinkState;

/// The `result` label values of `dataplane_ildcp_requests_total`.
pub const ILDCP_RESULTS: [&str; 5] = ["learned", "rejected", "timeout", "link_error", "invalid"];

pub struct Metrics {
    catalogue: Catalogue,
    pub packets: IntCounterVec,
    pub forward_duration: HistogramVec,
    /// `forward_duration` children, resolved once: no label lookup per packet.
    pub fulfilled_duration: Histogram,
    pub rejected_duration: Histogram,
    pub in_flight: IntGauge,
    pub link_up: IntGaugeVec,
    pub link_state: IntGaugeVec,
    pub link_reconnects: IntCounterVec,
    pub violations: IntCounterVec,
    pub auth_failures: IntCounterVec,
    pub balance: GaugeVec,
    /// Set at each scrape from the balances, so the packet path never touches it.
    pub credit_headroom: GaugeVec,
    pub routes: IntGauge,
    pub ready: IntGauge,
    pub config_generation: IntGauge,
    pub config_applied: IntCounter,
    pub config_rejected: IntCounter,
    pub controlplane_connected: IntGauge,
    /// ILDCP requests to our parent, by result.
    pub ildcp_requests: IntCounterVec,
    pub ledger: LedgerMetrics,
}

/// The ledger's work: the embedded ledger's flushes, TigerBeetle's requests (handles are cheap
/// clones, handed to the flusher thread and the batcher).
#[derive(Clone)]
pub struct LedgerMetrics {
    pub flush_duration: Histogram,
    pub accounts_written: IntCounter,
    pub flush_errors: IntCounter,
    pub healthy: IntGauge,
    pub request_duration: Histogram,
    pub requests: IntCounter,
    pub transfers: IntCounter,
    pub request_errors: IntCounter,
    pub packets_held: IntGauge,
    pub finish_failures: IntCounter,
}

/// One peer's metric handles, resolved once so the packet path does no label lookups.
pub struct PeerMetrics {
    pub incoming_prepares: IntCounter,
    pub incoming_fulfills: IntCounter,
    pub outgoing_prepares: IntCounter,
    pub outgoing_fulfills: IntCounter,
    pub link_up: IntGauge,
    pub link_reconnects: IntCounter,
    pub balance: Gauge,
    peer: String,
}

impl Metrics {
    pub fn new() -> Metrics {
        let catalogue = Catalogue::new();
        let packets = catalogue.counter_vec(
            "ilp_packets_total",
            "ILP packets by peer, direction (incoming: from that peer and our answers to it; outgoing: to it and its answers), type and reject code",
            &["peer", "direction", "type", "code"],
        );
        let forward_duration = catalogue.histogram_vec(
            "ilp_forward_duration_seconds",
            "Time from receiving a Prepare to answering it, by outcome",
            &["outcome"],
            &[
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0, 10.0, 30.0,
            ],
        );
        let in_flight = catalogue.gauge(
            "ilp_packets_in_flight",
            "Prepares being forwarded right now",
        );
        let link_up = catalogue.gauge_vec(
            "btp_link_up",
            "1 if the BTP link to the peer is authenticated and open",
            &["peer"],
        );
        let link_state = catalogue.gauge_vec(
            "btp_link_state",
            "1 for the link's current state (connecting, up, backoff, disconnected)",
            &["peer", "state"],
        );
        let link_reconnects = catalogue.counter_vec(
            "btp_link_reconnects_total",
            "Times a link to the peer came up again after being down",
            &["peer"],
        );
        let violations = catalogue.counter_vec(
            "btp_protocol_violations_total",
            "Bad frames and refused requests from a peer, by kind",
            &["peer", "kind"],
        );
        let auth_failures = catalogue.counter_vec(
            "btp_auth_failures_total",
            "Refused BTP authentication attempts, by reason",
            &["reason"],
        );
        let balance = catalogue.float_gauge_vec(
            "ilp_peer_balance",
            "What the peer owes us in its asset's smallest unit (negative: we owe it)",
            &["peer"],
        );
        let credit_headroom = catalogue.float_gauge_vec(
            "ilp_peer_credit_headroom",
            "What the peer may still send before T04: its credit limit minus what it owes, in-flight Prepares included (peers with a credit limit only)",
            &["peer"],
        );
        let routes = catalogue.gauge("ilp_routes", "Routes in the table being served");
        let config_generation = catalogue.gauge(
            "dataplane_config_generation",
            "Generation of the control plane's config snapshot being served (managed mode)",
        );
        let config_updates = catalogue.counter_vec(
            "dataplane_config_updates_total",
            "Config snapshots from the control plane, by result (applied; rejected, answered with a NACK)",
            &["result"],
        );
        let controlplane_connected = catalogue.gauge(
            "dataplane_controlplane_connected",
            "1 while the config stream to the control plane is open",
        );
        let ildcp_requests = catalogue.counter_vec(
            "dataplane_ildcp_requests_total",
            "ILDCP requests to the parent for our address (no ILP_ADDRESS set), by result (learned, rejected, timeout, link_error, invalid)",
            &["result"],
        );
        // Every series from the start: 0 requests is what a configured address means.
        for result in ILDCP_RESULTS {
            ildcp_requests.with_label_values(&[result]);
        }
        let ready = catalogue.gauge(
            "dataplane_ready",
            "1 once the node listens, serves a route table and knows its ILP address",
        );
        let ledger = LedgerMetrics {
            flush_duration: catalogue.histogram(
                "ledger_flush_duration_seconds",
                "Time to write and sync one batch of moved balances to the embedded ledger's journal",
                &[
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    1.0,
                ],
            ),
            accounts_written: catalogue.counter(
                "ledger_accounts_written_total",
                "Account balances written to the journal; divided by flushes, the accounts per group-committed batch",
            ),
            flush_errors: catalogue.counter(
                "ledger_flush_errors_total",
                "Journal writes or syncs that failed; while they fail, new Prepares are refused with T00",
            ),
            healthy: catalogue.gauge(
                "ledger_healthy",
                "1 while the ledger records balances (its last flush or request succeeded); 0 while it refuses packets",
            ),
            request_duration: catalogue.histogram(
                "ledger_request_duration_seconds",
                "Time for one request to the TigerBeetle cluster (a batch of transfers, or an account lookup)",
                &[
                    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
                ],
            ),
            requests: catalogue.counter(
                "ledger_requests_total",
                "Batches of transfers sent to the TigerBeetle cluster",
            ),
            transfers: catalogue.counter(
                "ledger_transfers_total",
                "Transfers sent to the TigerBeetle cluster; divided by ledger_requests_total, the batch size",
            ),
            request_errors: catalogue.counter(
                "ledger_request_errors_total",
                "Batches the TigerBeetle cluster did not answer in time or refused as a whole",
            ),
            packets_held: catalogue.gauge(
                "ledger_packets_held",
                "Packets whose pending transfers are placed and not yet posted or voided",
            ),
            finish_failures: catalogue.counter(
                "ledger_finish_failures_total",
                "Posts or voids that did not land (a post lost this way is a fulfilled packet the ledger does not show)",
            ),
        };
        ledger.healthy.set(1);
        Metrics {
            ledger,
            catalogue,
            packets,
            fulfilled_duration: forward_duration.with_label_values(&["fulfilled"]),
            rejected_duration: forward_duration.with_label_values(&["rejected"]),
            forward_duration,
            in_flight,
            link_up,
            link_state,
            link_reconnects,
            violations,
            auth_failures,
            balance,
            credit_headroom,
            routes,
            ready,
            config_generation,
            config_applied: config_updates.with_label_values(&["applied"]),
            config_rejected: config_updates.with_label_values(&["rejected"]),
            controlplane_connected,
            ildcp_requests,
        }
    }

    pub fn peer(&self, peer: &str) -> PeerMetrics {
        let packets = |direction: &str, kind: &str| {
            self.packets.with_label_values(&[peer, direction, kind, ""])
        };
        let handles = PeerMetrics {
            incoming_prepares: packets("incoming", "prepare"),
            incoming_fulfills: packets("incoming", "fulfill"),
            outgoing_prepares: packets("outgoing", "prepare"),
            outgoing_fulfills: packets("outgoing", "fulfill"),
            link_up: self.link_up.with_label_values(&[peer]),
            link_reconnects: self.link_reconnects.with_label_values(&[peer]),
            balance: self.balance.with_label_values(&[peer]),
            peer: peer.to_string(),
        };
        for state in LinkState::ALL {
            self.link_state
                .with_label_values(&[peer, state.as_str()])
                .set(0);
        }
        handles
    }

    pub fn set_link_state(&self, peer: &str, state: LinkState) {
        for candidate in LinkState::ALL {
            self.link_state
                .with_label_values(&[peer, candidate.as_str()])
                .set(i64::from(candidate == state));
        }
    }

    pub fn reject(&self, peer: &PeerMetrics, direction: &str, code: &str) {
        self.packets
            .with_label_values(&[&peer.peer, direction, "reject", code])
            .inc();
    }

    pub fn render(&self) -> String {
        self.catalogue.render()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
