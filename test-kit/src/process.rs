//! The process core: every call returns a `Result`, so a tool (the bench) can use it without
//! panicking; [`crate::Service`] wraps it for tests.
//!
//! Both pipes are drained by threads for the life of the process, so it never blocks on a log
//! write; the lines are kept in memory (all of them, or the last N for a long-running process)
//! and waiters are woken as they arrive.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Why a process could not be started, did not say what was awaited, or did not exit. The
/// message names the process and carries its last log lines.
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl Error {
    pub(crate) fn new(message: String) -> Error {
        Error(message)
    }
}

/// How long a dropped process has to stop after SIGTERM before it is killed: enough for an
/// idle service to drain, short enough not to slow a test run.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// `target/<profile>/`: the directory of this executable, or its parent if this is a test in
/// `target/<profile>/deps/`.
pub fn profile_dir() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe().map_err(|e| Error(format!("current_exe: {e}")))?;
    let dir = exe
        .parent()
        .ok_or_else(|| Error(format!("{} has no directory", exe.display())))?;
    Ok(if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    })
}

/// A project binary for a tool: `$variable` if set, else in `target/<profile>/` next to this
/// executable, else on PATH.
pub fn find_binary(name: &str, variable: &str) -> Result<PathBuf, Error> {
    if let Some(path) = std::env::var_os(variable) {
        return Ok(PathBuf::from(path));
    }
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let mut dirs: Vec<PathBuf> = profile_dir().into_iter().collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .map(|dir| dir.join(&file))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            Error(format!(
                "the `{name}` binary was not found in target/<profile>/ nor on PATH; build it \
                 (`cargo build -p {name}`, with --release for a release build) or set {variable}"
            ))
        })
}

/// What to start: a program, its arguments and its whole environment (nothing is inherited).
#[derive(Clone, Debug)]
pub struct Spec {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    keep_lines: Option<usize>,
}

impl Spec {
    pub fn new(name: &str, program: impl Into<PathBuf>) -> Spec {
        Spec {
            name: name.to_string(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            keep_lines: None,
        }
    }

    /// Sets (or replaces) one environment variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Spec {
        set(&mut self.env, key, value.into());
        self
    }

    /// Sets (or replaces) each variable in turn: later ones win.
    pub fn envs<K: AsRef<str>, V: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Spec {
        for (key, value) in pairs {
            set(&mut self.env, key.as_ref(), value.into());
        }
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Spec {
        self.args.push(arg.into());
        self
    }

    /// Keeps only the last `lines` log lines (for processes that run long and log much).
    pub fn keep_lines(mut self, lines: usize) -> Spec {
        self.keep_lines = Some(lines);
        self
    }

    /// Spawns the process; it does not wait for anything.
    pub fn start(self) -> Result<Process, Error> {
        let mut process = Process {
            spec: self,
            child: None,
            log: Arc::new(Log::default()),
            run_start: 0,
            spawned: Instant::now(),
        };
        process.spawn()?;
        Ok(process)
    }
}

fn set(env: &mut Vec<(String, String)>, key: &str, value: String) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_string(), value));
}

#[derive(Default)]
struct Log {
    state: Mutex<LogState>,
    changed: Condvar,
}

#[derive(Default)]
struct LogState {
    lines: VecDeque<String>,
    /// Lines dropped from the front (`keep_lines`): line `i` of the whole run is at
    /// `lines[i - dropped]`.
    dropped: usize,
    /// Pipes still being read; 0 once every line the process wrote is in `lines`.
    open_pipes: usize,
}

impl Log {
    /// The state even if a reader panicked while holding it (the lines are still good).
    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, line: String, keep: Option<usize>) {
        let mut state = self.lock();
        state.lines.push_back(line);
        if let Some(keep) = keep {
            while state.lines.len() > keep {
                state.lines.pop_front();
                state.dropped += 1;
            }
        }
        drop(state);
        self.changed.notify_all();
    }

    /// Waits up to `limit` for a new line or a closed pipe.
    fn wait<'a>(
        &'a self,
        state: MutexGuard<'a, LogState>,
        limit: Duration,
    ) -> MutexGuard<'a, LogState> {
        self.changed
            .wait_timeout(state, limit)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }

    fn close_pipe(&self) {
        let mut state = self.lock();
        state.open_pipes = state.open_pipes.saturating_sub(1);
        drop(state);
        self.changed.notify_all();
    }
}

/// A running (or exited) child process and its captured log lines. Dropping it stops it:
/// SIGTERM, then SIGKILL after [`STOP_GRACE`].
pub struct Process {
    spec: Spec,
    child: Option<Child>,
    log: Arc<Log>,
    /// Index (over the whole life of `log`) of the first line of the current run.
    run_start: usize,
    spawned: Instant,
}

impl Process {
    fn spawn(&mut self) -> Result<(), Error> {
        let mut command = Command::new(&self.spec.program);
        command
            .args(&self.spec.args)
            .env_clear()
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        {
            let mut state = self.log.lock();
            self.run_start = state.dropped + state.lines.len();
            state.open_pipes += 2;
        }
        self.spawned = Instant::now();
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                self.log.lock().open_pipes -= 2;
                return Err(Error(format!(
                    "{}: cannot start {}: {e}",
                    self.spec.name,
                    self.spec.program.display()
                )));
            }
        };
        let keep = self.spec.keep_lines;
        capture(child.stdout.take(), self.log.clone(), keep, "");
        capture(child.stderr.take(), self.log.clone(), keep, "stderr: ");
        self.child = Some(child);
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn program(&self) -> &Path {
        &self.spec.program
    }

    /// When the current run was spawned.
    pub fn spawned(&self) -> Instant {
        self.spawned
    }

    /// The process id of the current run, if it has not been reaped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sets or replaces an environment variable for the next restart.
    pub fn set_env(&mut self, key: &str, value: String) {
        set(&mut self.spec.env, key, value);
    }

    /// Every kept line, of every run, in order; stderr lines start with `stderr: `.
    pub fn logs(&self) -> Vec<String> {
        self.log.lock().lines.iter().cloned().collect()
    }

    /// The kept lines of the current run.
    pub fn run_logs(&self) -> Vec<String> {
        let state = self.log.lock();
        let skip = self.run_start.saturating_sub(state.dropped);
        state.lines.iter().skip(skip).cloned().collect()
    }

    /// The first line of the current run for which `matches` holds, waiting up to `limit` for
    /// it. Fails early if the process closes its output (exits) first.
    pub fn wait_for_line(
        &self,
        what: &str,
        limit: Duration,
        mut matches: impl FnMut(&str) -> bool,
    ) -> Result<String, Error> {
        let deadline = Instant::now() + limit;
        let mut next = self.run_start;
        let mut state = self.log.lock();
        loop {
            next = next.max(state.dropped);
            while next < state.dropped + state.lines.len() {
                let line = &state.lines[next - state.dropped];
                if matches(line) {
                    return Ok(line.clone());
                }
                next += 1;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if state.open_pipes == 0 || left.is_zero() {
                let why = if state.open_pipes == 0 {
                    "closed its output (exited?) without"
                } else {
                    "did not log"
                };
                drop(state);
                return Err(self.error(&format!("{why} {what} within {limit:?}")));
            }
            state = self.log.wait(state, left);
        }
    }

    /// The first JSON log event of the current run whose message (`message`, or
    /// `fields.message` when fields are not flattened) is `message`.
    pub fn wait_for_event(&self, message: &str, limit: Duration) -> Result<Value, Error> {
        let mut event = Value::Null;
        self.wait_for_line(
            &format!("the event {message:?}"),
            limit,
            |line| match event_message(line) {
                Some((value, m)) if m == message => {
                    event = value;
                    true
                }
                _ => false,
            },
        )?;
        Ok(event)
    }

    /// True if the current run has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Sends SIGTERM to the current run.
    pub fn terminate(&self) -> Result<(), Error> {
        let pid = self
            .pid()
            .ok_or_else(|| Error(format!("{}: not running", self.spec.name)))?;
        signal(pid, libc::SIGTERM).map_err(|e| Error(format!("{}: SIGTERM: {e}", self.spec.name)))
    }

    /// Waits up to `limit` for the current run to exit, then (briefly) for its last lines.
    pub fn wait_exit(&mut self, limit: Duration) -> Result<ExitStatus, Error> {
        let name = self.spec.name.clone();
        let child = self
            .child
            .as_mut()
            .ok_or_else(|| Error(format!("{name}: not running")))?;
        let deadline = Instant::now() + limit;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.child = None;
                    self.drain(Duration::from_secs(2));
                    return Ok(status);
                }
                Ok(None) => {}
                Err(e) => return Err(Error(format!("{name}: wait: {e}"))),
            }
            if Instant::now() > deadline {
                return Err(self.error(&format!("did not exit within {limit:?}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then up to `grace` for it to exit, then SIGKILL. Returns the exit status
    /// (`None` if it had to be killed or was not running).
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.child.as_ref()?;
        if self.terminate().is_ok()
            && let Ok(status) = self.wait_exit(grace)
        {
            return Some(status);
        }
        self.kill();
        None
    }

    /// SIGKILL and reap, at once (a crash, as far as peers can tell).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.drain(Duration::from_millis(500));
        }
    }

    /// Kills the current run and starts again with the same program, arguments and
    /// environment (after any `set_env`). Lines of earlier runs stay in [`Process::logs`].
    pub fn restart(&mut self) -> Result<(), Error> {
        self.kill();
        self.spawn()
    }

    /// Waits (bounded) for the readers to reach the end of the pipes of an exited process.
    fn drain(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut state = self.log.lock();
        while state.open_pipes > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = self.log.wait(state, left);
        }
    }

    fn error(&self, what: &str) -> Error {
        Error(format!(
            "{} {what}; logs:\n{}",
            self.spec.name,
            self.logs().join("\n")
        ))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop(STOP_GRACE);
    }
}

/// Copies `pipe`'s lines into `log` (each after `prefix`) on a thread, until it closes.
fn capture(
    pipe: Option<impl std::io::Read + Send + 'static>,
    log: Arc<Log>,
    keep: Option<usize>,
    prefix: &'static str,
) {
    let Some(pipe) = pipe else {
        log.close_pipe();
        return;
    };
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            log.push(format!("{prefix}{line}"), keep);
        }
        log.close_pipe();
    });
}

/// A JSON log line and its message, from `message` or `fields.message`.
pub fn event_message(line: &str) -> Option<(Value, String)> {
    if !line.starts_with('{') {
        return None;
    }
    let value: Value = serde_json::from_str(line).ok()?;
    let message = value
        .get("message")
        .or_else(|| value.get("fields").and_then(|f| f.get("message")))
        .and_then(Value::as_str)?
        .to_string();
    Some((value, message))
}

fn signal(pid: u32, signal: libc::c_int) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: kill(2) on a child we spawned and have not reaped, so the pid is still ours.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `/bin/sh -c script` to stand in for a service.
    pub(crate) fn sh(script: &str) -> Spec {
        Spec::new("sh", "/bin/sh").arg("-c").arg(script)
    }

    #[test]
    fn the_environment_is_exactly_the_one_given() {
        let mut process = sh("echo \"[$A][$HOME]\"; exec sleep 5")
            .env("A", "1")
            .start()
            .unwrap();
        let line = process
            .wait_for_line("the echo", Duration::from_secs(5), |l| l.starts_with('['))
            .unwrap();
        assert_eq!(line, "[1][]");
        assert!(process.is_running());
        process.kill();
        assert!(!process.is_running());
    }

    #[test]
    fn events_are_found_by_message_flat_or_nested_and_stderr_is_captured() {
        let process = sh("echo '{\"message\":\"a\",\"port\":1}'; echo oops >&2; \
             echo '{\"fields\":{\"message\":\"b\"}}'; exec sleep 5")
        .start()
        .unwrap();
        let a = process.wait_for_event("a", Duration::from_secs(5)).unwrap();
        assert_eq!(a["port"], 1);
        let b = process.wait_for_event("b", Duration::from_secs(5)).unwrap();
        assert_eq!(b["fields"]["message"], "b");
        process
            .wait_for_line("stderr", Duration::from_secs(5), |l| l == "stderr: oops")
            .unwrap();
    }

    #[test]
    fn waits_end_at_the_deadline_or_when_the_process_exits() {
        let process = sh("exec sleep 5").start().unwrap();
        let started = Instant::now();
        let error = process
            .wait_for_event("never", Duration::from_millis(200))
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(error.to_string().contains("did not log"), "{error}");

        let exited = sh("echo bye").start().unwrap();
        let error = exited
            .wait_for_event("never", Duration::from_secs(20))
            .unwrap_err();
        assert!(
            error.to_string().contains("bye"),
            "the logs are in: {error}"
        );
    }

    #[test]
    fn sigterm_gives_the_exit_status_and_restart_uses_the_new_env() {
        let mut process = sh("trap 'exit 7' TERM; echo \"up $N\"; while :; do sleep 0.05; done")
            .env("N", "1")
            .start()
            .unwrap();
        process
            .wait_for_line("up", Duration::from_secs(5), |l| l == "up 1")
            .unwrap();
        process.terminate().unwrap();
        let status = process.wait_exit(Duration::from_secs(5)).unwrap();
        assert_eq!(status.code(), Some(7));
        process.set_env("N", "2".into());
        process.restart().unwrap();
        process
            .wait_for_line("up again", Duration::from_secs(5), |l| l == "up 2")
            .unwrap();
        assert_eq!(process.logs().len(), 2, "{:?}", process.logs());
        assert_eq!(process.run_logs(), ["up 2"]);
        assert!(process.stop(Duration::from_secs(5)).is_some());
    }

    #[test]
    fn only_the_last_lines_are_kept_when_asked() {
        let mut process = sh("for i in 1 2 3 4 5; do echo $i; done")
            .keep_lines(2)
            .start()
            .unwrap();
        process.wait_exit(Duration::from_secs(5)).unwrap();
        assert_eq!(process.logs(), ["4", "5"]);
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let error = Spec::new("x", "/nonexistent/x").start().err().unwrap();
        assert!(error.to_string().contains("cannot start"), "{error}");
    }
}
