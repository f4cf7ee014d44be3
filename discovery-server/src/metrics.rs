//! The discovery server's Prometheus metrics. Labels are bounded: the only label is the
//! rejection reason, from the fixed list below; node ids never become labels.

use prometheus::{IntCounter, IntCounterVec, IntGauge};
use service_runtime::metrics::Catalogue;

/// Why a request was refused; the `reason` label of `discovery_rejections_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    InvalidField,
    BadSignature,
    IdentityConflict,
    Replay,
    RateLimited,
    TooLarge,
    RegistryFull,
    Unavailable,
    NotFound,
    /// An unsigned announcement to a server that requires signatures.
    SignatureRequired,
    /// An unsigned deregistration from another address than the announcer's.
    WrongAddress,
}

impl Reason {
    pub const ALL: [Reason; 11] = [
        Reason::InvalidField,
        Reason::BadSignature,
        Reason::IdentityConflict,
        Reason::Replay,
        Reason::RateLimited,
        Reason::TooLarge,
        Reason::RegistryFull,
        Reason::Unavailable,
        Reason::NotFound,
        Reason::SignatureRequired,
        Reason::WrongAddress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidField => "invalid_field",
            Reason::BadSignature => "bad_signature",
            Reason::IdentityConflict => "identity_conflict",
            Reason::Replay => "replay",
            Reason::RateLimited => "rate_limited",
            Reason::TooLarge => "too_large",
            Reason::RegistryFull => "registry_full",
            Reason::Unavailable => "unavailable",
            Reason::NotFound => "not_found",
            Reason::SignatureRequired => "signature_required",
            Reason::WrongAddress => "wrong_address",
        }
    }
}

pub struct Metrics {
    catalogue: Catalogue,
    pub registered: IntGauge,
    pub announces: IntCounter,
    /// Also counted in `announces`.
    pub unsigned_announces: IntCounter,
    pub deregistrations: IntCounter,
    pub expiries: IntCounter,
    rejections: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let catalogue = Catalogue::new();
        let registered = catalogue.gauge(
            "discovery_registered_peers",
            "Live entries (announced within 2 x TTL, or any active entry during the start-up grace)",
        );
        let announces = catalogue.counter("discovery_announces_total", "Accepted announcements");
        let unsigned_announces = catalogue.counter(
            "discovery_unsigned_announces_total",
            "Accepted unsigned announcements (also counted in discovery_announces_total)",
        );
        let deregistrations = catalogue.counter(
            "discovery_deregistrations_total",
            "Accepted deregistrations",
        );
        let expiries = catalogue.counter(
            "discovery_expiries_total",
            "Entries that went stale (not re-announced within 2 x TTL), each counted once",
        );
        let rejections = catalogue.counter_vec(
            "discovery_rejections_total",
            "Refused requests, by reason",
            &["reason"],
        );
        // Every reason shows from the start, so a rate() over it has a baseline.
        for reason in Reason::ALL {
            rejections.with_label_values(&[reason.as_str()]);
        }
        Metrics {
            catalogue,
            registered,
            announces,
            unsigned_announces,
            deregistrations,
            expiries,
            rejections,
        }
    }

    pub fn reject(&self, reason: Reason) {
        self.rejections.with_label_values(&[reason.as_str()]).inc();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_reason() {
        let metrics = Metrics::new();
        metrics.reject(Reason::Replay);
        let text = metrics.render();
        for reason in Reason::ALL {
            assert!(
                text.contains(&format!(
                    "discovery_rejections_total{{reason=\"{}\"}}",
                    reason.as_str()
                )),
                "{text}"
            );
        }
        assert!(text.contains("discovery_rejections_total{reason=\"replay\"} 1"));
        assert!(text.contains("discovery_registered_peers 0"));
        assert!(text.contains("discovery_unsigned_announces_total 0"));
    }
}
