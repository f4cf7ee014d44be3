//! The `controlplane` binary: refuses bad settings with one line naming the variable, refuses
//! a database from a newer version, starts, answers its own healthcheck, stops cleanly on
//! SIGTERM, and records how the node settles in its database at every start.

use std::process::Command;
use std::time::Duration;

use test_kit::Service;

const BIN: &str = env!("CARGO_BIN_EXE_controlplane");

fn run(env: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("HTTP_PORT", "0")
        .envs(env.iter().copied());
    let output = test_kit::run(command);
    (output.code.unwrap_or(-1), output.stderr)
}

#[test]
fn bad_settings_exit_2_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("DATA_DIR", &data)], "API_TOKEN_REF: required"),
        (
            &[("DATA_DIR", &data), ("API_TOKEN_REF", "hunter2")],
            "API_TOKEN_REF: must be a secret reference",
        ),
        (
            &[
                ("DATA_DIR", &data),
                ("API_TOKEN_REF", "env:UNSET_TOKEN_VAR"),
            ],
            "env:UNSET_TOKEN_VAR: environment variable is not set",
        ),
        (
            &[
                ("DATA_DIR", &data),
                ("API_TOKEN_REF", "env:T"),
                ("T", "x"),
                ("GRPC_PORT", "http"),
            ],
            "GRPC_PORT",
        ),
        (
            &[
                ("DATA_DIR", &data),
                ("API_TOKEN_REF", "env:T"),
                ("T", "x"),
                ("KEY_BACKEND", "gcp-kms"),
            ],
            "KEY_BACKEND: \"gcp-kms\" is not supported by this build yet",
        ),
    ];
    for (env, needle) in cases {
        let (code, stderr) = run(env);
        assert_eq!(code, 2, "{env:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(needle),
            "{stderr:?} should contain {needle:?}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cp.db").display());
    let store = controlplane::store::Store::open(&url).await.unwrap();
    sqlx::query(test_kit::NEWER_MIGRATION_SQL)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let (code, stderr) = run(&[
        ("DATABASE_URL", &url),
        ("API_TOKEN_REF", "env:T"),
        ("T", "x"),
        ("GRPC_PORT", "0"),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("newer version"), "{stderr}");
}

#[test]
fn starts_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(
        "controlplane",
        BIN,
        &[
            ("DATA_DIR", dir.path().display().to_string()),
            ("API_TOKEN_REF", "env:T".into()),
            ("T", "token".into()),
            ("GRPC_HOST", "127.0.0.1".into()),
            ("GRPC_PORT", "0".into()),
            ("HTTP_PORT", "0".into()),
        ],
        "controlplane_started",
    );
    let stdout = |service: &Service| -> Vec<String> {
        service
            .run_logs()
            .into_iter()
            .filter(|l| !l.starts_with("stderr: "))
            .collect()
    };
    let started = stdout(&service).first().cloned().unwrap_or_default();
    let event: serde_json::Value = serde_json::from_str(&started).unwrap();
    assert_eq!(event["message"], "controlplane_started", "{started}");
    let port = event["grpcPort"].as_u64().unwrap();
    assert!(port > 0);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port as u16)).is_ok());
    let http_port = event["httpPort"].as_u64().unwrap().to_string();
    let healthcheck = |port: &str| test_kit::healthcheck(BIN, port);
    let healthy = healthcheck(&http_port);
    assert!(healthy.status.success(), "{healthy:?}");
    assert!(
        dir.path().join("controlplane.db").is_file(),
        "the embedded default database"
    );
    service.terminate();
    let status = service.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    let stopped = healthcheck(&http_port);
    assert_eq!(stopped.status.code(), Some(1), "{stopped:?}");
    assert!(
        String::from_utf8_lossy(&stopped.stderr).contains("controlplane healthcheck:"),
        "{stopped:?}"
    );
    let rest: Vec<String> = stdout(&service).into_iter().skip(1).collect();
    assert!(
        rest.iter().any(|l| l.contains("\"controlplane_shutdown\"")),
        "{rest:?}"
    );
}

/// Starts the binary on `dir` with `env`, asks its status over gRPC, stops it; the status's
/// settlement.
async fn settlement_after_start(
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> proto::grpc::v1::Settlement {
    use proto::grpc::v1 as pb;
    let mut all: Vec<(&str, String)> = vec![
        ("DATA_DIR", dir.display().to_string()),
        ("API_TOKEN_REF", "env:T".into()),
        ("T", "token".into()),
        ("GRPC_HOST", "127.0.0.1".into()),
        ("GRPC_PORT", "0".into()),
        ("HTTP_PORT", "0".into()),
    ];
    all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
    let mut service = Service::start("controlplane", BIN, &all, "controlplane_started");
    let port = service.port("grpcPort");
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("a URL")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("the gRPC port answers");
    let mut request = tonic::Request::new(pb::GetStatusRequest::default());
    request
        .metadata_mut()
        .insert("authorization", "Bearer token".parse().expect("ASCII"));
    let status = pb::node_service_client::NodeServiceClient::new(channel)
        .get_status(request)
        .await
        .expect("a status")
        .into_inner();
    service.terminate();
    assert!(service.wait_exit(Duration::from_secs(10)).success());
    status.settlement.unwrap_or_default()
}

/// The node_settlement rows of the database in `dir`: (method, address, changed_at_ms).
async fn stored_settlement(dir: &std::path::Path) -> Vec<(String, Option<String>, i64)> {
    use sqlx::ConnectOptions;
    let mut connection = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("controlplane.db"))
        .read_only(true)
        .connect()
        .await
        .expect("the database opens");
    sqlx::query_as("SELECT method, address, changed_at_ms FROM node_settlement ORDER BY method")
        .fetch_all(&mut connection)
        .await
        .expect("the table is there")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_new_settlement_values_updates_the_store_and_the_status() {
    const EVM: &str = "0x52908400098527886E0F7030069857D2E4169EE7";
    const EVM2: &str = "0xde709f2102306220921060314715629080e2fb77";
    const XRP: &str = "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh";
    let dir = tempfile::tempdir().unwrap();
    let first = [("SETTLEMENT", "evm"), ("SETTLEMENT_EVM_ADDRESS", EVM)];
    let shown = settlement_after_start(dir.path(), &first).await;
    assert_eq!(shown.capabilities, ["evm-settlement"]);
    assert_eq!(shown.evm_address, EVM);
    let rows = stored_settlement(dir.path()).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_deref()),
        ("evm", Some(EVM))
    );
    let recorded_at = rows[0].2;

    // The same values again: the row, and when it changed, stay as they were.
    settlement_after_start(dir.path(), &first).await;
    assert_eq!(stored_settlement(dir.path()).await, rows);

    // New values: the rows follow, and so does the status.
    let second = [
        ("SETTLEMENT", "both"),
        ("SETTLEMENT_EVM_ADDRESS", EVM2),
        ("SETTLEMENT_XRP_ADDRESS", XRP),
    ];
    let shown = settlement_after_start(dir.path(), &second).await;
    assert_eq!(shown.capabilities, ["evm-settlement", "xrp-settlement"]);
    assert_eq!(
        (shown.evm_address.as_str(), shown.xrp_address.as_str()),
        (EVM2, XRP)
    );
    let rows = stored_settlement(dir.path()).await;
    let methods: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|(m, a, _)| (m.as_str(), a.as_deref()))
        .collect();
    assert_eq!(methods, [("evm", Some(EVM2)), ("xrp", Some(XRP))]);
    assert!(rows[0].2 >= recorded_at, "{rows:?}");
}
