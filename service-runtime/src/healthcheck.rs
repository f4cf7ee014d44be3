//! The probe behind `<binary> healthcheck`: a Docker HEALTHCHECK in an image with no shell or
//! curl runs the service's own binary.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

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
    let address: SocketAddr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}:{port}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}:{port}"))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| format!("connect {address}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut head = [0u8; 64];
    let read = stream.read(&mut head).map_err(|e| format!("read: {e}"))?;
    let status_line = String::from_utf8_lossy(&head[..read]);
    let status = status_line.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        Ok(())
    } else {
        Err(format!(
            "{path} answered {:?}",
            status_line.lines().next().unwrap_or("")
        ))
    }
}
