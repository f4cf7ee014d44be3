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
    /// Latency p50 and p99 minus the relay's, per hop, in a `compare` (microseconds).
    pub added_micros_per_hop: Option<[f64; 2]>,
    /// With `--repeat`: every run's packets/s and ratio to its round's relay, in run order.
    pub runs: Vec<RunFigures>,
}

/// One run's headline figures, kept when several runs are summarised by their medians.
#[derive(Clone, Copy, Debug)]
pub struct RunFigures {
    pub packets_per_second: f64,
    pub ratio_to_relay: Option<f64>,
    pub p99_micros: u64,
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
            added_micros_per_hop: None,
            runs: Vec::new(),
        }
    }

    /// Compares this run with the relay's run of the same round: throughput, CPU per packet,
    /// and latency added per hop.
    pub fn set_relative_to(&mut self, relay: &Report, hops: u32) {
        self.ratio_to_relay = (relay.packets_per_second > 0.0)
            .then(|| self.packets_per_second / relay.packets_per_second);
        self.cpu_ratio_to_relay = self
            .forwarder_cpu_per_packet()
            .zip(relay.forwarder_cpu_per_packet())
            .filter(|(_, base)| *base > 0.0)
            .map(|(node, base)| node / base);
        let per_hop = |ours: u64, theirs: u64| (ours as f64 - theirs as f64) / f64::from(hops);
        self.added_micros_per_hop = Some([
            per_hop(self.latency_micros[0], relay.latency_micros[0]),
            per_hop(self.latency_micros[2], relay.latency_micros[2]),
        ]);
    }

    /// Several runs of one scenario as one report: every figure is the median of the runs'
    /// (ratios are taken per round first, then their median), and the runs are listed.
    /// `None` for no runs.
    pub fn median_of(runs: &[Report]) -> Option<Report> {
        let first = runs.first()?;
        let median_f = |f: &dyn Fn(&Report) -> Option<f64>| -> Option<f64> {
            let mut values: Vec<f64> = runs.iter().filter_map(f).collect();
            if values.len() < runs.len() {
                return None;
            }
            values.sort_by(f64::total_cmp);
            Some(median(&values))
        };
        let median_u = |i: usize| -> u64 {
            let mut values: Vec<u64> = runs.iter().map(|r| r.latency_micros[i]).collect();
            values.sort_unstable();
            values[values.len() / 2]
        };
        let mut results = BTreeMap::new();
        for run in runs {
            for (code, n) in &run.results {
                *results.entry(code.clone()).or_insert(0) += n;
            }
        }
        let cpu = Usage {
            forwarders: median_f(&|r| r.cpu?.forwarders.map(|d| d.as_secs_f64()))
                .map(Duration::from_secs_f64),
            load_generator: median_f(&|r| r.cpu?.load_generator.map(|d| d.as_secs_f64()))
                .map(Duration::from_secs_f64),
        };
        Some(Report {
            scenario: first.scenario.clone(),
            count: first.count,
            concurrency: first.concurrency,
            rate: first.rate,
            duration: Duration::from_secs_f64(
                median_f(&|r| Some(r.duration.as_secs_f64())).unwrap_or_default(),
            ),
            packets_per_second: median_f(&|r| Some(r.packets_per_second)).unwrap_or_default(),
            latency_micros: [median_u(0), median_u(1), median_u(2), median_u(3)],
            results,
            hit_time_limit: runs.iter().any(|r| r.hit_time_limit),
            ratio_to_relay: median_f(&|r| r.ratio_to_relay),
            cpu: Some(cpu),
            cpu_ratio_to_relay: median_f(&|r| r.cpu_ratio_to_relay),
            added_micros_per_hop: median_f(&|r| r.added_micros_per_hop.map(|a| a[0]))
                .zip(median_f(&|r| r.added_micros_per_hop.map(|a| a[1])))
                .map(|(p50, p99)| [p50, p99]),
            runs: runs
                .iter()
                .map(|r| RunFigures {
                    packets_per_second: r.packets_per_second,
                    ratio_to_relay: r.ratio_to_relay,
                    p99_micros: r.latency_micros[2],
                })
                .collect(),
        })
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
        if let Some([p50, p99]) = self.added_micros_per_hop {
            line["addedMicrosPerHop"] = json!({"p50": round(p50, 1), "p99": round(p99, 1)});
        }
        if self.runs.len() > 1 {
            line["runs"] = json!(self.runs.len());
            line["packetsPerSecondRuns"] = json!(
                self.runs
                    .iter()
                    .map(|r| round(r.packets_per_second, 1))
                    .collect::<Vec<_>>()
            );
            line["p99MicrosRuns"] =
                json!(self.runs.iter().map(|r| r.p99_micros).collect::<Vec<_>>());
            if self.runs.iter().all(|r| r.ratio_to_relay.is_some()) {
                line["ratioToRelayRuns"] = json!(
                    self.runs
                        .iter()
                        .filter_map(|r| r.ratio_to_relay.map(|x| round(x, 3)))
                        .collect::<Vec<_>>()
                );
            }
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
        if let Some([p50, p99]) = self.added_micros_per_hop {
            text.push_str(&format!("; added per hop µs p50 {p50:.0} p99 {p99:.0}"));
        }
        if self.runs.len() > 1 {
            text.push_str(&format!(" (medians of {} runs)", self.runs.len()));
        }
        if self.hit_time_limit {
            text.push_str(" (stopped by the time limit)");
        }
        text
    }
}

/// The median of sorted, non-empty `values` (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
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

    fn report(pps: f64, p99: u64, ratio: Option<f64>) -> Report {
        Report {
            scenario: "one-hop".into(),
            count: 10,
            concurrency: 1,
            rate: None,
            duration: Duration::from_secs(1),
            packets_per_second: pps,
            latency_micros: [1, 2, p99, 100],
            results: BTreeMap::from([("fulfilled".to_string(), 10)]),
            hit_time_limit: false,
            ratio_to_relay: ratio,
            cpu: None,
            cpu_ratio_to_relay: None,
            added_micros_per_hop: None,
            runs: Vec::new(),
        }
    }

    #[test]
    fn runs_are_summarised_by_their_medians() {
        let runs = [
            report(100.0, 30, Some(0.5)),
            report(300.0, 10, Some(0.9)),
            report(200.0, 20, Some(0.7)),
        ];
        let merged = Report::median_of(&runs).expect("three runs");
        assert_eq!(merged.packets_per_second, 200.0);
        assert_eq!(merged.latency_micros[2], 20);
        assert_eq!(merged.ratio_to_relay, Some(0.7));
        assert_eq!(merged.results["fulfilled"], 30);
        assert_eq!(merged.runs.len(), 3);
        let line = merged.to_json();
        assert_eq!(line["runs"], 3);
        assert_eq!(line["ratioToRelayRuns"], json!([0.5, 0.9, 0.7]));
        assert!(Report::median_of(&[]).is_none());
        let even = Report::median_of(&runs[..2]).expect("two runs");
        assert_eq!(even.packets_per_second, 200.0);
    }

    #[test]
    fn added_latency_is_per_hop_against_the_relay() {
        let relay = report(100.0, 500, None);
        let mut two_hops = report(50.0, 1500, None);
        two_hops.set_relative_to(&relay, 2);
        assert_eq!(two_hops.ratio_to_relay, Some(0.5));
        assert_eq!(two_hops.added_micros_per_hop, Some([0.0, 500.0]));
    }
}
