//! Route push: how long a change made in the control plane takes to be served by a data plane,
//! with N routes in the table (each push carries the whole table).
//!
//! The control plane starts with N routes from its config file; the data plane then connects
//! and receives them (the initial push); then single routes are added through the gRPC API, one
//! at a time, each timed from the call until the data plane's `/health` counts it.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use proto::grpc::v1 as pb;
use proto::grpc::v1::route_service_client::RouteServiceClient;
use serde_json::{Value, json};

use crate::node::{Node, TempDir, find_binary, find_dataplane};

const TOKEN: &str = "bench-api-token";
const WAIT: Duration = Duration::from_secs(120);

pub struct RoutePush {
    pub routes: usize,
    pub changes: usize,
    pub initial: Duration,
    pub controlplane_start: Duration,
    pub change_times: Vec<Duration>,
}

fn config_yaml(routes: usize) -> String {
    let mut yaml = String::from(
        "peers:\n  - { id: sink, relation: child, secretRef: \"env:SINK_SECRET\" }\nroutes:\n",
    );
    for i in 0..routes {
        let _ = writeln!(
            yaml,
            "  - {{ prefix: g.bench.p{}.r{i}, peer: sink }}",
            i % 300
        );
    }
    yaml
}

fn routes_served(node: &Node) -> Result<u64> {
    node.health()?["routes"]
        .as_u64()
        .context("/health has no routes count")
}

fn wait_routes(node: &Node, want: u64, since: Instant) -> Result<Duration> {
    loop {
        if routes_served(node)? == want {
            return Ok(since.elapsed());
        }
        if since.elapsed() > WAIT {
            bail!(
                "the data plane never served {want} routes; last logs:\n{}",
                node.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub async fn route_push(routes: usize, changes: usize) -> Result<RoutePush> {
    let controlplane = find_binary("controlplane", "CONTROLPLANE_BIN")?;
    let dataplane = find_dataplane()?;
    let dir = TempDir::new("route-push")?;
    let config = dir.0.join("routes.yaml");
    std::fs::write(&config, config_yaml(routes)).context("write the config file")?;
    let cp_env: Vec<(String, String)> = [
        ("NODE_ID", "bench".to_string()),
        ("GRPC_HOST", "127.0.0.1".into()),
        ("GRPC_PORT", "0".into()),
        ("HTTP_HOST", "127.0.0.1".into()),
        ("HTTP_PORT", "0".into()),
        ("DATA_DIR", dir.0.join("cp").display().to_string()),
        ("API_TOKEN_REF", "env:API_TOKEN".into()),
        ("API_TOKEN", TOKEN.into()),
        ("CONFIG_FILE", config.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (cp, started, controlplane_start) = tokio::task::block_in_place(|| {
        Node::spawn(
            &controlplane,
            "controlplane",
            &cp_env,
            "controlplane_started",
        )
    })?;
    let grpc_port = started["grpcPort"]
        .as_u64()
        .context("controlplane_started has no grpcPort")?;
    let dp_env: Vec<(String, String)> = [
        ("NODE_ID", "bench".to_string()),
        ("ILP_ADDRESS", "g.bench".into()),
        ("CONTROLPLANE_URL", format!("http://127.0.0.1:{grpc_port}")),
        ("CONTROLPLANE_TOKEN", TOKEN.into()),
        ("DATA_DIR", dir.0.join("dp").display().to_string()),
        ("SINK_SECRET", "bench-sink-secret".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (dp, initial) = tokio::task::block_in_place(|| -> Result<(Node, Duration)> {
        let spawned = Instant::now();
        let (dp, _, _) = Node::spawn(&dataplane, "dataplane", &dp_env, "connector_started")?;
        let initial = wait_routes(&dp, routes as u64, spawned)?;
        Ok((dp, initial))
    })?;
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{grpc_port}"))?
        .connect()
        .await
        .context("connect to the control plane")?;
    let mut client = RouteServiceClient::new(channel);
    let mut change_times = Vec::with_capacity(changes);
    for k in 0..changes {
        let mut request = tonic::Request::new(pb::CreateRouteRequest {
            route: Some(pb::Route {
                prefix: format!("g.bench.added{k}"),
                peer_id: "sink".into(),
                ..Default::default()
            }),
            validate_only: false,
        });
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {TOKEN}").parse()?);
        let started = Instant::now();
        client
            .create_route(request)
            .await
            .context("create a route")?;
        let want = (routes + k + 1) as u64;
        change_times.push(tokio::task::block_in_place(|| {
            wait_routes(&dp, want, started)
        })?);
    }
    drop(dp);
    drop(cp);
    Ok(RoutePush {
        routes,
        changes,
        initial,
        controlplane_start,
        change_times,
    })
}

fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

impl RoutePush {
    fn change_quantiles(&self) -> (Duration, Duration) {
        let mut sorted = self.change_times.clone();
        sorted.sort();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        let max = sorted.last().copied().unwrap_or_default();
        (median, max)
    }

    pub fn to_json(&self, baseline: Option<&RoutePush>) -> Value {
        let (median, max) = self.change_quantiles();
        let mut line = json!({
            "scenario": "route-push",
            "routes": self.routes,
            "controlplaneStartMs": ms(self.controlplane_start),
            "initialPushMs": ms(self.initial),
            "changes": self.changes,
            "changeMs": { "p50": ms(median), "max": ms(max) },
        });
        if let Some(baseline) = baseline {
            let (base_median, _) = baseline.change_quantiles();
            if base_median > Duration::ZERO {
                line["changeRatioToOneRoute"] = json!(
                    (median.as_secs_f64() / base_median.as_secs_f64() * 100.0).round() / 100.0
                );
            }
        }
        line
    }

    pub fn summary(&self) -> String {
        let (median, max) = self.change_quantiles();
        format!(
            "route-push {:>7} routes: control plane up in {:.1} ms, initial push served {:.1} ms after the data plane started, one change served in p50 {:.1} ms / max {:.1} ms ({} changes)",
            self.routes,
            ms(self.controlplane_start),
            ms(self.initial),
            ms(median),
            ms(max),
            self.changes
        )
    }
}
