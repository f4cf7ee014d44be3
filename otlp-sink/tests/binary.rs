//! The `otlp-sink` binary: receives an OTLP export over gRPC and prints each span as JSON.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn prints_each_received_span_as_json() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_otlp-sink"))
        .env("OTLP_SINK_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started: serde_json::Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(started["message"], "otlp_sink_started");
    let address = started["address"].as_str().unwrap().to_string();

    let mut client = TraceServiceClient::connect(format!("http://{address}"))
        .await
        .unwrap();
    let span = Span {
        trace_id: vec![0xab; 16],
        span_id: vec![0x01; 8],
        parent_span_id: vec![0x02; 8],
        name: "ilp.forward".into(),
        kind: 2,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 3_500,
        attributes: vec![string("ilp.next_hop", "b")],
        ..Default::default()
    };
    client
        .export(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![string("service.name", "node-a")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
        .await
        .unwrap();
    let line = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let printed: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(printed["traceId"], "ab".repeat(16));
    assert_eq!(printed["spanId"], "01".repeat(8));
    assert_eq!(printed["parentSpanId"], "02".repeat(8));
    assert_eq!(printed["name"], "ilp.forward");
    assert_eq!(printed["service"], "node-a");
    assert_eq!(printed["kind"], 2);
    assert_eq!(printed["durationNs"], 2_500);
    assert_eq!(printed["attributes"]["ilp.next_hop"], "b");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    reader.join().unwrap();
}
