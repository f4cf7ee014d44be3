//! The metrics catalogue (`docs/metrics.md`) against the real processes: a discovery server, a
//! control plane announcing to it, and its data plane, driven through known API calls and known
//! traffic (5 fulfilled, 2 rejected by the receiver, 1 malformed Prepare, a refused login, a
//! refused configuration). Each process must export exactly the catalogue's metrics for its job,
//! with the catalogued types and label names, and the counts must match what the test did.
//! Every mismatch is collected, so one run lists them all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use e2e::{
    Process, binary, controlplane_env, dataplane_env, grpc_url, http_get, link_state, node_env,
    secret, temp_dir,
};
use proto::Address;
use proto::grpc::v1 as pb;
use proto::grpc::v1::node_service_client::NodeServiceClient;
use proto::grpc::v1::peer_service_client::PeerServiceClient;
use proto::grpc::v1::route_service_client::RouteServiceClient;
use test_kit::free_port;
use testpeer::{Outcome, Payment, TestPeer};
use tonic::transport::Channel;
use tonic::{Code, Request};

const LIMIT: Duration = Duration::from_secs(10);
const NODE: &str = "m";

// ---- the catalogue (the format is described at the top of docs/metrics.md) ----

struct Metric {
    kind: String,
    labels: BTreeSet<String>,
}

/// Job → metric name → entry.
fn catalogue() -> BTreeMap<String, BTreeMap<String, Metric>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut jobs: BTreeMap<String, BTreeMap<String, Metric>> = BTreeMap::new();
    let mut job: Option<String> = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            job = heading
                .split_once("job `")
                .map(|(_, rest)| rest.split('`').next().unwrap_or_default().to_string());
            continue;
        }
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let job = job.clone().expect("metric rows sit under a job heading");
        let labels = match cells[3] {
            "—" | "-" => BTreeSet::new(),
            list => list.split(',').map(|l| l.trim().to_string()).collect(),
        };
        jobs.entry(job).or_default().insert(
            cells[1].trim_matches('`').to_string(),
            Metric {
                kind: cells[2].to_string(),
                labels,
            },
        );
    }
    for wanted in ["dataplane", "controlplane", "discovery-server"] {
        assert!(
            jobs.contains_key(wanted),
            "docs/metrics.md has no job `{wanted}`"
        );
    }
    jobs
}

// ---- Prometheus text format ----

struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

struct Scrape {
    process: String,
    /// Family name → type, from `# TYPE` lines.
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .ok_or_else(|| format!("bad labels {text:?}"))?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("bad escape in {text:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated value in {text:?}")),
            }
        };
        labels.insert(name.trim_start_matches(',').trim().to_string(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Ok(labels)
}

fn scrape(process: &str, port: u16) -> Scrape {
    let (status, body) =
        http_get(port, "/metrics").unwrap_or_else(|| panic!("{process}: /metrics does not answer"));
    assert_eq!(status, 200, "{process}: /metrics answered {status}: {body}");
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
            types.insert(name.to_string(), kind.trim().to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (
                name,
                parse_labels(labels.strip_suffix('}').expect("closing brace"))
                    .unwrap_or_else(|e| panic!("{process}: {e} in {line:?}")),
            ),
            None => (series, BTreeMap::new()),
        };
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value: value
                .parse()
                .unwrap_or_else(|_| panic!("{process}: bad value in {line:?}")),
        });
    }
    Scrape {
        process: process.to_string(),
        types,
        samples,
    }
}

impl Scrape {
    /// The family a sample belongs to (`x_bucket` → `x` for histograms).
    fn family<'a>(&self, name: &'a str) -> &'a str {
        if self.types.contains_key(name) {
            return name;
        }
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix)
                && self.types.get(base).is_some_and(|t| t == "histogram")
            {
                return base;
            }
        }
        name
    }

    /// The value of the one series named `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64, String> {
        let matching: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        match matching.as_slice() {
            [one] => Ok(one.value),
            [] => Err(format!("{}: no series {name}{labels:?}", self.process)),
            many => Err(format!(
                "{}: {} series match {name}{labels:?}",
                self.process,
                many.len()
            )),
        }
    }

    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }
}

/// Collects every mismatch instead of stopping at the first.
#[derive(Default)]
struct Problems(Vec<String>);

/// A metric's name, labels and expected value.
type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

impl Problems {
    fn expect(&mut self, scrape: &Scrape, name: &str, labels: &[(&str, &str)], wanted: f64) {
        match scrape.value(name, labels) {
            Ok(value) if value == wanted => {}
            Ok(value) => self.0.push(format!(
                "{}: {name}{labels:?} is {value}, expected {wanted}",
                scrape.process
            )),
            Err(error) => self.0.push(error),
        }
    }

    /// `expect` for each `(name, labels, wanted)` of `expected`, in order.
    fn expect_all(&mut self, scrape: &Scrape, expected: &[Expected]) {
        for &(name, labels, wanted) in expected {
            self.expect(scrape, name, labels, wanted);
        }
    }

    fn expect_at_least(
        &mut self,
        scrape: &Scrape,
        name: &str,
        labels: &[(&str, &str)],
        least: f64,
    ) {
        match scrape.value(name, labels) {
            Ok(value) if value >= least => {}
            Ok(value) => self.0.push(format!(
                "{}: {name}{labels:?} is {value}, expected at least {least}",
                scrape.process
            )),
            Err(error) => self.0.push(error),
        }
    }

    /// The process exports exactly the catalogue's metrics for its job, with the catalogued
    /// types and label names.
    fn matches_catalogue(&mut self, scrape: &Scrape, metrics: &BTreeMap<String, Metric>) {
        for (name, metric) in metrics {
            match scrape.types.get(name) {
                None => self.0.push(format!(
                    "{}: `{name}` ({}) is in docs/metrics.md but not exported (no # TYPE line)",
                    scrape.process, metric.kind
                )),
                Some(kind) if *kind != metric.kind => self.0.push(format!(
                    "{}: `{name}` is exported as a {kind}, docs/metrics.md says {}",
                    scrape.process, metric.kind
                )),
                _ => {}
            }
        }
        for name in scrape.types.keys() {
            if !metrics.contains_key(name) {
                self.0.push(format!(
                    "{}: exports `{name}`, which docs/metrics.md does not list under its job",
                    scrape.process
                ));
            }
        }
        let mut reported = BTreeSet::new();
        for sample in &scrape.samples {
            let family = scrape.family(&sample.name);
            let Some(metric) = metrics.get(family) else {
                continue;
            };
            let mut have: BTreeSet<String> = sample.labels.keys().cloned().collect();
            if sample.name.ends_with("_bucket") && family != sample.name {
                have.remove("le");
            }
            if have != metric.labels && reported.insert(family.to_string()) {
                self.0.push(format!(
                    "{}: `{family}` has labels {have:?}, docs/metrics.md says {:?}",
                    scrape.process, metric.labels
                ));
            }
        }
    }
}

// ---- the management API, counting every call the test makes ----

fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Cancelled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

struct Api {
    channel: Channel,
    token: String,
    /// (method, code) → calls made.
    calls: BTreeMap<(String, String), u64>,
}

impl Api {
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        let bearer = format!("Bearer {}", self.token).parse().expect("header");
        request.metadata_mut().insert("authorization", bearer);
        request
    }

    fn count<T>(&mut self, method: &str, result: &Result<T, tonic::Status>) {
        let code = match result {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        *self
            .calls
            .entry((method.to_string(), code_name(code).to_string()))
            .or_default() += 1;
    }

    async fn create_peer(&mut self, peer: pb::Peer) -> Result<pb::Peer, tonic::Status> {
        let request = self.request(pb::CreatePeerRequest {
            peer: Some(peer),
            validate_only: false,
        });
        let result = PeerServiceClient::new(self.channel.clone())
            .create_peer(request)
            .await
            .map(|r| r.into_inner());
        self.count("PeerService/CreatePeer", &result);
        result
    }

    async fn delete_peer(&mut self, id: &str) -> Result<(), tonic::Status> {
        let request = self.request(pb::DeletePeerRequest {
            id: id.into(),
            ..Default::default()
        });
        let result = PeerServiceClient::new(self.channel.clone())
            .delete_peer(request)
            .await
            .map(|_| ());
        self.count("PeerService/DeletePeer", &result);
        result
    }

    async fn create_route(&mut self, prefix: &str, peer: &str) -> Result<pb::Route, tonic::Status> {
        let request = self.request(pb::CreateRouteRequest {
            route: Some(pb::Route {
                prefix: prefix.into(),
                peer_id: peer.into(),
                ..Default::default()
            }),
            validate_only: false,
        });
        let result = RouteServiceClient::new(self.channel.clone())
            .create_route(request)
            .await
            .map(|r| r.into_inner());
        self.count("RouteService/CreateRoute", &result);
        result
    }

    async fn status(&mut self, authorized: bool) -> Result<pb::NodeStatus, tonic::Status> {
        let request = if authorized {
            self.request(pb::GetStatusRequest {})
        } else {
            Request::new(pb::GetStatusRequest {})
        };
        let result = NodeServiceClient::new(self.channel.clone())
            .get_status(request)
            .await
            .map(|r| r.into_inner());
        self.count("NodeService/GetStatus", &result);
        result
    }

    /// Polls the status until `done` holds; panics with the last status after `LIMIT`.
    async fn wait_status(
        &mut self,
        what: &str,
        done: impl Fn(&pb::NodeStatus) -> bool,
    ) -> pb::NodeStatus {
        let deadline = Instant::now() + LIMIT;
        loop {
            let status = self.status(true).await.expect("status");
            if done(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: never happened: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The generation the data plane applied.
    async fn wait_applied(&mut self) -> f64 {
        let status = self
            .wait_status("data plane applies the current version", |status| {
                status.data_planes.first().is_some_and(|dp| {
                    dp.connected
                        && dp.applied_version.is_some()
                        && dp.applied_version == status.current_version
                })
            })
            .await;
        status
            .current_version
            .map(|v| v.generation as f64)
            .unwrap_or_default()
    }
}

fn payment(data: &str) -> Payment {
    Payment {
        expires_in: Duration::from_secs(5),
        ..Payment::new(
            Address::new("test.m.receiver").unwrap(),
            10,
            data.as_bytes(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_catalogued_metric_is_exported_and_counts_what_happened() {
    let catalogue = catalogue();
    let dir = temp_dir();
    let discovery = Process::start(
        "discovery-server",
        binary("discovery-server"),
        &[
            ("DISCOVERY_HOST", "127.0.0.1".into()),
            ("DISCOVERY_PORT", "0".into()),
            // A long TTL: the control plane announces once during the test, then not for ~a minute.
            ("DISCOVERY_TTL_SECONDS", "300".into()),
            (
                "DATA_DIR",
                dir.path().join("discovery").display().to_string(),
            ),
        ],
        "discovery_started",
    );
    let discovery_port = discovery.port("port");
    let endpoint = format!("http://127.0.0.1:{discovery_port}");
    let token = secret("api");
    let btp_port = free_port();
    let cp = Process::start(
        "controlplane",
        binary("controlplane"),
        &[
            node_env(NODE),
            controlplane_env(&dir.path().join("cp"), &token),
            vec![
                (
                    "NODE_KEY_FILE",
                    dir.path().join("node.key").display().to_string(),
                ),
                ("PEER_DISCOVERY_ENABLED", "true".into()),
                ("PEER_DISCOVERY_ENDPOINTS", endpoint.clone()),
                (
                    "PEER_ANNOUNCE_ADDRESS",
                    format!("ws://127.0.0.1:{btp_port}"),
                ),
                ("PEER_BROADCAST_INTERVAL_SECONDS", "60".into()),
            ],
        ]
        .concat(),
        "controlplane_started",
    );
    let (sender_secret, receiver_secret) = (secret("sender"), secret("receiver"));
    let dp = Process::start(
        "dataplane",
        binary("dataplane"),
        &[
            node_env(NODE),
            dataplane_env(btp_port, &dir.path().join("dp"), &grpc_url(&cp), &token),
            vec![
                ("SECRET_SENDER", sender_secret.clone()),
                ("SECRET_RECEIVER", receiver_secret.clone()),
            ],
        ]
        .concat(),
        "connector_started",
    );
    let health_port = dp.port("healthPort");
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", cp.port("grpcPort")))
        .unwrap()
        .connect()
        .await
        .expect("control plane reachable");
    let mut api = Api {
        channel,
        token,
        calls: BTreeMap::new(),
    };

    // Configuration: two peers (the sender with a credit limit), one route; one refused route
    // and one unauthenticated call.
    api.create_peer(pb::Peer {
        id: "sender".into(),
        relation: "child".into(),
        secret_ref: "env:SECRET_SENDER".into(),
        credit_limit: Some(1000),
        ..Default::default()
    })
    .await
    .unwrap();
    api.create_peer(pb::Peer {
        id: "receiver".into(),
        relation: "child".into(),
        secret_ref: "env:SECRET_RECEIVER".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    api.create_route("test.m.receiver", "receiver")
        .await
        .unwrap();
    let refused = api
        .create_route("test.elsewhere", "nobody")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let anonymous = api.status(false).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous:?}");
    let first_applied = api.wait_applied().await;

    // Links: both test peers, and one login with a wrong token.
    let btp_url = format!("ws://127.0.0.1:{btp_port}");
    let receiver = TestPeer::connect_as(&btp_url, &receiver_secret, "test.m.receiver")
        .await
        .expect("receiver connects");
    let sender = TestPeer::connect_as(&btp_url, &sender_secret, "test.m.sender")
        .await
        .expect("sender connects");
    let impostor = TestPeer::connect_as(&btp_url, "not-the-secret", "test.m.impostor").await;
    assert!(impostor.is_err(), "a wrong token must not log in");
    let deadline = Instant::now() + LIMIT;
    while link_state(health_port, "sender") != "up" || link_state(health_port, "receiver") != "up" {
        assert!(Instant::now() < deadline, "links never came up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Traffic: 5 fulfilled, 2 rejected by the receiver, 1 undecodable Prepare.
    for i in 0..5 {
        let outcome = sender.send(&payment(&format!("ok-{i}"))).await.unwrap();
        assert!(outcome.is_fulfilled(), "{outcome:?}");
    }
    for _ in 0..2 {
        let outcome = sender.send(&payment("tp:reject:F99")).await.unwrap();
        assert_eq!(outcome.code().map(|c| c.to_string()), Some("F99".into()));
    }
    let malformed = Bytes::from_static(&[proto::ilp::TYPE_PREPARE, 0x03, 0xff, 0xff, 0xff]);
    let outcome = sender
        .send_raw(malformed, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Rejected { code, .. } if code.to_string() == "F01"),
        "{outcome:?}"
    );

    // A configuration the data plane cannot apply (its secret is not set there), then fixed.
    api.create_peer(pb::Peer {
        id: "broken".into(),
        secret_ref: "env:SECRET_NOBODY_SET".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    api.wait_status("NACK recorded", |status| {
        status
            .data_planes
            .first()
            .is_some_and(|dp| !dp.last_nack_error.is_empty())
    })
    .await;
    api.delete_peer("broken").await.unwrap();
    let last_applied = api.wait_applied().await;

    // Discovery: the control plane's first round (announce + list), one refused request.
    let (status, _) = http_get(discovery_port, "/no/such/path").expect("discovery answers");
    assert_eq!(status, 404);
    let deadline = Instant::now() + LIMIT;
    loop {
        let cp_scrape = scrape("controlplane", cp.port("httpPort"));
        if cp_scrape.sum(
            "controlplane_discovery_requests_total",
            &[("operation", "list")],
        ) >= 1.0
        {
            break;
        }
        assert!(Instant::now() < deadline, "no discovery round was counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let dps = scrape("dataplane", health_port);
    let cps = scrape("controlplane", cp.port("httpPort"));
    let ds = scrape("discovery-server", discovery_port);
    let mut problems = Problems::default();

    // (a) Exactly the catalogue, per process.
    problems.matches_catalogue(&dps, &catalogue["dataplane"]);
    problems.matches_catalogue(&cps, &catalogue["controlplane"]);
    problems.matches_catalogue(&ds, &catalogue["discovery-server"]);

    // (b) Data plane: the traffic.
    let packets = "ilp_packets_total";
    for (peer, direction, kind, code, wanted) in [
        ("sender", "incoming", "prepare", "", 8.0),
        ("sender", "incoming", "fulfill", "", 5.0),
        ("sender", "incoming", "reject", "F99", 2.0),
        ("sender", "incoming", "reject", "F01", 1.0),
        ("receiver", "outgoing", "prepare", "", 7.0),
        ("receiver", "outgoing", "fulfill", "", 5.0),
        ("receiver", "outgoing", "reject", "F99", 2.0),
        ("sender", "outgoing", "prepare", "", 0.0),
        ("receiver", "incoming", "prepare", "", 0.0),
    ] {
        let labels = [
            ("peer", peer),
            ("direction", direction),
            ("type", kind),
            ("code", code),
        ];
        problems.expect(&dps, packets, &labels, wanted);
    }
    problems.expect_all(
        &dps,
        &[
            (
                "ilp_forward_duration_seconds_count",
                &[("outcome", "fulfilled")],
                5.0,
            ),
            (
                "ilp_forward_duration_seconds_count",
                &[("outcome", "rejected")],
                3.0,
            ),
            (
                "ilp_forward_duration_seconds_bucket",
                &[("outcome", "fulfilled"), ("le", "+Inf")],
                5.0,
            ),
            ("ilp_packets_in_flight", &[], 0.0),
            ("ilp_routes", &[], 1.0),
            ("ilp_peer_balance", &[("peer", "sender")], 50.0),
            ("ilp_peer_balance", &[("peer", "receiver")], -50.0),
            ("ilp_peer_credit_headroom", &[("peer", "sender")], 950.0),
        ],
    );
    if dps
        .value("ilp_peer_credit_headroom", &[("peer", "receiver")])
        .is_ok()
    {
        problems.0.push("dataplane: ilp_peer_credit_headroom has a series for receiver, which has no credit limit".into());
    }
    for peer in ["sender", "receiver"] {
        problems.expect(&dps, "btp_link_up", &[("peer", peer)], 1.0);
        problems.expect(&dps, "btp_link_reconnects_total", &[("peer", peer)], 0.0);
        for (state, wanted) in [
            ("up", 1.0),
            ("connecting", 0.0),
            ("backoff", 0.0),
            ("disconnected", 0.0),
        ] {
            problems.expect(
                &dps,
                "btp_link_state",
                &[("peer", peer), ("state", state)],
                wanted,
            );
        }
    }
    problems.expect_all(
        &dps,
        &[
            (
                "btp_protocol_violations_total",
                &[("peer", "sender"), ("kind", "invalid_prepare")],
                1.0,
            ),
            (
                "btp_auth_failures_total",
                &[("reason", "invalid_token")],
                1.0,
            ),
            ("dataplane_ready", &[], 1.0),
            // ILP_ADDRESS is configured: the parent (there is none) is never asked.
            (
                "dataplane_ildcp_requests_total",
                &[("result", "learned")],
                0.0,
            ),
            ("dataplane_controlplane_connected", &[], 1.0),
            (
                "dataplane_config_updates_total",
                &[("result", "rejected")],
                1.0,
            ),
        ],
    );
    // The first snapshot, and the one after the fix at least (pushes may coalesce).
    problems.expect_at_least(
        &dps,
        "dataplane_config_updates_total",
        &[("result", "applied")],
        2.0,
    );

    // (b) Control plane: the API calls made above, exactly.
    let mut counted: BTreeMap<(String, String), f64> = BTreeMap::new();
    for sample in cps
        .samples
        .iter()
        .filter(|s| s.name == "controlplane_grpc_requests_total")
    {
        let method = sample.labels.get("method").cloned().unwrap_or_default();
        // Data planes' config streams are not the management API calls this test counts.
        if method.starts_with("ConfigService/") {
            continue;
        }
        let code = sample.labels.get("code").cloned().unwrap_or_default();
        if sample.value != 0.0 {
            counted.insert((method, code), sample.value);
        }
    }
    let made: BTreeMap<(String, String), f64> = api
        .calls
        .iter()
        .map(|(k, v)| (k.clone(), *v as f64))
        .collect();
    if counted != made {
        problems.0.push(format!(
            "controlplane: controlplane_grpc_requests_total is {counted:?}, the test made {made:?}"
        ));
    }
    let mut per_method: BTreeMap<&str, f64> = BTreeMap::new();
    for ((method, _), calls) in &made {
        *per_method.entry(method.as_str()).or_default() += calls;
    }
    for (method, calls) in per_method {
        problems.expect(
            &cps,
            "controlplane_grpc_request_duration_seconds_count",
            &[("method", method)],
            calls,
        );
    }
    problems.expect_all(
        &cps,
        &[
            ("controlplane_config_nacks_total", &[], 1.0),
            ("controlplane_data_planes_connected", &[], 1.0),
            ("controlplane_peers", &[], 2.0),
            ("controlplane_routes", &[], 1.0),
            ("controlplane_discovered_nodes", &[], 0.0),
            ("controlplane_config_generation", &[], last_applied),
            (
                "controlplane_data_plane_applied_generation",
                &[("dataplane", NODE)],
                last_applied,
            ),
        ],
    );
    // Removing `broken` restored the content of `first_applied`, which the data plane still
    // serves: the control plane need not send it again.
    match dps.value("dataplane_config_generation", &[]) {
        Ok(served) if served == first_applied || served == last_applied => {}
        other => problems.0.push(format!(
            "dataplane: dataplane_config_generation is {other:?}, expected {first_applied} (same content as the current version) or {last_applied}"
        )),
    }
    for (operation, wanted) in [("announce", 1.0), ("list", 1.0)] {
        problems.expect(
            &cps,
            "controlplane_discovery_requests_total",
            &[
                ("endpoint", &endpoint),
                ("operation", operation),
                ("result", "ok"),
            ],
            wanted,
        );
    }

    // (b) Discovery server: one announcement, one refused request.
    problems.expect_all(
        &ds,
        &[
            ("discovery_announces_total", &[], 1.0),
            ("discovery_unsigned_announces_total", &[], 0.0),
            ("discovery_registered_peers", &[], 1.0),
            ("discovery_deregistrations_total", &[], 0.0),
            ("discovery_expiries_total", &[], 0.0),
            (
                "discovery_rejections_total",
                &[("reason", "not_found")],
                1.0,
            ),
            (
                "discovery_rejections_total",
                &[("reason", "bad_signature")],
                0.0,
            ),
        ],
    );

    drop((sender, receiver));
    assert!(
        problems.0.is_empty(),
        "{} problem(s) with the metrics:\n  {}",
        problems.0.len(),
        problems.0.join("\n  ")
    );
}
