//! CI smoke test: the real `bench compare` runs every scenario end to end. No timing
//! thresholds: benchmarks are not tests; this only checks the tool and the topologies work.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_bench");
const COUNT: u64 = 300;

#[test]
fn compare_runs_every_scenario_and_fulfills_every_packet() {
    // The bench finds `dataplane` next to itself; cargo builds it for the dataplane package's
    // integration tests (or `cargo build -p dataplane`). Missing is a failure, not a skip.
    let dataplane =
        Path::new(BENCH).with_file_name(format!("dataplane{}", std::env::consts::EXE_SUFFIX));
    assert!(
        dataplane.is_file() || std::env::var_os("DATAPLANE_BIN").is_some(),
        "the dataplane binary is missing at {}; build it first: cargo build -p dataplane",
        dataplane.display()
    );
    let output = Command::new(BENCH)
        .args([
            "compare",
            "--count",
            &COUNT.to_string(),
            "--concurrency",
            "10",
        ])
        .args(["--warmup", "20", "--time-limit", "60", "--repeat", "2"])
        .output()
        .expect("run bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stderr}");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 stdout");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("each stdout line is JSON"))
        .collect();
    let scenarios: Vec<&str> = lines
        .iter()
        .map(|l| l["scenario"].as_str().expect("scenario"))
        .collect();
    assert_eq!(scenarios, ["relay", "one-hop", "two-hops"], "{stderr}");
    for line in &lines {
        let name = &line["scenario"];
        assert_eq!(line["count"], COUNT, "{name}: {line}");
        // Two rounds: the results are totals over both.
        assert_eq!(line["results"]["fulfilled"], 2 * COUNT, "{name}: {line}");
        assert_eq!(line["runs"], 2, "{name}: {line}");
        assert_eq!(
            line["packetsPerSecondRuns"].as_array().map(Vec::len),
            Some(2),
            "{name}: {line}"
        );
        for cpu in [
            "forwarderCpuMicrosPerPacket",
            "loadGeneratorCpuMicrosPerPacket",
        ] {
            assert!(
                line[cpu].as_f64().is_some_and(|c| c >= 0.0),
                "{name}: {line}"
            );
        }
        assert!(
            line["packetsPerSecond"].as_f64().unwrap() > 0.0,
            "{name}: {line}"
        );
        for quantile in ["p50", "p90", "p99", "max"] {
            assert!(line["latencyMicros"][quantile].is_u64(), "{name}: {line}");
        }
        if name == "relay" {
            assert!(line.get("ratioToRelay").is_none(), "{line}");
        } else {
            let ratio = line["ratioToRelay"].as_f64().expect("ratioToRelay");
            assert!(ratio > 0.0, "{name}: {line}");
            assert_eq!(
                line["ratioToRelayRuns"].as_array().map(Vec::len),
                Some(2),
                "{name}: {line}"
            );
            assert!(line["cpuRatioToRelay"].as_f64().is_some(), "{name}: {line}");
            for quantile in ["p50", "p99"] {
                assert!(
                    line["addedMicrosPerHop"][quantile].as_f64().is_some(),
                    "{name}: {line}"
                );
            }
        }
    }
}

fn json_lines(args: &[&str]) -> Vec<Value> {
    let output = Command::new(BENCH).args(args).output().expect("run bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench {args:?} failed:\n{stderr}");
    String::from_utf8(output.stdout)
        .expect("UTF-8 stdout")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each stdout line is JSON"))
        .collect()
}

#[test]
fn route_push_times_the_initial_push_and_each_change() {
    // Needs `controlplane` and `dataplane` next to `bench` (the workspace test run builds them).
    let lines = json_lines(&["route-push", "--routes", "1,200", "--changes", "2"]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, routes) in lines.iter().zip([1, 200]) {
        assert_eq!(line["scenario"], "route-push", "{line}");
        assert_eq!(line["routes"], routes, "{line}");
        assert_eq!(line["changes"], 2, "{line}");
        assert!(line["initialPushMs"].as_f64().unwrap() > 0.0, "{line}");
        let p50 = line["changeMs"]["p50"].as_f64().unwrap();
        let max = line["changeMs"]["max"].as_f64().unwrap();
        assert!(p50 > 0.0 && max >= p50, "{line}");
    }
    assert!(lines[0].get("changeRatioToOneRoute").is_none());
    assert!(lines[1]["changeRatioToOneRoute"].as_f64().unwrap() > 0.0);
}

#[test]
fn footprint_weighs_a_large_table_beside_a_small_one() {
    for format in ["yaml", "json"] {
        let lines = json_lines(&[
            "footprint",
            "--peers",
            "20",
            "--routes",
            "2000",
            "--starts",
            "1",
            "--config-format",
            format,
        ]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        check_footprint(&lines[0], format);
    }
}

fn check_footprint(line: &Value, format: &str) {
    assert_eq!(line["configFormat"], format, "{line}");
    assert_eq!(line["scenario"], "footprint");
    assert_eq!(line["peers"], 20);
    assert_eq!(line["routes"], 2000);
    assert_eq!(line["baseline"]["peers"], 1);
    assert!(line["rssMiB"].as_f64().unwrap() > 1.0, "{line}");
    assert!(line["baseline"]["rssMiB"].as_f64().unwrap() > 1.0, "{line}");
    assert!(line["readyMs"].as_f64().unwrap() > 0.0, "{line}");
    assert!(line["rssRatioToBaseline"].as_f64().unwrap() > 0.0, "{line}");
}
