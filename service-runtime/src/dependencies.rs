//! What a service depends on, for its `/health`: each dependency's state, since when, and its
//! last error (kept after it recovers, so an operator can still see why it was down). The data
//! plane lists its control plane stream; the control plane lists its discovery servers.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// The states in which a dependency is working; any other state (connecting, disconnected,
/// refusing, unreachable, failing …) counts as down. One list, so `/health`'s `up` field and
/// every reader of it agree.
pub const UP_STATES: &[&str] = &["connected", "reachable", "ok"];

/// Whether a dependency in `state` is working.
pub fn is_up(state: &str) -> bool {
    UP_STATES.contains(&state)
}

/// One dependency as `/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyState {
    pub state: &'static str,
    pub last_error: Option<String>,
    pub since_ms: u64,
}

/// A service's dependencies by name; empty when it needs none.
#[derive(Debug, Default)]
pub struct Dependencies(Mutex<BTreeMap<String, DependencyState>>);

impl Dependencies {
    /// Records `name`'s state; an error is kept until the next one replaces it, so a
    /// dependency that came back still shows why it was down.
    pub fn set(&self, name: &str, state: &'static str, error: Option<String>) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let since_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let last_error = error.or_else(|| all.get(name).and_then(|d| d.last_error.clone()));
        all.insert(
            name.to_string(),
            DependencyState {
                state,
                last_error,
                since_ms,
            },
        );
    }

    pub fn snapshot(&self) -> Vec<(String, DependencyState)> {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .map(|(name, state)| (name.clone(), state.clone()))
            .collect()
    }

    /// The list `/health` shows.
    pub fn to_json(&self) -> serde_json::Value {
        self.snapshot()
            .into_iter()
            .map(|(name, d)| {
                serde_json::json!({
                    "name": name,
                    "state": d.state,
                    "up": is_up(d.state),
                    "lastError": d.last_error,
                    "stateSinceMs": d.since_ms,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dependency_keeps_its_last_error() {
        let dependencies = Dependencies::default();
        dependencies.set("controlplane", "disconnected", Some("refused".into()));
        dependencies.set("controlplane", "connected", None);
        let all = dependencies.snapshot();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].1.state, "connected");
        assert_eq!(all[0].1.last_error.as_deref(), Some("refused"));
    }

    #[test]
    fn health_lists_every_dependency_by_name() {
        let dependencies = Dependencies::default();
        assert_eq!(dependencies.to_json(), serde_json::json!([]));
        dependencies.set("discovery http://b", "unreachable", Some("timeout".into()));
        dependencies.set("discovery http://a", "reachable", None);
        let shown = dependencies.to_json();
        assert_eq!(shown[0]["name"], "discovery http://a");
        assert_eq!(shown[1]["lastError"], "timeout");
    }
}
