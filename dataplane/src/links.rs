//! Bringing links up: the BTP server that peers dial into, and a dialler per peer that has a
//! URL, reconnecting with backoff for as long as the node runs. Applying a table starts the
//! dialers of its new peers, so [`Node::apply`] lives here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use btp_link::{AuthFailure, ClientCredentials, LinkError};
use config_model::{PeerConfig, RouteConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::backoff::Backoff;
use crate::link_state::LinkState;
use crate::node::{Applied, ApplyError, Node};
use crate::peer::Peer;
use crate::pipeline::PeerHandler;

const RECONNECT_INITIAL: Duration = Duration::from_millis(200);
const RECONNECT_MAX: Duration = Duration::from_secs(30);
/// A link that stayed up this long resets the backoff: the next drop is a new incident.
const STABLE_LINK: Duration = Duration::from_secs(10);

impl Node {
    /// Swaps in a new table of peers and routes ([`Node::swap_table`]) and starts a dialer for
    /// each new peer with a URL. On error nothing changes.
    pub fn apply(
        self: &Arc<Self>,
        peers: &[PeerConfig],
        routes: &[RouteConfig],
    ) -> Result<Applied, ApplyError> {
        let (applied, to_dial) = self.swap_table(peers, routes)?;
        for peer in to_dial {
            tokio::spawn(dial(self.clone(), peer, self.stop_signal()));
        }
        Ok(applied)
    }
}

/// Accepts peers on the BTP port until `stop` turns true.
pub async fn serve(node: Arc<Node>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        match accepted {
            Ok((stream, remote)) => {
                // Small frames, answered promptly: Nagle would only add latency.
                let _ = stream.set_nodelay(true);
                tokio::spawn(accept_peer(node.clone(), stream, remote));
            }
            Err(error) => {
                // Typically fd exhaustion; pause briefly rather than spin.
                warn!(%error, "btp_accept_failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn accept_peer(node: Arc<Node>, stream: TcpStream, remote: SocketAddr) {
    let mut failure: Option<AuthFailure> = None;
    let accepted = btp_link::accept(stream, &node.link_settings, |request| {
        node.authenticate(request)
            .inspect_err(|f| failure = Some(f.clone()))
    })
    .await;
    let (peer, authenticated) = match accepted {
        Ok(accepted) => accepted,
        Err(error) => {
            let reason = match (&failure, &error) {
                (Some(AuthFailure::InvalidToken), _) => "invalid_token",
                (Some(AuthFailure::UsernameMismatch), _) => "username_mismatch",
                (Some(AuthFailure::Refused(_)), _) => "refused",
                (None, LinkError::AuthTimeout(_)) => "timeout",
                (None, LinkError::AuthFailed(_)) => "malformed",
                (None, _) => "websocket",
            };
            node.metrics
                .auth_failures
                .with_label_values(&[reason])
                .inc();
            warn!(remote = %remote, reason, error = %error, "btp_auth_failed");
            return;
        }
    };
    let handler = Arc::new(PeerHandler {
        node: node.clone(),
        peer: peer.clone(),
    });
    let link = authenticated.start(handler);
    peer.link_up(link.clone(), &node.metrics);
    info!(peer = %peer.id, remote = %remote, direction = "incoming", "link_up");
    let reason = link.closed().await;
    let next = if peer.settings().url.is_some() {
        LinkState::Backoff
    } else {
        LinkState::Disconnected
    };
    let changed = peer.link_down(&link, &reason, next, &node.metrics);
    if changed {
        warn!(peer = %peer.id, reason = %reason, "link_down");
    }
}

/// Keeps a link to `peer` (which has a URL) up until `stop` turns true.
pub async fn dial(node: Arc<Node>, peer: Arc<Peer>, mut stop: watch::Receiver<bool>) {
    let Some(url) = peer.settings().url.clone() else {
        return;
    };
    let mut backoff = Backoff::new(RECONNECT_INITIAL, RECONNECT_MAX);
    loop {
        peer.set_state(LinkState::Connecting, None, &node.metrics);
        // A node-key token is signed for this attempt: it is only accepted for a few minutes.
        let Some(token) = node.dial_token(&peer) else {
            peer.set_state(
                LinkState::Backoff,
                Some("no node key to sign a token with".into()),
                &node.metrics,
            );
            return;
        };
        let credentials = ClientCredentials {
            token,
            username: peer.settings().auth_username.clone(),
        };
        let connected = tokio::select! {
            connected = btp_link::connect(&url, &credentials, &node.link_settings) => connected,
            _ = stop.wait_for(|stop| *stop) => return,
            _ = peer.retired() => return,
        };
        match connected {
            Ok(authenticated) => {
                let handler = Arc::new(PeerHandler {
                    node: node.clone(),
                    peer: peer.clone(),
                });
                let link = authenticated.start(handler);
                peer.link_up(link.clone(), &node.metrics);
                info!(peer = %peer.id, url = %url, direction = "outgoing", "link_up");
                let up_since = std::time::Instant::now();
                let reason = tokio::select! {
                    reason = link.closed() => reason,
                    _ = stop.wait_for(|stop| *stop) => {
                        link.close("node shutting down");
                        return;
                    }
                    _ = peer.retired() => return,
                };
                peer.link_down(&link, &reason, LinkState::Backoff, &node.metrics);
                warn!(peer = %peer.id, reason = %reason, "link_down");
                if up_since.elapsed() >= STABLE_LINK {
                    backoff.reset();
                }
            }
            Err(error) => {
                peer.set_state(LinkState::Backoff, Some(error.to_string()), &node.metrics);
                warn!(peer = %peer.id, url = %url, error = %error, "link_connect_failed");
            }
        }
        let delay = backoff.next_delay();
        peer.set_state(LinkState::Backoff, None, &node.metrics);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|stop| *stop) => return,
            _ = peer.retired() => return,
        }
    }
}
