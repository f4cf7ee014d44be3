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
    ready: Ready,
    /// False once a failure has panicked with the logs already, so `drop` does not print them
    /// again.
    report_logs: bool,
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
        Service::start_with(spec, Ready::Event(ready.to_string()))
    }

    /// Starts what `spec` describes and waits (up to `limit`) for a log line containing
    /// `needle`: for programs that do not log JSON (TigerBeetle's `listening on`).
    pub fn start_line(spec: Spec, needle: &str, limit: Duration) -> Service {
        Service::start_with(spec, Ready::Line(needle.to_string(), limit))
    }

    fn start_with(spec: Spec, ready: Ready) -> Service {
        let process = spec.start().unwrap_or_else(|e| panic!("{e}"));
        let mut service = Service {
            name: process.name().to_string(),
            process,
            ready,
            report_logs: true,
            started: Value::Null,
        };
        service.await_ready();
        service
    }

    fn await_ready(&mut self) {
        let waited = match &self.ready {
            Ready::Event(message) => self.process.wait_for_event(message, READY_WITHIN),
            Ready::Line(needle, limit) => self
                .process
                .wait_for_line(needle, *limit, |line| line.contains(needle.as_str()))
                .map(Value::String),
        };
        self.started = match waited {
            Ok(event) => event,
            Err(error) => {
                // The message carries the logs.
                self.process.kill();
                self.report_logs = false;
                panic!("{error}");
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

/// What a started service logs when it is ready.
enum Ready {
    /// A JSON log event with this message.
    Event(String),
    /// Any line containing this text, within this long.
    Line(String, Duration),
}

impl Drop for Service {
    fn drop(&mut self) {
        if std::thread::panicking() && self.report_logs {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::tests::sh;

    #[test]
    fn the_ready_event_gives_ports_and_a_restart_waits_for_it_again() {
        let mut service = Service::start_spec(
            sh("echo \"{\\\"message\\\":\\\"up\\\",\\\"port\\\":$P}\"; exec sleep 5").env("P", "7"),
            "up",
        );
        assert_eq!(service.port("port"), 7);
        assert!(service.has_log("up"));
        service.set_env("P", "8".into());
        service.restart();
        assert_eq!(service.port("port"), 8);
        let status = service.terminate_and_wait(Duration::from_secs(5));
        assert!(!status.success(), "ended by SIGTERM: {status:?}");
    }

    #[test]
    fn a_service_that_never_gets_ready_fails_with_its_logs() {
        let failed = std::panic::catch_unwind(|| {
            Service::start_spec(sh("echo booting; exit 3"), "up");
        });
        let message = failed
            .err()
            .and_then(|p| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(message.contains("booting"), "{message}");
    }

    #[test]
    fn run_gives_the_exit_code_and_output_and_is_bounded() {
        let mut command = std::process::Command::new("/bin/sh");
        command.args(["-c", "echo out; echo err >&2; exit 4"]);
        let output = crate::run(command);
        assert_eq!(output.code, Some(4));
        assert_eq!(
            (output.stdout.as_str(), output.stderr.as_str()),
            ("out\n", "err\n")
        );
        let mut slow = std::process::Command::new("/bin/sh");
        slow.args(["-c", "sleep 10"]);
        let started = Instant::now();
        assert!(crate::try_run(slow, Duration::from_millis(200)).is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
