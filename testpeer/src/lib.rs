//! A BTP peer for tests and tools. It dials a node, sends Prepares into it, and fulfills the
//! Prepares the node sends it.
//!
//! Conditions are derived from the data: the fulfillment is SHA-256(data) and the condition is
//! SHA-256(fulfillment), so a receiver can fulfill any packet a sender built this way without
//! sharing state. Data starting with `tp:` tells the receiver to misbehave, for tests:
//! `tp:ignore` (never answer), `tp:bad-fulfill` (answer with a wrong fulfillment),
//! `tp:reject:CODE` (reject with CODE), `tp:delay:MS` (fulfill after MS milliseconds).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use btp_link::{ClientCredentials, IncomingHandler, Link, LinkError, LinkSettings};
use bytes::Bytes;
use proto::ilp::{
    ErrorCode, Fulfill, FulfillBuilder, Prepare, PrepareBuilder, Reject, RejectBuilder,
};
use proto::{Address, Timestamp};
use sha2::{Digest, Sha256};

pub fn fulfillment_for(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn condition_for(data: &[u8]) -> [u8; 32] {
    Sha256::digest(fulfillment_for(data)).into()
}

#[derive(Debug, thiserror::Error)]
pub enum TestPeerError {
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("cannot build the prepare: {0}")]
    Build(String),
    #[error("undecodable answer: {0}")]
    Answer(String),
    #[error("not an ILP address: {0}")]
    Address(String),
    #[error("the node refused ILDCP with {code}: {message}")]
    IldcpRejected { code: ErrorCode, message: String },
}

/// What came back for one Prepare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Fulfilled {
        fulfillment: [u8; 32],
        data: Bytes,
    },
    Rejected {
        code: ErrorCode,
        triggered_by: Option<String>,
        message: String,
        data: Bytes,
    },
}

impl Outcome {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Outcome::Fulfilled { .. } => None,
            Outcome::Rejected { code, .. } => Some(*code),
        }
    }

    pub fn is_fulfilled(&self) -> bool {
        matches!(self, Outcome::Fulfilled { .. })
    }
}

/// One Prepare to send.
#[derive(Debug, Clone)]
pub struct Payment {
    pub destination: Address,
    pub amount: u64,
    pub data: Vec<u8>,
    pub expires_in: Duration,
}

impl Payment {
    /// `amount` units to `destination` carrying `data`, expiring in 10 s (most tests' payment;
    /// set `expires_in` for another).
    pub fn new(destination: Address, amount: u64, data: impl Into<Vec<u8>>) -> Payment {
        Payment {
            destination,
            amount,
            data: data.into(),
            expires_in: Duration::from_secs(10),
        }
    }
}

/// Counts of what the peer received as a receiver.
#[derive(Debug, Default)]
pub struct ReceiverStats {
    pub prepares: AtomicU64,
    pub fulfilled: AtomicU64,
}

pub struct TestPeer {
    link: Link,
    stats: Arc<ReceiverStats>,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Our address, used as `triggeredBy` in our own Rejects.
    pub address: Address,
    pub username: Option<String>,
    pub settings: LinkSettings,
}

impl Options {
    pub fn new(address: Address) -> Options {
        Options {
            address,
            username: None,
            settings: LinkSettings::default(),
        }
    }
}

impl TestPeer {
    /// Dials `url` and authenticates with `token`.
    pub async fn connect(
        url: &str,
        token: &str,
        options: Options,
    ) -> Result<TestPeer, TestPeerError> {
        let credentials = ClientCredentials {
            token: token.to_string(),
            username: options.username.clone(),
        };
        let authenticated = btp_link::connect(url, &credentials, &options.settings).await?;
        let stats = Arc::new(ReceiverStats::default());
        let receiver = Arc::new(Receiver {
            address: options.address,
            stats: stats.clone(),
        });
        Ok(TestPeer {
            link: authenticated.start(receiver),
            stats,
        })
    }

    /// Dials `url`, authenticates with `token` and answers as `address`, with default options.
    pub async fn connect_as(
        url: &str,
        token: &str,
        address: &str,
    ) -> Result<TestPeer, TestPeerError> {
        let address =
            Address::new(address).map_err(|e| TestPeerError::Address(format!("{address}: {e}")))?;
        TestPeer::connect(url, token, Options::new(address)).await
    }

    /// Sends one Prepare whose condition is derived from its data; waits for the answer, at
    /// most until it expires (plus a little, so the node's own timeout Reject can arrive).
    pub async fn send(&self, payment: &Payment) -> Result<Outcome, TestPeerError> {
        let expires_ms = i64::try_from(payment.expires_in.as_millis()).unwrap_or(i64::MAX);
        let expires_at = Timestamp::now()
            .checked_add_ms(expires_ms)
            .ok_or_else(|| TestPeerError::Build("expiry out of range".into()))?;
        let prepare = PrepareBuilder {
            amount: payment.amount,
            expires_at,
            execution_condition: &condition_for(&payment.data),
            destination: &payment.destination,
            data: &payment.data,
        }
        .build()
        .map_err(|e| TestPeerError::Build(e.to_string()))?;
        self.send_raw(
            prepare.encode(),
            payment.expires_in + Duration::from_millis(500),
        )
        .await
    }

    /// Sends already-encoded ILP bytes (for tests of malformed input) and decodes the answer.
    pub async fn send_raw(&self, ilp: Bytes, wait: Duration) -> Result<Outcome, TestPeerError> {
        let deadline = tokio::time::Instant::now() + wait;
        let answer = self.link.request(ilp, deadline).await?;
        decode_outcome(answer)
    }

    /// Asks the node for our address and asset by ILDCP (RFC 31), as a child does: the
    /// node must list us with `relation: child`.
    pub async fn ildcp(&self) -> Result<proto::ildcp::IldcpResponse, TestPeerError> {
        let request = proto::ildcp::request(Timestamp::now())
            .map_err(|e| TestPeerError::Build(e.to_string()))?;
        match self
            .send_raw(request.encode(), Duration::from_secs(10))
            .await?
        {
            Outcome::Fulfilled { fulfillment, data } => {
                if fulfillment != proto::ilp::PEER_PROTOCOL_FULFILLMENT {
                    return Err(TestPeerError::Answer(
                        "ILDCP fulfillment is not 32 zero bytes".into(),
                    ));
                }
                proto::ildcp::IldcpResponse::decode(&data)
                    .map_err(|e| TestPeerError::Answer(format!("ILDCP response: {e}")))
            }
            Outcome::Rejected { code, message, .. } => {
                Err(TestPeerError::IldcpRejected { code, message })
            }
        }
    }

    pub fn stats(&self) -> &ReceiverStats {
        &self.stats
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    pub fn close(&self) {
        self.link.close("test peer closing");
    }
}

fn decode_outcome(answer: Bytes) -> Result<Outcome, TestPeerError> {
    match answer.first().copied() {
        Some(proto::ilp::TYPE_FULFILL) => {
            let fulfill =
                Fulfill::decode(answer).map_err(|e| TestPeerError::Answer(e.to_string()))?;
            Ok(Outcome::Fulfilled {
                fulfillment: *fulfill.fulfillment(),
                data: fulfill.data().clone(),
            })
        }
        Some(proto::ilp::TYPE_REJECT) => {
            let reject =
                Reject::decode(answer).map_err(|e| TestPeerError::Answer(e.to_string()))?;
            Ok(Outcome::Rejected {
                code: reject.code(),
                triggered_by: reject.triggered_by().map(|a| a.as_str().to_string()),
                message: reject.message().to_string(),
                data: reject.data().clone(),
            })
        }
        _ => Err(TestPeerError::Answer(
            "neither a Fulfill nor a Reject".into(),
        )),
    }
}

struct Receiver {
    address: Address,
    stats: Arc<ReceiverStats>,
}

impl Receiver {
    fn reject(&self, code: ErrorCode, message: &str) -> Bytes {
        RejectBuilder {
            code,
            triggered_by: Some(&self.address),
            message,
            data: &[],
        }
        .build()
        .map(|r| r.encode())
        .unwrap_or_else(|_| Bytes::from_static(b"\x0e\x06T00\x00\x00\x00"))
    }

    fn fulfill(&self, fulfillment: &[u8; 32]) -> Bytes {
        self.stats.fulfilled.fetch_add(1, Ordering::Relaxed);
        FulfillBuilder {
            fulfillment,
            data: &[],
        }
        .build()
        .map(|f| f.encode())
        .unwrap_or_else(|_| self.reject(ErrorCode::T00_INTERNAL_ERROR, "cannot build fulfill"))
    }
}

/// What a `tp:` directive in the data asks the receiver to do.
enum Directive {
    Fulfill,
    Ignore,
    BadFulfill,
    Reject(ErrorCode),
    Delay(Duration),
}

fn directive(data: &[u8]) -> Directive {
    let Some(rest) = data.strip_prefix(b"tp:") else {
        return Directive::Fulfill;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(2, ':');
    match (parts.next(), parts.next()) {
        (Some("ignore"), _) => Directive::Ignore,
        (Some("bad-fulfill"), _) => Directive::BadFulfill,
        (Some("reject"), Some(code)) => code
            .get(..3)
            .and_then(|c| c.parse::<ErrorCode>().ok())
            .map_or(Directive::Fulfill, Directive::Reject),
        (Some("delay"), Some(ms)) => {
            let digits: String = ms.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().map_or(Directive::Fulfill, |ms| {
                Directive::Delay(Duration::from_millis(ms))
            })
        }
        _ => Directive::Fulfill,
    }
}

impl IncomingHandler for Receiver {
    async fn handle_prepare(&self, raw: Bytes) -> Bytes {
        self.stats.prepares.fetch_add(1, Ordering::Relaxed);
        let prepare = match Prepare::decode(raw) {
            Ok(prepare) => prepare,
            Err(e) => return self.reject(ErrorCode::F01_INVALID_PACKET, &e.to_string()),
        };
        let fulfillment = fulfillment_for(prepare.data());
        match directive(prepare.data()) {
            Directive::Ignore => std::future::pending::<Bytes>().await,
            Directive::BadFulfill => self.fulfill(&[0xAB; 32]),
            Directive::Reject(code) => self.reject(code, "rejected as asked by tp:reject"),
            Directive::Delay(delay) => {
                tokio::time::sleep(delay).await;
                self.fulfill(&fulfillment)
            }
            Directive::Fulfill => {
                if proto::ilp::fulfillment_matches(&fulfillment, prepare.execution_condition()) {
                    self.fulfill(&fulfillment)
                } else {
                    self.reject(
                        ErrorCode::F05_WRONG_CONDITION,
                        "condition is not SHA-256(SHA-256(data))",
                    )
                }
            }
        }
    }

    fn busy_reject(&self) -> Bytes {
        self.reject(ErrorCode::T03_CONNECTOR_BUSY, "test peer busy")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_parse() {
        assert!(matches!(directive(b"hello"), Directive::Fulfill));
        assert!(matches!(directive(b"tp:ignore"), Directive::Ignore));
        assert!(matches!(
            directive(b"tp:bad-fulfill"),
            Directive::BadFulfill
        ));
        assert!(matches!(directive(b"tp:reject:F99"), Directive::Reject(c) if c.as_str() == "F99"));
        assert!(
            matches!(directive(b"tp:delay:250:x"), Directive::Delay(d) if d == Duration::from_millis(250))
        );
        assert!(matches!(directive(b"tp:reject:zz"), Directive::Fulfill));
    }

    #[test]
    fn condition_is_hash_of_fulfillment() {
        let data = b"payment 1";
        assert!(proto::ilp::fulfillment_matches(
            &fulfillment_for(data),
            &condition_for(data)
        ));
    }
}
