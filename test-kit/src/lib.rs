//! The project's one harness for child processes, shared by the tests of every crate and by the
//! bench (dev-only: no production binary depends on it).
//!
//! - [`process`]: the core, where every call returns a `Result` (the bench uses it directly):
//!   spawn with exactly the given environment, capture stdout and stderr lines on threads, wait
//!   for a line or a JSON log event with a deadline, SIGTERM then SIGKILL on drop, restart.
//! - [`Service`]: the same for tests, panicking with the captured logs on any failure and
//!   printing them if the test panicked.
//! - [`run`]: a command to completion, bounded.
//! - [`tigerbeetle::Cluster`]: a real TigerBeetle cluster (one or three replicas).
//!
//! Tests use 127.0.0.1 and ephemeral ports; every wait here has a deadline.

pub mod process;
mod run;
mod service;
pub mod tigerbeetle;

pub use run::{Output, run, try_run};
pub use service::Service;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `target/<profile>/<name>` for a test executable in `target/<profile>/deps/`, checked to
/// exist: the binaries of another crate (for a crate's own, prefer `env!("CARGO_BIN_EXE_…")`).
pub fn binary(name: &str) -> PathBuf {
    let dir = process::profile_dir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: build the workspace's binaries first (cargo build --workspace --bins; \
         cargo nextest run --workspace builds them)",
        path.display()
    );
    path
}

/// Polls `check` every 10 ms until it holds; panics with `what` after `limit`. Returns how long
/// it took.
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        if started.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

/// The value of the Prometheus sample whose name and labels are exactly `series` (e.g.
/// `ilp_packets_total{peer="a",direction="incoming",type="prepare",code=""}`) in a `/metrics`
/// text.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
}

/// A port nothing listens on right now (bound, then released), for a service to take or for
/// "nothing answers there".
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// `<program> healthcheck --port <port>` with an empty environment, to completion (the
/// subcommand bounds its own probe).
pub fn healthcheck(program: &str, port: &str) -> std::process::Output {
    std::process::Command::new(program)
        .env_clear()
        .args(["healthcheck", "--port", port])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} healthcheck: {e}"))
}

/// Implements `Deref` and `DerefMut` to the [`Service`] in field `service` of a test's own
/// wrapper, so the process's calls (logs, pid, terminate, wait_exit, kill) need no forwarding.
#[macro_export]
macro_rules! deref_to_service {
    ($wrapper:ty) => {
        impl std::ops::Deref for $wrapper {
            type Target = $crate::Service;

            fn deref(&self) -> &$crate::Service {
                &self.service
            }
        }

        impl std::ops::DerefMut for $wrapper {
            fn deref_mut(&mut self) -> &mut $crate::Service {
                &mut self.service
            }
        }
    };
}

/// A row a SQLite database made by sqlx records for a migration newer than any this project
/// has: inserting it makes the database "from a newer version" for the refusal tests.
pub const NEWER_MIGRATION_SQL: &str = "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
         VALUES (99990101000000, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_found_by_their_exact_series() {
        let text = "# HELP a x\na{b=\"c\"} 2\na 1.5\n";
        assert_eq!(metric_value(text, "a"), Some(1.5));
        assert_eq!(metric_value(text, "a{b=\"c\"}"), Some(2.0));
        assert_eq!(metric_value(text, "a{b=\"d\"}"), None);
    }
}
