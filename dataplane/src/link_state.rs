//! A peer's link as the rest of the node sees it: its state, its status, and the notifier that
//! wakes whoever watches link states (the control plane's reporter).

use std::time::SystemTime;

use tokio::sync::Notify;

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
#[derive(Debug, Default)]
pub struct LinkChanges(Notify);

impl LinkChanges {
    pub fn notify(&self) {
        // A stored permit: a change made while nobody waits is still seen by the next wait.
        self.0.notify_one();
    }

    /// Resolves at the next link state change (or one made since the last wait).
    pub async fn next(&self) {
        self.0.notified().await;
    }
}
