//! Turns a load run into the JSON line on stdout and the readable summary on stderr.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cpu::Usage;
use crate::load::LoadResult;

#[derive(Clone, Debug)]
pub struct Report {
    pub scenario: String,
    pub count: u64,
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub duration: Duration,
    pub packets_per_second: f64,
    /// p50, p90, p99, max in microseconds.
    pub latency_micros: [u64; 4],
    pub results: BTreeMap<String, u64>,
    pub hit_time_limit: bool,
    pub ratio_to_relay: Option<f64>,
    /// CPU time used during the run.
    pub cpu: Option<Usage>,
    /// The forwarders' CPU time per packet divided by the relay's, in a `compare`.
    pub cpu_ratio_to_relay: Option<f64>,
}

/// The value at quantile `q` of sorted `values` (nearest rank).
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Report {
    pub fn new(
        scenario: String,
        concurrency: usize,
        rate: Option<f64>,
        run: &LoadResult,
    ) -> Report {
        let mut micros: Vec<u64> = run
            .samples
            .iter()
            .map(|s| u64::try_from(s.latency.as_micros()).unwrap_or(u64::MAX))
            .collect();
        micros.sort_unstable();
        let mut results = BTreeMap::new();
        for sample in &run.samples {
            *results.entry(sample.result.clone()).or_insert(0) += 1;
        }
        let count = run.samples.len() as u64;
        let seconds = run.elapsed.as_secs_f64();
        Report {
            scenario,
            count,
            concurrency,
            rate,
            duration: run.elapsed,
            packets_per_second: if seconds > 0.0 {
                count as f64 / seconds
            } else {
                0.0
            },
            latency_micros: [
                quantile(&micros, 0.50),
                quantile(&micros, 0.90),
                quantile(&micros, 0.99),
                micros.last().copied().unwrap_or(0),
            ],
            results,
            hit_time_limit: run.hit_time_limit,
            ratio_to_relay: None,
            cpu: None,
            cpu_ratio_to_relay: None,
        }
    }

    /// CPU microseconds per packet of the forwarding processes (relay or nodes together).
    pub fn forwarder_cpu_per_packet(&self) -> Option<f64> {
        self.per_packet(self.cpu?.forwarders?)
    }

    /// CPU microseconds per packet of the bench process (sender and receiver).
    pub fn load_generator_cpu_per_packet(&self) -> Option<f64> {
        self.per_packet(self.cpu?.load_generator?)
    }

    fn per_packet(&self, time: Duration) -> Option<f64> {
        (self.count > 0).then(|| time.as_secs_f64() * 1e6 / self.count as f64)
    }

    pub fn to_json(&self) -> Value {
        let [p50, p90, p99, max] = self.latency_micros;
        let mut line = json!({
            "scenario": self.scenario,
            "count": self.count,
            "concurrency": self.concurrency,
            "durationSeconds": round(self.duration.as_secs_f64(), 3),
            "packetsPerSecond": round(self.packets_per_second, 1),
            "latencyMicros": {"p50": p50, "p90": p90, "p99": p99, "max": max},
            "results": self.results,
        });
        if let Some(rate) = self.rate {
            line["rate"] = json!(rate);
        }
        if self.hit_time_limit {
            line["hitTimeLimit"] = json!(true);
        }
        if let Some(ratio) = self.ratio_to_relay {
            line["ratioToRelay"] = json!(round(ratio, 3));
        }
        if let Some(micros) = self.forwarder_cpu_per_packet() {
            line["forwarderCpuMicrosPerPacket"] = json!(round(micros, 2));
        }
        if let Some(micros) = self.load_generator_cpu_per_packet() {
            line["loadGeneratorCpuMicrosPerPacket"] = json!(round(micros, 2));
        }
        if let Some(ratio) = self.cpu_ratio_to_relay {
            line["cpuRatioToRelay"] = json!(round(ratio, 3));
        }
        line
    }

    pub fn summary(&self) -> String {
        let [p50, p90, p99, max] = self.latency_micros;
        let results: Vec<String> = self
            .results
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let mut text = format!(
            "{:<24} {:>7} packets, concurrency {:>4}, {:>8.3} s, {:>9.1} packets/s, latency µs p50 {p50} p90 {p90} p99 {p99} max {max}; {}",
            self.scenario,
            self.count,
            self.concurrency,
            self.duration.as_secs_f64(),
            self.packets_per_second,
            results.join(", ")
        );
        if let Some(ratio) = self.ratio_to_relay {
            text.push_str(&format!("; {:.1} % of the relay", ratio * 100.0));
        }
        if let Some(micros) = self.forwarder_cpu_per_packet() {
            text.push_str(&format!("; forwarder CPU {micros:.1} µs/packet"));
        }
        if let Some(ratio) = self.cpu_ratio_to_relay {
            text.push_str(&format!(" ({ratio:.2}× the relay's)"));
        }
        if self.hit_time_limit {
            text.push_str(" (stopped by the time limit)");
        }
        text
    }
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&values, 0.5), 50);
        assert_eq!(quantile(&values, 0.99), 99);
        assert_eq!(quantile(&values, 1.0), 100);
        assert_eq!(quantile(&[7], 0.5), 7);
        assert_eq!(quantile(&[], 0.5), 0);
    }
}
