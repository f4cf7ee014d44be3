//! OpenTelemetry traces across real processes, received by an in-test OTLP collector
//! (`otlp-sink`): one packet's spans on every hop join one trace with the right parents;
//! shutdown flushes what is still buffered; management calls and config pushes have spans;
//! without an endpoint nothing is exported.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use e2e::{
    Process, binary, controlplane_env, dataplane_env, grpc_url, metric, node_env, secret, temp_dir,
};
use otlp_sink::{Sink, SpanRecord};
use proto::Address;
use proto::grpc::v1 as pb;
use proto::grpc::v1::peer_service_client::PeerServiceClient;
use proto::grpc::v1::route_service_client::RouteServiceClient;
use testpeer::{Payment, TestPeer};
use tonic::Request;

const WAIT: Duration = Duration::from_secs(15);
const SERVER: i32 = 2;
const CLIENT: i32 = 3;

async fn sink() -> (SocketAddr, Sink) {
    otlp_sink::start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("sink listens")
}

fn otel_env(endpoint: SocketAddr, service: &str, delay_ms: u64) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{endpoint}")),
        ("OTEL_SERVICE_NAME", service.to_string()),
        ("OTEL_TRACES_SAMPLER", "always_on".to_string()),
        // Export soon after a span ends (the default waits 5 s), or hold spans until shutdown.
        ("OTEL_BSP_SCHEDULE_DELAY", delay_ms.to_string()),
    ]
}

/// A standalone data plane (peers from the environment) on ephemeral ports.
fn data_plane(name: &str, peers: &[(&str, String)], extra: &[(&'static str, String)]) -> Process {
    let mut env: Vec<(&str, String)> = node_env(name);
    env.extend([
        ("BTP_SERVER_HOST", "127.0.0.1".into()),
        ("BTP_SERVER_PORT", "0".into()),
        ("HEALTH_CHECK_HOST", "127.0.0.1".into()),
        ("HEALTH_CHECK_PORT", "0".into()),
        // These tests follow traces, not money: no ledger files to place and clean up.
        ("LEDGER", "memory".into()),
    ]);
    env.extend(peers.iter().cloned());
    env.extend(extra.iter().cloned());
    Process::start(name, binary("dataplane"), &env, "connector_started")
}

fn btp_url(process: &Process) -> String {
    format!("ws://127.0.0.1:{}", process.port("btpServerPort"))
}

async fn test_peer(url: &str, token: &str, address: &str) -> TestPeer {
    TestPeer::connect_as(url, token, address)
        .await
        .expect("test peer connects")
}

fn payment(destination: &str, data: &str) -> Payment {
    Payment::new(Address::new(destination).unwrap(), 10, data.as_bytes())
}

fn find<'a>(spans: &'a [SpanRecord], service: &str, name: &str) -> Vec<&'a SpanRecord> {
    spans
        .iter()
        .filter(|s| s.service == service && s.name == name)
        .collect()
}

fn one<'a>(spans: &'a [SpanRecord], service: &str, name: &str, trace: &str) -> &'a SpanRecord {
    let found: Vec<_> = find(spans, service, name)
        .into_iter()
        .filter(|s| s.trace_id == trace)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {name} span from {service} in trace {trace}; all spans: {spans:#?}"
    );
    found[0]
}

/// A line A — B — C. The sender dials A; C serves the receiver; A and B dial their next hop.
/// C holds its spans (a long export delay) so that only its shutdown can deliver them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_packet_is_one_trace_across_every_hop() {
    let (endpoint, sink) = sink().await;
    let (ab, bc, sender_secret, receiver_secret) = (
        secret("ab"),
        secret("bc"),
        secret("sender"),
        secret("receiver"),
    );
    let c = data_plane(
        "c",
        &[
            ("BTP_PEER_B_SECRET", bc.clone()),
            ("BTP_PEER_RECEIVER_SECRET", receiver_secret.clone()),
            ("BTP_PEER_RECEIVER_RELATION", "child".into()),
            ("BTP_PEER_RECEIVER_ROUTES", "test.c.receiver".into()),
        ],
        &otel_env(endpoint, "node-c", 600_000),
    );
    let b = data_plane(
        "b",
        &[
            ("BTP_PEER_C_URL", btp_url(&c)),
            ("BTP_PEER_C_SECRET", bc),
            ("BTP_PEER_C_ROUTES", "test.c".into()),
            ("BTP_PEER_A_SECRET", ab.clone()),
        ],
        &otel_env(endpoint, "node-b", 50),
    );
    let a = data_plane(
        "a",
        &[
            ("BTP_PEER_B_URL", btp_url(&b)),
            ("BTP_PEER_B_SECRET", ab),
            ("BTP_PEER_B_ROUTES", "test.c".into()),
            ("BTP_PEER_SENDER_SECRET", sender_secret.clone()),
            ("BTP_PEER_SENDER_RELATION", "child".into()),
        ],
        &otel_env(endpoint, "node-a", 50),
    );
    for node in [&a, &b, &c] {
        assert_eq!(node.started["tracesExported"], true, "{}", node.started);
    }
    let _receiver = test_peer(&btp_url(&c), &receiver_secret, "test.c.receiver").await;
    let sender = test_peer(&btp_url(&a), &sender_secret, "test.a.sender").await;
    let health_a = a.port("healthPort");
    e2e::wait_until("a's link to b", WAIT, || {
        e2e::link_state(health_a, "b") == "up"
    });
    e2e::wait_until("b's link to c", WAIT, || {
        e2e::link_state(b.port("healthPort"), "c") == "up"
    });

    let outcome = sender
        .send(&payment("test.c.receiver", "traced"))
        .await
        .expect("answered");
    assert!(outcome.is_fulfilled(), "{outcome:?}");

    // A and B export within their short delay; C holds its spans.
    let spans = sink
        .wait_for(WAIT, |spans| {
            !find(spans, "node-a", "ilp.forward").is_empty()
                && !find(spans, "node-b", "ilp.forward").is_empty()
        })
        .await;
    let a_forward = find(&spans, "node-a", "ilp.forward");
    assert_eq!(a_forward.len(), 1, "{spans:#?}");
    let trace = a_forward[0].trace_id.clone();
    assert!(
        find(&spans, "node-c", "ilp.forward").is_empty(),
        "c was to hold its spans until shutdown: {spans:#?}"
    );

    // SIGTERM: C drains, then flushes what it held.
    let mut c = c;
    assert!(c.terminate_and_wait(WAIT).success());
    let spans = sink
        .wait_for(WAIT, |spans| {
            !find(spans, "node-c", "ilp.forward").is_empty()
        })
        .await;

    let a_forward = one(&spans, "node-a", "ilp.forward", &trace);
    let a_send = one(&spans, "node-a", "ilp.send", &trace);
    let b_forward = one(&spans, "node-b", "ilp.forward", &trace);
    let b_send = one(&spans, "node-b", "ilp.send", &trace);
    let c_forward = one(&spans, "node-c", "ilp.forward", &trace);

    // The sender sent no context, so A starts the trace; each hop's server span is the child
    // of the previous hop's client span.
    assert_eq!(a_forward.parent_span_id, "", "A's span is the root");
    assert_eq!(a_send.parent_span_id, a_forward.span_id);
    assert_eq!(b_forward.parent_span_id, a_send.span_id);
    assert_eq!(b_send.parent_span_id, b_forward.span_id);
    assert_eq!(c_forward.parent_span_id, b_send.span_id);
    for span in [a_forward, b_forward, c_forward] {
        assert_eq!(span.kind, SERVER, "{span:?}");
        assert_eq!(span.attributes["ilp.result"], "fulfilled", "{span:?}");
        assert_eq!(span.attributes["ilp.amount"], "10", "{span:?}");
    }
    for span in [a_send, b_send] {
        assert_eq!(span.kind, CLIENT, "{span:?}");
    }
    assert_eq!(a_forward.attributes["ilp.from"], "sender");
    assert_eq!(a_forward.attributes["ilp.next_hop"], "b");
    assert_eq!(a_forward.attributes["ilp.destination_prefix"], "test.c");
    assert_eq!(c_forward.attributes["ilp.next_hop"], "receiver");
    assert_eq!(
        c_forward.attributes["ilp.destination_prefix"],
        "test.c.receiver"
    );
    let waited: f64 = a_forward.attributes["ilp.downstream_wait_ms"]
        .parse()
        .expect("a number of milliseconds");
    assert!(waited > 0.0, "{a_forward:?}");
    // Waiting downstream is part of forwarding: A's span lasts at least as long as B's.
    assert!(a_forward.duration_ns >= b_forward.duration_ns);

    // A packet A cannot route is its own trace, ending at A with the reject code.
    let outcome = sender
        .send(&payment("test.nowhere", "lost"))
        .await
        .expect("answered");
    assert!(!outcome.is_fulfilled());
    let spans = sink
        .wait_for(WAIT, |spans| {
            find(spans, "node-a", "ilp.forward").len() >= 2
        })
        .await;
    let lost: Vec<_> = find(&spans, "node-a", "ilp.forward")
        .into_iter()
        .filter(|s| s.trace_id != trace)
        .collect();
    assert_eq!(lost.len(), 1, "{spans:#?}");
    assert_eq!(lost[0].attributes["ilp.result"], "F02");
    assert!(!lost[0].attributes.contains_key("ilp.next_hop"));
}

/// With no OTLP endpoint, even with the other OTEL_* variables set, no span leaves the node.
/// The test also listens on the OTLP default port when it is free, in case something fell
/// back to the default endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_an_endpoint_nothing_is_exported() {
    let default_port = otlp_sink::start("127.0.0.1:4317".parse().unwrap())
        .await
        .ok();
    let secret = secret("sender");
    let mut a = data_plane(
        "a",
        &[
            ("BTP_PEER_SENDER_SECRET", secret.clone()),
            ("BTP_PEER_SENDER_RELATION", "child".into()),
            ("BTP_PEER_SENDER_ROUTES", "test.a.sender".into()),
        ],
        &[
            ("OTEL_SERVICE_NAME", "node-a".into()),
            ("OTEL_TRACES_SAMPLER", "always_on".into()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50".into()),
        ],
    );
    assert_eq!(a.started["tracesExported"], false, "{}", a.started);
    let sender = test_peer(&btp_url(&a), &secret, "test.a.sender").await;
    for i in 0..5 {
        let outcome = sender
            .send(&payment("test.nowhere", &format!("p{i}")))
            .await
            .expect("answered");
        assert!(!outcome.is_fulfilled());
    }
    assert!(a.terminate_and_wait(WAIT).success());
    if let Some((_, sink)) = default_port {
        // Well past the 50 ms export delay, and after the shutdown flush.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(sink.spans().is_empty(), "{:#?}", sink.spans());
    }
    assert!(
        !a.logs().iter().any(|l| l.contains("trace_export")),
        "{:#?}",
        a.logs()
    );
}

struct Managed {
    cp: Process,
    dp: Process,
    token: String,
}

fn managed_node(dir: &Path, endpoint: SocketAddr) -> Managed {
    let token = secret("api");
    let cp = Process::start(
        "controlplane",
        binary("controlplane"),
        &[
            vec![("NODE_ID", "a".to_string())],
            controlplane_env(&dir.join("cp"), &token),
            otel_env(endpoint, "cp-a", 50),
        ]
        .concat(),
        "controlplane_started",
    );
    let dp = Process::start(
        "dataplane",
        binary("dataplane"),
        &[
            node_env("a"),
            dataplane_env(0, &dir.join("dp"), &grpc_url(&cp), &token),
            vec![("SECRET_X", secret("x"))],
            otel_env(endpoint, "dp-a", 50),
        ]
        .concat(),
        "connector_started",
    );
    Managed { cp, dp, token }
}

fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    request
}

/// Counter and gauge values of one `/metrics` page, by full series text.
fn scrape(port: u16) -> HashMap<String, f64> {
    let (_, text) = e2e::http_get(port, "/metrics").expect("metrics answer");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn management_calls_and_config_pushes_are_traced_and_counted() {
    let (endpoint, sink) = sink().await;
    let dir = temp_dir();
    let node = managed_node(dir.path(), endpoint);
    let url = format!("http://127.0.0.1:{}", node.cp.port("grpcPort"));
    let channel = tonic::transport::Channel::from_shared(url)
        .unwrap()
        .connect()
        .await
        .expect("control plane reachable");
    let mut peers = PeerServiceClient::new(channel.clone());
    let mut routes = RouteServiceClient::new(channel);
    let peer = Some(pb::Peer {
        id: "x".into(),
        secret_ref: "env:SECRET_X".into(),
        ..Default::default()
    });
    let route = Some(pb::Route {
        prefix: "test.x".into(),
        peer_id: "nobody".into(),
        ..Default::default()
    });
    let validate_only = false;
    peers
        .create_peer(authorized(
            pb::CreatePeerRequest {
                peer,
                validate_only,
            },
            &node.token,
        ))
        .await
        .expect("peer created");
    let missing = routes
        .create_route(authorized(
            pb::CreateRouteRequest {
                route,
                validate_only,
            },
            &node.token,
        ))
        .await
        .expect_err("a route to an unknown peer is refused");
    let refused = peers
        .list_peers(authorized(pb::ListPeersRequest::default(), "wrong"))
        .await
        .expect_err("a wrong token is refused");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    let spans = sink
        .wait_for(WAIT, |spans| {
            // The last joined apply's parent must be in too: the two processes export on
            // their own schedules, so an apply can arrive before the push that caused it.
            let last_apply = find(spans, "dp-a", "config.apply")
                .into_iter()
                .rfind(|s| !s.parent_span_id.is_empty());
            last_apply.is_some_and(|apply| spans.iter().any(|s| s.span_id == apply.parent_span_id))
                && find(spans, "cp-a", "PeerService/CreatePeer").len() == 1
        })
        .await;
    let created = find(&spans, "cp-a", "PeerService/CreatePeer");
    assert_eq!(created.len(), 1, "{spans:#?}");
    assert_eq!(created[0].kind, SERVER);
    assert_eq!(
        created[0].attributes["rpc.method"],
        "PeerService/CreatePeer"
    );
    assert_eq!(created[0].attributes["rpc.grpc.status_code"], "0");

    // The push that carried the new peer and the data plane's apply of it: one trace.
    let applied: Vec<_> = find(&spans, "dp-a", "config.apply")
        .into_iter()
        .filter(|s| !s.parent_span_id.is_empty())
        .collect();
    let apply = applied.last().expect("an apply joined to a push");
    let push = spans
        .iter()
        .find(|s| s.span_id == apply.parent_span_id)
        .unwrap_or_else(|| panic!("the apply's parent is not exported: {spans:#?}"));
    assert_eq!(push.name, "config.push");
    assert_eq!(push.service, "cp-a");
    assert_eq!(push.trace_id, apply.trace_id);
    assert_eq!(push.attributes["dataplane"], "a");
    assert_eq!(apply.attributes["config.result"], "applied");
    assert_eq!(
        push.attributes["config.generation"],
        apply.attributes["config.generation"]
    );

    // The same calls in the control plane's metrics, by method and code.
    let cp = scrape(node.cp.port("httpPort"));
    let count = |method: &str, code: &str| {
        cp.get(&format!(
            "controlplane_grpc_requests_total{{code=\"{code}\",method=\"{method}\"}}"
        ))
        .copied()
        .unwrap_or(0.0)
    };
    assert_eq!(count("PeerService/CreatePeer", "OK"), 1.0, "{cp:#?}");
    assert_eq!(
        count(
            "RouteService/CreateRoute",
            match missing.code() {
                tonic::Code::NotFound => "NotFound",
                tonic::Code::FailedPrecondition => "FailedPrecondition",
                tonic::Code::InvalidArgument => "InvalidArgument",
                other => panic!("unexpected code {other:?}"),
            }
        ),
        1.0,
        "{cp:#?}"
    );
    assert_eq!(
        count("PeerService/ListPeers", "Unauthenticated"),
        1.0,
        "{cp:#?}"
    );
    assert_eq!(count("ConfigService/StreamConfig", "OK"), 1.0, "{cp:#?}");
    assert_eq!(
        cp.get(
            "controlplane_grpc_request_duration_seconds_count{method=\"PeerService/CreatePeer\"}"
        ),
        Some(&1.0)
    );

    // Versions: what the control plane pushes, what the data plane applied, and what the
    // control plane saw acknowledged agree; nothing was refused.
    let generation = cp["controlplane_config_generation"];
    assert!(generation >= 1.0);
    let health = node.dp.port("healthPort");
    e2e::wait_until("the data plane applies the push", WAIT, || {
        metric(health, "dataplane_config_generation") == Some(generation)
    });
    assert_eq!(
        metric(health, "dataplane_controlplane_connected"),
        Some(1.0)
    );
    assert!(
        metric(health, "dataplane_config_updates_total{result=\"applied\"}").unwrap_or(0.0) >= 1.0
    );
    assert_eq!(
        metric(
            health,
            "dataplane_config_updates_total{result=\"rejected\"}"
        ),
        Some(0.0)
    );
    e2e::wait_until("the ack is recorded", WAIT, || {
        scrape(node.cp.port("httpPort"))
            .get("controlplane_data_plane_applied_generation{dataplane=\"a\"}")
            == Some(&generation)
    });
    let cp = scrape(node.cp.port("httpPort"));
    assert_eq!(cp["controlplane_peers"], 1.0);
    assert_eq!(cp["controlplane_routes"], 0.0);
    assert_eq!(cp["controlplane_config_nacks_total"], 0.0);
}

/// A control plane announcing to a discovery server: the server's request spans are children
/// of the control plane's client spans, joined through the `traceparent` header.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn discovery_requests_join_the_control_planes_trace() {
    let (endpoint, sink) = sink().await;
    let dir = temp_dir();
    let discovery = Process::start(
        "discovery",
        binary("discovery-server"),
        &[
            vec![
                ("DISCOVERY_HOST", "127.0.0.1".to_string()),
                ("DISCOVERY_PORT", "0".into()),
                (
                    "DATA_DIR",
                    dir.path().join("discovery").display().to_string(),
                ),
            ],
            otel_env(endpoint, "discovery", 50),
        ]
        .concat(),
        "discovery_started",
    );
    assert_eq!(discovery.started["tracesExported"], true);
    let port = discovery.port("port");
    let _cp = Process::start(
        "controlplane",
        binary("controlplane"),
        &[
            node_env("a"),
            controlplane_env(&dir.path().join("cp"), &secret("api")),
            vec![
                (
                    "NODE_KEY_FILE",
                    dir.path().join("node.key").display().to_string(),
                ),
                ("PEER_DISCOVERY_ENABLED", "true".into()),
                (
                    "PEER_DISCOVERY_ENDPOINTS",
                    format!("http://127.0.0.1:{port}"),
                ),
                ("PEER_ANNOUNCE_ADDRESS", "ws://127.0.0.1:3999".into()),
            ],
            otel_env(endpoint, "cp-a", 50),
        ]
        .concat(),
        "controlplane_started",
    );
    let joined = |spans: &[SpanRecord], client: &str, server: &str| -> bool {
        find(spans, "cp-a", client).iter().any(|c| {
            find(spans, "discovery", server)
                .iter()
                .any(|s| s.parent_span_id == c.span_id && s.trace_id == c.trace_id)
        })
    };
    let spans = sink
        .wait_for(WAIT, |spans| {
            joined(spans, "discovery announce", "POST /api/v1/peers/announce")
                && joined(spans, "discovery list", "GET /api/v1/peers")
        })
        .await;
    assert!(
        joined(&spans, "discovery announce", "POST /api/v1/peers/announce"),
        "{spans:#?}"
    );
    assert!(
        joined(&spans, "discovery list", "GET /api/v1/peers"),
        "{spans:#?}"
    );
    let announce = find(&spans, "discovery", "POST /api/v1/peers/announce")[0];
    assert_eq!(announce.kind, SERVER);
    assert_eq!(announce.attributes["http.route"], "/api/v1/peers/announce");
    assert_eq!(announce.attributes["http.response.status_code"], "200");
    let client = find(&spans, "cp-a", "discovery announce")[0];
    assert_eq!(client.kind, CLIENT);
    assert_eq!(
        client.attributes["discovery.endpoint"],
        format!("http://127.0.0.1:{port}")
    );
}
