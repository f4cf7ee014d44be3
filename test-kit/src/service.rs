//! [`Service`]: a child process for tests. Every failure panics with the process's logs, and
//! the logs are printed when a test panics while it runs.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::{Process, Spec};

/// How long a service has to log its ready event: generous, for a loaded machine.
pub const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running binary, its log lines, and the event it announced itself with.
pub struct Service {
    pub name: String,
    process: Process,
    ready: String,
    /// The ready event of the current run (e.g. `connector_started` with its ports).
    pub started: Value,
}

impl Service {
    /// Starts `program` with exactly `env` and waits for the JSON log event whose message is
    /// `ready`.
    pub fn start(
        name: &str,
        program: impl Into<PathBuf>,
        env: &[(&str, String)],
        ready: &str,
    ) -> Service {
        let spec = Spec::new(name, program).envs(env.iter().map(|(k, v)| (*k, v.clone())));
        Service::start_spec(spec, ready)
    }

    /// Starts what `spec` describes and waits for the event `ready`.
    pub fn start_spec(spec: Spec, ready: &str) -> Service {
        let process = spec.start().unwrap_or_else(|e| panic!("{e}"));
        let mut service = Service {
            name: process.name().to_string(),
            process,
            ready: ready.to_string(),
            started: Value::Null,
        };
        service.await_ready();
        service
    }

    fn await_ready(&mut self) {
        // A failed start is reported by the panic message, not again by `drop`.
        self.started = match self.process.wait_for_event(&self.ready, READY_WITHIN) {
            Ok(event) => event,
            Err(error) => {
                self.process.kill();
                let message = error.to_string();
                self.ready.clear();
                panic!("{message}");
            }
        };
    }

    /// A numeric field of the ready event (e.g. `btpServerPort`).
    pub fn port(&self, field: &str) -> u16 {
        self.started[field]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| panic!("{}: no {field} in {}", self.name, self.started))
    }

    /// Sets or replaces an environment variable for the next restart.
    pub fn set_env(&mut self, key: &str, value: String) {
        self.process.set_env(key, value);
    }

    /// Every line so far, of every run; stderr lines start with `stderr: `.
    pub fn logs(&self) -> Vec<String> {
        self.process.logs()
    }

    /// The lines of the current run (since the last start or restart).
    pub fn run_logs(&self) -> Vec<String> {
        self.process.run_logs()
    }

    /// True if a JSON log line with this exact message has been written (in any run).
    pub fn has_log(&self, message: &str) -> bool {
        let needle = format!("\"message\":\"{message}\"");
        self.logs().iter().any(|l| l.contains(&needle))
    }

    /// Waits (up to `limit`) for the JSON log event `message` in the current run.
    pub fn wait_for_event(&self, message: &str, limit: Duration) -> Value {
        self.process
            .wait_for_event(message, limit)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits (up to `limit`) for a line of the current run for which `matches` holds.
    pub fn wait_for_line(
        &self,
        what: &str,
        limit: Duration,
        matches: impl FnMut(&str) -> bool,
    ) -> String {
        self.process
            .wait_for_line(what, limit, matches)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// When the current run was spawned.
    pub fn spawned(&self) -> Instant {
        self.process.spawned()
    }

    pub fn pid(&self) -> u32 {
        self.process
            .pid()
            .unwrap_or_else(|| panic!("{} is not running", self.name))
    }

    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        self.process.terminate().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Waits (bounded) for the process to exit; every line it wrote is then in the logs.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        self.process
            .wait_exit(limit)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// SIGTERM, then waits up to `limit` for the exit (killing it if it does not come).
    pub fn terminate_and_wait(&mut self, limit: Duration) -> ExitStatus {
        self.terminate();
        match self.process.wait_exit(limit) {
            Ok(status) => status,
            Err(_) => {
                self.process.kill();
                panic!("{} did not exit within {limit:?}", self.name);
            }
        }
    }

    /// SIGKILL, at once.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Kills and starts again with the same environment (after `set_env` changes), and waits
    /// for the ready event again.
    pub fn restart(&mut self) {
        self.process.restart().unwrap_or_else(|e| panic!("{e}"));
        self.await_ready();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.ready.is_empty() {
            // Stopped first, so the logs are whole.
            self.process.kill();
            eprintln!(
                "---- logs of {} ----\n{}",
                self.name,
                self.logs().join("\n")
            );
        }
    }
}
