//! Data plane footprint: resident memory with many peers and routes, and time from start to
//! ready, each beside the same data plane with one peer and one route, measured in the same run.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::node::{Node, TempDir, find_dataplane};

/// How the configuration file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ConfigFormat {
    Yaml,
    Json,
}

impl ConfigFormat {
    fn name(self) -> &'static str {
        match self {
            ConfigFormat::Yaml => "yaml",
            ConfigFormat::Json => "json",
        }
    }
}

pub struct Footprint {
    pub format: ConfigFormat,
    pub peers: usize,
    pub routes: usize,
    pub rss_kib: u64,
    pub ready: Vec<Duration>,
}

/// The same configuration as [`yaml`], as JSON.
fn json_config(peers: usize, routes: usize) -> String {
    let peers_json: Vec<Value> = (0..peers)
        .map(|p| {
            json!({"id": format!("p{p}"), "relation": "child", "creditLimit": 1_000_000_000u64,
                   "maxPacketAmount": 1_000_000u64, "secretRef": format!("env:P{p}")})
        })
        .collect();
    let routes_json: Vec<Value> = (0..routes)
        .map(|r| {
            json!({"prefix": format!("g.dest{}.r{r}", r % 300), "peer": format!("p{}", r % peers.max(1))})
        })
        .collect();
    json!({"ilpAddress": "g.bench", "name": "bench", "peers": peers_json, "routes": routes_json})
        .to_string()
}

fn yaml(peers: usize, routes: usize) -> String {
    let mut yaml = String::from("ilpAddress: g.bench\nname: bench\npeers:\n");
    for p in 0..peers {
        let _ = writeln!(
            yaml,
            "  - {{ id: p{p}, relation: child, creditLimit: 1000000000, maxPacketAmount: 1000000, secretRef: \"env:P{p}\" }}"
        );
    }
    yaml.push_str("routes:\n");
    for r in 0..routes {
        let _ = writeln!(
            yaml,
            "  - {{ prefix: g.dest{}.r{r}, peer: p{} }}",
            r % 300,
            r % peers.max(1)
        );
    }
    yaml
}

/// Starts the data plane `starts` times with `peers` peers and `routes` routes; the first start
/// is also weighed (after it is ready and has settled).
pub fn measure(
    format: ConfigFormat,
    peers: usize,
    routes: usize,
    starts: usize,
) -> Result<Footprint> {
    let binary = find_dataplane()?;
    let dir = TempDir::new("footprint")?;
    let config = match format {
        ConfigFormat::Yaml => yaml(peers, routes),
        ConfigFormat::Json => json_config(peers, routes),
    };
    let env: Vec<(String, String)> = (0..peers)
        .map(|p| (format!("P{p}"), format!("footprint-secret-{p}")))
        .collect();
    let mut rss_kib = 0;
    let mut ready = Vec::with_capacity(starts);
    for start in 0..starts.max(1) {
        let config_path = dir.0.join(format!("node.{}", format.name()));
        std::fs::write(&config_path, &config)?;
        let mut all = vec![("CONFIG_FILE".to_string(), config_path.display().to_string())];
        all.extend(env.iter().cloned());
        let (node, _, took) = Node::spawn(&binary, "footprint", &all, "connector_started")?;
        if node.status_of("/health/ready")? != 200 {
            bail!("the node logged connector_started but is not ready");
        }
        ready.push(took);
        if start == 0 {
            let served = node.health()?["routes"].as_u64().unwrap_or_default();
            if served != routes as u64 {
                bail!("the node serves {served} routes, not {routes}");
            }
            // Let start-up allocations settle before weighing.
            std::thread::sleep(Duration::from_millis(500));
            rss_kib = node.rss_kib()?;
        }
    }
    Ok(Footprint {
        format,
        peers,
        routes,
        rss_kib,
        ready,
    })
}

fn median_ms(values: &[Duration]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    (median.as_secs_f64() * 100_000.0).round() / 100.0
}

impl Footprint {
    pub fn to_json(&self, baseline: &Footprint) -> Value {
        json!({
            "scenario": "footprint",
            "configFormat": self.format.name(),
            "peers": self.peers,
            "routes": self.routes,
            "rssMiB": (self.rss_kib as f64 / 1024.0 * 10.0).round() / 10.0,
            "readyMs": median_ms(&self.ready),
            "starts": self.ready.len(),
            "baseline": {
                "peers": baseline.peers,
                "routes": baseline.routes,
                "rssMiB": (baseline.rss_kib as f64 / 1024.0 * 10.0).round() / 10.0,
                "readyMs": median_ms(&baseline.ready),
            },
            "rssRatioToBaseline": ((self.rss_kib as f64 / baseline.rss_kib.max(1) as f64) * 100.0).round() / 100.0,
        })
    }

    pub fn summary(&self, baseline: &Footprint) -> String {
        format!(
            "footprint {} peers / {} routes ({}): RSS {:.1} MiB, ready in {:.1} ms (median of {}); with {} peer / {} route: RSS {:.1} MiB, ready in {:.1} ms",
            self.peers,
            self.routes,
            self.format.name(),
            self.rss_kib as f64 / 1024.0,
            median_ms(&self.ready),
            self.ready.len(),
            baseline.peers,
            baseline.routes,
            baseline.rss_kib as f64 / 1024.0,
            median_ms(&baseline.ready),
        )
    }
}
