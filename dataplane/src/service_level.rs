//! The service-level figures `/health` shows: over the last minute, the share of Prepares
//! fulfilled and the p99 time to answer one. (Its dependencies are
//! `service_runtime::dependencies`.) The figures are read from the forwarding histogram once a second by a task of
//! their own: the packet path does nothing it did not do before.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use prometheus::Histogram;
use prometheus::core::Metric as _;

use crate::metrics::Metrics;

/// How far back the figures look, and how often the histogram is read.
pub const WINDOW: Duration = Duration::from_secs(60);
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Cumulative counts of the forwarding histogram at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
struct Sample {
    fulfilled: u64,
    rejected: u64,
    /// (upper bound in seconds, cumulative count), fulfilled and rejected added together.
    buckets: Vec<(f64, u64)>,
}

/// The figures over the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Prepares answered in the window.
    pub packets: u64,
    /// Fulfilled ÷ answered; `None` when nothing was answered.
    pub success_rate: Option<f64>,
    /// The upper bound of the histogram bucket that holds the 99th percentile, in ms (the
    /// largest finite bound when it lies beyond them); `None` when nothing was answered.
    pub p99_ms: Option<f64>,
}

/// The last minute of samples.
#[derive(Debug, Default)]
pub struct ServiceLevel {
    samples: Mutex<VecDeque<Sample>>,
}

fn read(histogram: &Histogram) -> (u64, Vec<(f64, u64)>) {
    let metric = histogram.metric();
    let h = metric.get_histogram();
    let buckets = h
        .get_bucket()
        .iter()
        .map(|b| (b.upper_bound(), b.cumulative_count()))
        .collect();
    (h.get_sample_count(), buckets)
}

impl ServiceLevel {
    /// Reads the histogram now; keeps one window of samples.
    pub fn sample(&self, metrics: &Metrics) {
        let (fulfilled, ok_buckets) = read(&metrics.fulfilled_duration);
        let (rejected, rejected_buckets) = read(&metrics.rejected_duration);
        let buckets = ok_buckets
            .iter()
            .zip(&rejected_buckets)
            .map(|((bound, a), (_, b))| (*bound, a + b))
            .collect();
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples.push_back(Sample {
            fulfilled,
            rejected,
            buckets,
        });
        let keep = (WINDOW.as_secs() / SAMPLE_EVERY.as_secs().max(1)) as usize + 1;
        while samples.len() > keep {
            samples.pop_front();
        }
    }

    /// The figures between the oldest and the newest sample.
    pub fn figures(&self) -> Figures {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let none = Figures {
            packets: 0,
            success_rate: None,
            p99_ms: None,
        };
        let (Some(oldest), Some(newest)) = (samples.front(), samples.back()) else {
            return none;
        };
        let fulfilled = newest.fulfilled.saturating_sub(oldest.fulfilled);
        let packets = fulfilled + newest.rejected.saturating_sub(oldest.rejected);
        if packets == 0 {
            return none;
        }
        // The smallest count that is at least 99 % of the packets.
        let target = (packets * 99).div_ceil(100);
        let mut p99 = None;
        let mut largest_finite = 0.0;
        for (index, (bound, count)) in newest.buckets.iter().enumerate() {
            let before = oldest.buckets.get(index).map_or(0, |(_, c)| *c);
            if bound.is_finite() {
                largest_finite = *bound;
            }
            if count.saturating_sub(before) >= target {
                p99 = Some(*bound);
                break;
            }
        }
        Figures {
            packets,
            success_rate: Some(fulfilled as f64 / packets as f64),
            p99_ms: Some(p99.unwrap_or(largest_finite) * 1000.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_cover_what_happened_since_the_oldest_sample() {
        let metrics = Metrics::new();
        let level = ServiceLevel::default();
        assert_eq!(level.figures().success_rate, None, "no sample yet");
        metrics.fulfilled_duration.observe(0.5);
        level.sample(&metrics);
        assert_eq!(level.figures().packets, 0, "one sample is no window");
        for _ in 0..99 {
            metrics.fulfilled_duration.observe(0.0008);
        }
        metrics.rejected_duration.observe(0.02);
        level.sample(&metrics);
        let figures = level.figures();
        assert_eq!(
            figures.packets, 100,
            "the packet before the first sample is not counted"
        );
        assert_eq!(figures.success_rate, Some(0.99));
        assert_eq!(
            figures.p99_ms,
            Some(1.0),
            "99 of 100 answered within the 1 ms bucket"
        );
        metrics.rejected_duration.observe(0.02);
        level.sample(&metrics);
        let figures = level.figures();
        assert_eq!(figures.packets, 101);
        assert_eq!(
            figures.p99_ms,
            Some(25.0),
            "now the 99th lies in the 25 ms bucket"
        );
    }

    #[test]
    fn old_samples_leave_the_window() {
        let metrics = Metrics::new();
        let level = ServiceLevel::default();
        level.sample(&metrics);
        metrics.rejected_duration.observe(0.001);
        let per_window = (WINDOW.as_secs() / SAMPLE_EVERY.as_secs()) as usize;
        for _ in 0..=per_window {
            level.sample(&metrics);
        }
        assert_eq!(
            level.figures().packets,
            0,
            "the reject is older than the window"
        );
    }
}
