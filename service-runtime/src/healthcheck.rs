//! The probe behind `<binary> healthcheck`: a Docker HEALTHCHECK in an image with no shell or
//! curl runs the service's own binary.

use std::time::Duration;

use crate::http_client;

/// `<binary> healthcheck`: probes with a 3 s timeout; exit 0 if healthy, else 1 with one line
/// on stderr naming the binary and the problem.
pub fn command(binary: &str, host: &str, port: u16, path: &str) -> std::process::ExitCode {
    match probe(host, port, path, Duration::from_secs(3)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{binary} healthcheck: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// True if `GET {path}` on `host:port` answers 200 within `timeout`.
pub fn probe(host: &str, port: u16, path: &str, timeout: Duration) -> Result<(), String> {
    let response = http_client::get_from(host, port, path, timeout)
        .map_err(|e| format!("GET {path} on {host}:{port}: {e}"))?;
    if response.status == 200 {
        Ok(())
    } else {
        Err(format!("{path} answered {:?}", response.status_line))
    }
}
