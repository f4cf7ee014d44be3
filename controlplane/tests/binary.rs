//! The `controlplane` binary: refuses bad settings with one line naming the variable, refuses
//! a database from a newer version, starts, answers its own healthcheck, and stops cleanly on
//! SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_controlplane");

fn run(env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(BIN)
        .env_clear()
        .env("HTTP_PORT", "0")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_settings_exit_2_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let cases: [(&[(&str, &str)], &str); 4] = [
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
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
         VALUES (99990101000000, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)",
    )
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
    let mut child = Command::new(BIN)
        .env_clear()
        .env("DATA_DIR", dir.path())
        .env("API_TOKEN_REF", "env:T")
        .env("T", "token")
        .env("GRPC_HOST", "127.0.0.1")
        .env("GRPC_PORT", "0")
        .env("HTTP_PORT", "0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = lines.next().unwrap().unwrap();
    let event: serde_json::Value = serde_json::from_str(&started).unwrap();
    assert_eq!(event["message"], "controlplane_started", "{started}");
    let port = event["grpcPort"].as_u64().unwrap();
    assert!(port > 0);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port as u16)).is_ok());
    let http_port = event["httpPort"].as_u64().unwrap().to_string();
    let healthcheck = |port: &str| {
        Command::new(BIN)
            .env_clear()
            .args(["healthcheck", "--port", port])
            .output()
            .unwrap()
    };
    let healthy = healthcheck(&http_port);
    assert!(healthy.status.success(), "{healthy:?}");
    assert!(
        dir.path().join("controlplane.db").is_file(),
        "the embedded default database"
    );
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let stopped = healthcheck(&http_port);
    assert_eq!(stopped.status.code(), Some(1), "{stopped:?}");
    assert!(
        String::from_utf8_lossy(&stopped.stderr).contains("controlplane healthcheck:"),
        "{stopped:?}"
    );
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("\"controlplane_shutdown\"")),
        "{rest:?}"
    );
}
