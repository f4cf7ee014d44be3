//! When an entry counts as live. One rule, used by the list, the count, identity binding and
//! the sweeper, so they never disagree.
//!
//! An `active` entry is live when `now − lastSeen ≤ 2 × TTL`, or while the server itself is in
//! its start-up grace, `now ≤ serverStart + TTL`. The grace exists because a registry that was
//! away cannot tell "the node is gone" from "I was not there to hear it": without it, a server
//! restarted after more than 2 × TTL would answer every client with an empty list (Eureka's
//! self-preservation lesson). Nodes re-announce within a TTL, so after the grace the list is
//! accurate again. Entries the sweeper had already seen expire, and deregistered ones, stay
//! gone through the grace: their state is no longer `active`.
//!
//! All times are the server's clock, Unix milliseconds; clients' clocks are never consulted.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    ttl_ms: i64,
    started_at_ms: i64,
}

/// The rule evaluated at one instant: an `active` entry is live iff
/// `last_seen_ms >= live_since_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub now_ms: i64,
    /// `now − 2 × TTL`, or `i64::MIN` during the start-up grace (everything active is live).
    pub live_since_ms: i64,
}

impl Liveness {
    pub fn new(ttl: Duration, started_at_ms: i64) -> Liveness {
        Liveness {
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            started_at_ms,
        }
    }

    pub fn window(&self, now_ms: i64) -> Window {
        let in_grace = now_ms <= self.started_at_ms.saturating_add(self.ttl_ms);
        let live_since_ms = if in_grace {
            i64::MIN
        } else {
            now_ms.saturating_sub(self.ttl_ms.saturating_mul(2))
        };
        Window {
            now_ms,
            live_since_ms,
        }
    }

    pub fn now(&self) -> Window {
        self.window(now_ms())
    }
}

impl Window {
    pub fn is_live(&self, active: bool, last_seen_ms: i64) -> bool {
        active && last_seen_ms >= self.live_since_ms
    }
}

/// The server's clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(10);
    const START: i64 = 1_000_000;

    #[test]
    fn live_for_two_ttls_after_the_last_announcement() {
        let rule = Liveness::new(TTL, START);
        let now = START + 60_000; // long after the grace
        let w = rule.window(now);
        assert!(w.is_live(true, now - 20_000), "exactly 2 × TTL ago");
        assert!(!w.is_live(true, now - 20_001));
        assert!(!w.is_live(false, now), "expired or deregistered");
    }

    #[test]
    fn grace_after_the_server_starts() {
        let rule = Liveness::new(TTL, START);
        let ancient = START - 3_600_000;
        assert!(rule.window(START).is_live(true, ancient));
        assert!(
            rule.window(START + 10_000).is_live(true, ancient),
            "inclusive"
        );
        assert!(!rule.window(START + 10_001).is_live(true, ancient));
        assert!(!rule.window(START).is_live(false, ancient), "not active");
    }
}
