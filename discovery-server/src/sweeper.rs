//! The sweeper: notices entries crossing from live to stale, counts each expiry once
//! (`discovery_expiries_total`) and keeps `discovery_registered_peers` current between scrapes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::api::AppState;

/// A quarter of the TTL, within 100 ms ..= 5 s: an expiry is noticed soon after it happens,
/// and a long TTL does not make the gauge lag for minutes.
pub fn interval(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

/// Sweeps every `interval(ttl)` until `stop` becomes true.
pub async fn run(state: Arc<AppState>, ttl: Duration, mut stop: watch::Receiver<bool>) {
    let period = interval(ttl);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        sweep_once(&state).await;
    }
}

pub async fn sweep_once(state: &AppState) {
    let window = state.liveness.now();
    match state.store.expire_stale(window).await {
        Ok(expired) if !expired.is_empty() => {
            state.metrics.expiries.inc_by(expired.len() as u64);
            // One event per sweep, not per entry: a mass expiry (the network partitioned from
            // us) must not flood the logs; the metric is what alerts.
            const SHOWN: usize = 20;
            tracing::info!(
                count = expired.len(),
                nodeIds = %expired.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(","),
                truncated = expired.len() > SHOWN,
                "peers_expired"
            );
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "sweep_failed"),
    }
    match state.store.count_live(window).await {
        Ok(live) => state
            .metrics
            .registered
            .set(i64::try_from(live).unwrap_or(i64::MAX)),
        Err(error) => tracing::warn!(%error, "sweep_failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_is_bounded() {
        assert_eq!(interval(Duration::from_secs(1)), Duration::from_millis(250));
        assert_eq!(interval(Duration::from_secs(120)), Duration::from_secs(5));
        assert_eq!(
            interval(Duration::from_millis(200)),
            Duration::from_millis(100)
        );
    }
}
