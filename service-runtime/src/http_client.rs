//! A small blocking HTTP/1.1 client for the project's own plain-HTTP endpoints (health,
//! metrics, the discovery API): `<binary> healthcheck`, `ctl health` and the tests use it, so
//! none of them needs an HTTP library or writes requests by hand.
//!
//! One request per connection (`Connection: close`); connecting, writing and reading are each
//! bounded by the timeout given; a malformed answer is an error, never a panic. It reads the
//! whole answer into memory, so it is meant for small bodies from services we run.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What a timeout-less caller gets: long enough for a loaded test machine, short enough that a
/// hung server fails a probe instead of hanging it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// An answer: its status, headers (in order, names as sent) and body (a chunked body is
/// reassembled; bytes that are not UTF-8 are replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The first line as sent, e.g. `HTTP/1.1 503 Service Unavailable`, for messages.
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header named `name` (compared ignoring ASCII case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on 127.0.0.1:`port` with [`DEFAULT_TIMEOUT`].
pub fn get(port: u16, path: &str) -> std::io::Result<Response> {
    request("127.0.0.1", port, "GET", path, &[], b"", DEFAULT_TIMEOUT)
}

/// `GET path` on `host:port` (a name, an IPv4 or a bare IPv6 address).
pub fn get_from(host: &str, port: u16, path: &str, timeout: Duration) -> std::io::Result<Response> {
    request(host, port, "GET", path, &[], b"", timeout)
}

/// One request on a fresh connection to `host:port`, each address the name resolves to tried in
/// turn. A body (or any method but GET and HEAD) is sent with its `Content-Length`.
pub fn request(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Response> {
    let mut stream = connect(host, port, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    // One write, so the request reaches the server whole.
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    let sent = stream.write_all(&bytes);
    // A server may answer (e.g. 413) and close before reading all we send; what it answered
    // is still readable, so a failed write is only reported if nothing comes back.
    let mut raw = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            // A reset after a complete answer still leaves that answer usable.
            Err(error) if raw.is_empty() => return Err(sent.err().unwrap_or(error)),
            Err(_) => break,
        }
    }
    parse(&raw)
}

fn connect(host: &str, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last_error = None;
    for address in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{host} has no address"),
        )
    }))
}

fn invalid(what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

/// Parses a whole HTTP/1.1 answer (the connection closed after it).
pub fn parse(raw: &[u8]) -> std::io::Result<Response> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| invalid(format!("not an HTTP answer: {:?}", truncate(&text))))?;
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default().to_string();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| invalid(format!("no HTTP status in {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(Response {
        status,
        status_line,
        headers,
        body,
    })
}

fn truncate(text: &str) -> &str {
    let end = text
        .char_indices()
        .nth(80)
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    &text[..end]
}

/// A chunked body's data; stops at the last chunk or at anything malformed.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        // Chunk extensions (`;name=value`) are allowed after the size.
        let size = size.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        let Some(chunk) = after.get(..size) else {
            break;
        };
        out.push_str(chunk);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// Serves one connection with `answer` and returns the request it read.
    fn serve_once(answer: &'static [u8]) -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            // The head line by line, up to the blank line that ends it.
            let mut reader = std::io::BufReader::new(stream);
            let mut request = String::new();
            while !request.ends_with("\r\n\r\n") {
                if std::io::BufRead::read_line(&mut reader, &mut request).unwrap_or(0) == 0 {
                    break;
                }
            }
            // Then the body, so closing with unread bytes cannot reset the answer away.
            let length = request
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            request.push_str(&String::from_utf8_lossy(&body));
            reader.into_inner().write_all(answer).unwrap();
            request
        });
        (port, thread)
    }

    #[test]
    fn a_get_sends_host_and_close_and_reads_status_headers_and_body() {
        let (port, server) =
            serve_once(b"HTTP/1.1 503 Service Unavailable\r\nX-A: b\r\n\r\n{\"ready\":false}");
        let response = get(port, "/health/ready").unwrap();
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /health/ready HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains(&format!("Host: 127.0.0.1:{port}\r\n")),
            "{request}"
        );
        assert!(request.contains("Connection: close\r\n"), "{request}");
        assert!(!request.contains("Content-Length"), "{request}");
        assert_eq!(response.status, 503);
        assert_eq!(response.status_line, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(response.header("x-a"), Some("b"));
        assert_eq!(response.body, "{\"ready\":false}");
    }

    #[test]
    fn a_chunked_body_is_reassembled() {
        let response =
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
                .unwrap();
        assert_eq!(response.body, "abcde");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for raw in [
            &b""[..],
            b"hello",
            b"HTTP/1.1 abc\r\n\r\n",
            b"SSH-2.0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nshort",
            b"\xff\xfe\r\n\r\n",
        ] {
            let _ = parse(raw);
        }
        assert!(parse(b"hello").is_err());
        assert!(parse(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }

    #[test]
    fn nothing_listening_is_an_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(get(port, "/").is_err());
    }

    #[test]
    fn a_post_carries_its_length_and_headers() {
        let (port, server) = serve_once(b"HTTP/1.1 201 Created\r\n\r\n");
        let response = request(
            "127.0.0.1",
            port,
            "POST",
            "/x",
            &[("Content-Type", "application/json")],
            b"{}",
            DEFAULT_TIMEOUT,
        )
        .unwrap();
        let sent = server.join().unwrap();
        assert!(sent.contains("Content-Length: 2\r\n"), "{sent}");
        assert!(
            sent.contains("Content-Type: application/json\r\n"),
            "{sent}"
        );
        assert_eq!(response.status, 201);
    }
}
