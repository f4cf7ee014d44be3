//! Binding a service's listening sockets: one error that says what the socket was for, and the
//! port actually bound (port 0 asks the system for any free port; tests and `ctl localnet`
//! rely on that and read the port back from the start-up log).

use tokio::net::TcpListener;

/// A socket that could not be bound, naming what it was for.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for {what} on {address}: {source}")]
pub struct BindError {
    pub what: &'static str,
    pub address: String,
    pub source: std::io::Error,
}

/// Binds `host:port` for `what` (e.g. "gRPC"); the listener and the port it got.
pub async fn listen(
    what: &'static str,
    host: &str,
    port: u16,
) -> Result<(TcpListener, u16), BindError> {
    let address = format!("{host}:{port}");
    match TcpListener::bind(&address).await {
        Ok(listener) => {
            let bound = listener.local_addr().map(|a| a.port()).unwrap_or(port);
            Ok((listener, bound))
        }
        Err(source) => Err(BindError {
            what,
            address,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn any_port_is_reported_and_a_taken_one_is_named() {
        let (listener, port) = listen("tests", "127.0.0.1", 0).await.unwrap();
        assert_ne!(port, 0);
        assert_eq!(listener.local_addr().unwrap().port(), port);
        let error = listen("metrics", "127.0.0.1", port).await.unwrap_err();
        assert_eq!(error.address, format!("127.0.0.1:{port}"));
        assert!(
            error
                .to_string()
                .starts_with("cannot listen for metrics on 127.0.0.1:"),
            "{error}"
        );
    }
}
