//! The ILDCP client (RFC 31): a node without `ILP_ADDRESS` learns its address from its parent.
//!
//! Once the parent's link is up, it sends `proto::ildcp::request` (a Prepare to `peer.config`,
//! amount 0, empty data, the peer-protocol condition, expiry now + 60 s as JS and RS do) and
//! reads the address and asset from the Fulfill's data. It asks again on every new session of the parent's link, since the
//! parent may have been reconfigured meanwhile; a different answer replaces the address (and is
//! logged). A Reject, a timeout or a bad answer is retried with backoff. The host side, which
//! answers our own children, is in the pipeline (`Node::ildcp`).

use std::sync::Arc;
use std::time::Duration;

use btp_link::{Link, LinkError};
use bytes::Bytes;
use proto::Timestamp;
use proto::ildcp::IldcpResponse;
use proto::ilp::{Fulfill, PEER_PROTOCOL_FULFILLMENT, Reject, TYPE_FULFILL, TYPE_REJECT};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::node::{AddressSource, Node, NodeAddress};
use crate::peer::Peer;

/// How long we wait for the answer: shorter than the expiry, so a parent that swallowed the
/// request is asked again soon rather than after a minute.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
const RETRY_INITIAL: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Why the parent did not tell us our address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IldcpError {
    #[error("the parent rejected peer.config with {code}: {message}")]
    Rejected { code: String, message: String },
    #[error("no answer from the parent within {0:?}")]
    Timeout(Duration),
    #[error("the link to the parent failed: {0}")]
    Link(String),
    #[error("the parent's answer is invalid: {0}")]
    Invalid(String),
}

impl IldcpError {
    /// The `result` label of `dataplane_ildcp_requests_total`.
    pub fn label(&self) -> &'static str {
        match self {
            IldcpError::Rejected { .. } => "rejected",
            IldcpError::Timeout(_) => "timeout",
            IldcpError::Link(_) => "link_error",
            IldcpError::Invalid(_) => "invalid",
        }
    }
}

/// The ILDCP request (`proto::ildcp::request`), encoded.
pub fn request(now: Timestamp) -> Bytes {
    proto::ildcp::request(now)
        .map(|prepare| prepare.encode())
        // Only data over 32767 bytes or a bad destination fail to build: neither is ours.
        .unwrap_or_default()
}

/// Reads the parent's answer: a Fulfill with the zero fulfillment whose data decodes, or why not.
pub fn read_answer(answer: Bytes) -> Result<IldcpResponse, IldcpError> {
    match answer.first().copied() {
        Some(TYPE_FULFILL) => {
            let fulfill = Fulfill::decode(answer)
                .map_err(|e| IldcpError::Invalid(format!("Fulfill: {e}")))?;
            if *fulfill.fulfillment() != PEER_PROTOCOL_FULFILLMENT {
                return Err(IldcpError::Invalid(
                    "the fulfillment is not the peer-protocol one (32 zero bytes)".into(),
                ));
            }
            IldcpResponse::decode(fulfill.data().as_ref())
                .map_err(|e| IldcpError::Invalid(format!("ILDCP response: {e}")))
        }
        Some(TYPE_REJECT) => {
            let reject =
                Reject::decode(answer).map_err(|e| IldcpError::Invalid(format!("Reject: {e}")))?;
            Err(IldcpError::Rejected {
                code: reject.code().as_str().to_string(),
                message: reject.message().to_string(),
            })
        }
        Some(other) => Err(IldcpError::Invalid(format!("packet type {other}"))),
        None => Err(IldcpError::Invalid("empty answer".into())),
    }
}

/// Sends one request on `link` and reads the answer.
pub async fn ask(link: &Link) -> Result<IldcpResponse, IldcpError> {
    let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
    match link.request(request(Timestamp::now()), deadline).await {
        Ok(answer) => read_answer(answer),
        Err(LinkError::Timeout) => Err(IldcpError::Timeout(ANSWER_TIMEOUT)),
        Err(other) => Err(IldcpError::Link(other.to_string())),
    }
}

/// Learns (and re-learns) the node's address from its parent until `stop` turns true. Started
/// only when no address is configured: a configured one always wins.
pub async fn learn_address(node: Arc<Node>, mut stop: watch::Receiver<bool>) {
    let mut changes = node.link_changes();
    // The parent and link session last answered: asked again only on a new session.
    let mut answered: Option<(Arc<str>, u64)> = None;
    let mut backoff = Backoff::new(RETRY_INITIAL, RETRY_MAX);
    let mut failures: u32 = 0;
    loop {
        // Marked seen before looking, so a change made while we look wakes the wait below.
        changes.borrow_and_update();
        if let Some((parent, link, session)) = parent_link(&node) {
            let key = (parent.id.clone(), session);
            if answered.as_ref() != Some(&key) {
                let asked = tokio::select! {
                    asked = ask(&link) => asked,
                    _ = stop.wait_for(|stop| *stop) => return,
                };
                match asked {
                    Ok(response) => {
                        node.metrics
                            .ildcp_requests
                            .with_label_values(&["learned"])
                            .inc();
                        apply(&node, &parent, response);
                        answered = Some(key);
                        backoff.reset();
                        failures = 0;
                    }
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        node.metrics
                            .ildcp_requests
                            .with_label_values(&[error.label()])
                            .inc();
                        // Bounded: the 1st, 2nd, 4th, 8th… failure in a row is a warning, the
                        // rest debug; the metric counts them all.
                        if failures.is_power_of_two() {
                            warn!(parent = %parent.id, failures, %error, "ildcp_request_failed");
                        } else {
                            debug!(parent = %parent.id, failures, %error, "ildcp_request_failed");
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(backoff.next_delay()) => {}
                            _ = stop.wait_for(|stop| *stop) => return,
                        }
                        continue;
                    }
                }
            }
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// The parent, its open link and that link's session number, when it has one.
fn parent_link(node: &Node) -> Option<(Arc<Peer>, Arc<Link>, u64)> {
    let parent = node.parent()?;
    let link = parent.link()?;
    let session = parent.status().sessions;
    Some((parent, link, session))
}

/// Installs what the parent said, logging a first answer, a changed one, and an asset that
/// differs from the parent's configured one (amounts to it are converted with the latter).
fn apply(node: &Node, parent: &Peer, response: IldcpResponse) {
    let IldcpResponse {
        client_address,
        asset_scale,
        asset_code,
    } = response;
    let settings = parent.settings();
    if settings.asset_code != asset_code || settings.asset_scale != asset_scale {
        warn!(
            parent = %parent.id,
            configuredAsset = %format!("{}/{}", settings.asset_code, settings.asset_scale),
            parentSays = %format!("{asset_code}/{asset_scale}"),
            "ildcp_asset_differs"
        );
    }
    let learned = NodeAddress {
        address: client_address.clone(),
        source: AddressSource::Ildcp,
        asset: Some((asset_code, asset_scale)),
    };
    match node.set_address(learned) {
        None => info!(parent = %parent.id, ilpAddress = %client_address, "ildcp_address_learned"),
        Some(previous) if previous.address != client_address => warn!(
            parent = %parent.id,
            previous = %previous.address,
            ilpAddress = %client_address,
            "ildcp_address_changed"
        ),
        Some(_) => {
            debug!(parent = %parent.id, ilpAddress = %client_address, "ildcp_address_confirmed")
        }
    }
}

#[cfg(test)]
mod tests;
