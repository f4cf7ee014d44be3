//! A peer's link as the rest of the node sees it: its state, its status, and the notifier that
//! wakes whoever watches link states (the control plane's reporter).

use std::time::SystemTime;

use tokio::sync::{Notify, watch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Dialling or authenticating.
    Connecting,
    Up,
    /// Waiting before dialling again.
    Backoff,
    /// No link, waiting for the peer to dial us.
    Disconnected,
}

impl LinkState {
    pub const ALL: [LinkState; 4] = [
        LinkState::Connecting,
        LinkState::Up,
        LinkState::Backoff,
        LinkState::Disconnected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Up => "up",
            LinkState::Backoff => "backoff",
            LinkState::Disconnected => "disconnected",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LinkStatus {
    pub state: LinkState,
    pub last_error: Option<String>,
    pub since: SystemTime,
    pub sessions: u64,
}

/// Woken on every link state change of any peer of the node. Peers wake it themselves when
/// their state changes, so no caller that changes a state can forget to.
///
/// Two ways to listen: [`LinkChanges::next`] for the one control plane reporter (a stored
/// permit), and [`LinkChanges::subscribe`] for any number of other watchers (the ILDCP client),
/// which a permit taken by the reporter must not starve.
#[derive(Debug)]
pub struct LinkChanges {
    reporter: Notify,
    changes: watch::Sender<u64>,
}

impl Default for LinkChanges {
    fn default() -> Self {
        LinkChanges {
            reporter: Notify::new(),
            changes: watch::channel(0).0,
        }
    }
}

impl LinkChanges {
    pub fn notify(&self) {
        // A stored permit: a change made while nobody waits is still seen by the next wait.
        self.reporter.notify_one();
        self.changes
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A receiver that sees every change made after it was last marked seen.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Resolves at the next link state change (or one made since the last wait).
    pub async fn next(&self) {
        self.reporter.notified().await;
    }
}
