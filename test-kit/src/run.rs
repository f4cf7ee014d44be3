//! A command run to completion with a deadline: its exit code and output.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::process::Error;

/// What a finished command did.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    /// The exit code (`None` if a signal ended it).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` (stdin closed, its environment as the caller set it up) until it exits,
/// killing it after `limit`.
pub fn try_run(mut command: Command, limit: Duration) -> Result<Output, Error> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::new(format!("cannot start {program}: {e}")))?;
    // Read on threads: a full pipe would otherwise stop the child before it exits.
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::new(format!(
                    "{program} did not exit within {limit:?}"
                )));
            }
            Err(e) => return Err(Error::new(format!("{program}: wait: {e}"))),
        }
    };
    Ok(Output {
        status,
        code: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// [`try_run`] for tests: panics if the command cannot start or does not exit within 60 s.
pub fn run(command: Command) -> Output {
    try_run(command, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"))
}
