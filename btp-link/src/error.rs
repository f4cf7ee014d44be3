//! Why a link could not be set up, or why a request over it failed.

use std::time::Duration;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum LinkError {
    #[error("invalid peer URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("websocket error: {0}")]
    WebSocket(String),
    #[error("authentication timed out after {0:?}")]
    AuthTimeout(Duration),
    #[error("authentication refused by peer: {code} {name}: {message}")]
    AuthRejected {
        code: String,
        name: String,
        message: String,
    },
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    #[error("link is closed")]
    Closed,
    #[error("no answer before the deadline")]
    Timeout,
    #[error("peer answered with BTP error {code} {name}: {message}")]
    Remote {
        code: String,
        name: String,
        message: String,
    },
    #[error("peer answered without an ILP packet")]
    NoIlpPacket,
}
