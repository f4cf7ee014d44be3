//! The binary's life: settings refused with exit 2, TTL expiry counted once, the grace after a
//! restart, SIGTERM, the healthcheck subcommand, a newer schema refused.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{BIN, Server, announcement, temp_dir};
use node_identity::NodeKey;
use proto::discovery::sign_deregistration;
use test_kit::wait_until;

#[test]
fn bad_settings_exit_2_naming_the_variable() {
    let dir = temp_dir();
    let data = dir.path().display().to_string();
    let cases = [
        ("DISCOVERY_TTL_SECONDS", "0"),
        ("DISCOVERY_TTL_SECONDS", "3601"),
        ("DISCOVERY_TTL_SECONDS", "2m"),
        ("DISCOVERY_PORT", "http"),
        ("DISCOVERY_RATE_PER_SECOND", "0"),
        ("DISCOVERY_RATE_BURST", "-3"),
        ("DISCOVERY_MAX_ENTRIES", "0"),
        ("LOG_LEVEL", "chatty"),
        ("LOG_FORMAT", "xml"),
    ];
    for (variable, value) in cases {
        let output = Command::new(BIN)
            .env_clear()
            .env("DATA_DIR", &data)
            .env("DISCOVERY_PORT", "0")
            .env(variable, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{variable}={value}: {stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(&format!("{variable}: ")),
            "{variable}={value}: {stderr}"
        );
    }
}

#[test]
fn an_entry_not_reannounced_expires_after_two_ttls_counted_once() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[("DISCOVERY_TTL_SECONDS", "1")]);
    let key = NodeKey::generate();
    let response = server.announce(&announcement(&key, "fleeting", "ws://h:1", &[], 1));
    assert_eq!(response.status, 200);
    let announced = Instant::now();
    assert_eq!(server.listed(None), vec!["fleeting"]);
    wait_until(
        "the entry to leave the list",
        Duration::from_secs(10),
        || server.listed(None).is_empty(),
    );
    // Not before 2 × TTL (the server stamped lastSeen before we started our clock).
    assert!(
        announced.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        announced.elapsed()
    );
    wait_until("the expiry to be counted", Duration::from_secs(5), || {
        server.metric("discovery_expiries_total") == Some(1.0)
    });
    // Several sweeps later, still counted once.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(server.metric("discovery_expiries_total"), Some(1.0));
    assert_eq!(server.metric("discovery_registered_peers"), Some(0.0));
    assert_eq!(server.get("/health").json()["registered"], 0);
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("\"peers_expired\"") && l.contains("fleeting")),
        "{:?}",
        server.logs()
    );
    // Re-announcing (same key, next sequence) brings it back.
    let response = server.announce(&announcement(&key, "fleeting", "ws://h:1", &[], 2));
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(server.listed(None), vec!["fleeting"]);
}

#[test]
fn after_a_restart_entries_get_one_ttl_of_grace() {
    const TTL: u64 = 3;
    let dir = temp_dir();
    let env = [("DISCOVERY_TTL_SECONDS", "3")];
    let mut first = Server::start(dir.path(), &env);
    let key = NodeKey::generate();
    for id in ["kept", "left"] {
        let response = first.announce(&announcement(&key, id, "ws://h:1", &[], 1));
        assert_eq!(response.status, 200);
    }
    let announced = Instant::now();
    // A deregistered entry must not come back with the grace.
    let response = first.deregister("left", 2, &sign_deregistration(&key, "left", 2));
    assert_eq!(response.status, 200);
    first.stop();

    // Stay away until the entry is stale by any reckoning (> 2 × TTL).
    let stale_at = announced + Duration::from_millis(2 * TTL * 1000 + 500);
    std::thread::sleep(stale_at.saturating_duration_since(Instant::now()));

    let second = Server::start(dir.path(), &env);
    let listed = second.listed(None);
    let checked_after = second.spawned.elapsed();
    assert!(
        checked_after < Duration::from_secs(TTL),
        "checked too late to see the grace: {checked_after:?}"
    );
    assert_eq!(listed, vec!["kept"], "listed during the grace");
    assert_eq!(second.get("/health").json()["registered"], 1);
    wait_until("the grace to end", Duration::from_secs(TTL + 7), || {
        second.listed(None).is_empty()
    });
    // Gone only once the grace (which starts after the spawn) is over.
    assert!(
        second.spawned.elapsed() >= Duration::from_millis(TTL * 1000 - 100),
        "{:?}",
        second.spawned.elapsed()
    );
    wait_until("the expiry to be counted", Duration::from_secs(5), || {
        second.metric("discovery_expiries_total") == Some(1.0)
    });
}

#[test]
fn sigterm_stops_cleanly_and_healthcheck_follows() {
    let dir = temp_dir();
    let mut server = Server::start(dir.path(), &[]);
    assert!(
        dir.path().join("discovery.db").is_file(),
        "the default database"
    );
    let started = server
        .logs()
        .into_iter()
        .find(|l| l.contains("\"discovery_started\""))
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(&started).unwrap();
    assert_eq!(event["ttl"], 120, "{started}");
    let port = server.port.to_string();
    let probe = |port: &str| test_kit::healthcheck(BIN, port);
    assert!(probe(&port).status.success());
    server.stop();
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("\"discovery_shutdown\"")),
        "{:?}",
        server.logs()
    );
    let output = probe(&port);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("healthcheck"));
}

#[test]
fn sigterm_right_after_start_is_graceful() {
    // The handlers are registered before discovery_started is logged, so a signal sent the
    // moment the start is visible still drains instead of killing the process.
    let dir = temp_dir();
    let mut server = Server::start(dir.path(), &[]);
    server.stop();
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("\"discovery_shutdown\""))
    );
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let store = discovery_server::store::Store::open(&url).await.unwrap();
    sqlx_insert_future_migration(&store).await;
    store.close().await;
    let output = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", &url)
        .env("DISCOVERY_PORT", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("newer version"), "{stderr}");
}

async fn sqlx_insert_future_migration(store: &discovery_server::store::Store) {
    use sqlx::Executor;
    store
        .pool()
        .execute(test_kit::NEWER_MIGRATION_SQL)
        .await
        .unwrap();
}
