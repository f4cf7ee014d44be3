//! A registry whose database cannot serve answers 503 with the usual error shape (and /health
//! says so), instead of panicking or hanging. The router runs in-process here: a closed pool is
//! the one database failure a test can cause on demand.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use discovery_server::api::{AppState, router};
use discovery_server::liveness::{Liveness, now_ms};
use discovery_server::metrics::Metrics;
use discovery_server::rate_limit::RateLimiter;
use discovery_server::store::Store;
use node_identity::NodeKey;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_failures_are_503() {
    let dir = common::temp_dir();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let store = Store::open(&url).await.unwrap();
    store.close().await;
    let state = Arc::new(AppState {
        store,
        metrics: Metrics::new(),
        liveness: Liveness::new(Duration::from_secs(60), now_ms()),
        ttl_seconds: 60,
        max_entries: 10,
        limiter: RateLimiter::new(100.0, 100),
        started: Instant::now(),
        allow_unsigned: true,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let responses = tokio::task::spawn_blocking(move || {
        let key = NodeKey::generate();
        let body =
            serde_json::to_vec(&common::announcement(&key, "n", "ws://h:1", &[], 1)).unwrap();
        let announce = common::http(port, "POST", "/api/v1/peers/announce", &[], &body);
        let list = common::http(port, "GET", "/api/v1/peers", &[], b"");
        // The seed stories' unsigned announcement meets the same 503.
        let unsigned = common::http(
            port,
            "POST",
            "/api/v1/peers/announce",
            &[],
            br#"{"nodeId":"s","btpEndpoint":"ws://h:1","ilpAddress":"g.s","capabilities":[],"version":"1"}"#,
        );
        let health = common::http(port, "GET", "/health", &[], b"");
        let metrics = common::http(port, "GET", "/metrics", &[], b"");
        (announce, list, unsigned, health, metrics)
    })
    .await
    .unwrap();
    let (announce, list, unsigned, health, metrics) = responses;
    for response in [&announce, &list, &unsigned] {
        assert_eq!(response.status, 503, "{}", response.body);
        assert!(
            response.error().starts_with("unavailable"),
            "{}",
            response.body
        );
    }
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["status"], "unavailable");
    assert_eq!(metrics.status, 200, "metrics still render");
    assert_eq!(
        test_kit::metric_value(
            &metrics.body,
            "discovery_rejections_total{reason=\"unavailable\"}"
        ),
        Some(3.0)
    );
    server.abort();
}
