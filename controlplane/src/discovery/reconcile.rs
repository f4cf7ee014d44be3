//! Discovered nodes → peers and routes, by the auto-peering policy. Only entries with
//! source = discovery are created, changed or withdrawn; an operator's peers and routes are
//! never touched, and nothing discovery offers may cover our own address.

use std::collections::HashSet;

use config_model::{PeerConfig, Relation, SecretRef};

use super::{AutoPeering, DiscoverySettings};
use crate::api::State;
use crate::commit::Changes;
use crate::store::{DiscoveredNode, Source, StoreError};

fn wanted(settings: &DiscoverySettings, node: &DiscoveredNode) -> bool {
    let by_policy = match &settings.policy {
        AutoPeering::Off => false,
        AutoPeering::All => true,
        AutoPeering::Capabilities(needed) => needed.iter().all(|c| node.capabilities.contains(c)),
    };
    if !by_policy || node.verified {
        return by_policy;
    }
    // An unproven claim (an unsigned announcement): known and listed, peered only if the
    // operator allows it, and only if it names a key — our links authenticate with node keys,
    // so without one there is nothing to check the link against.
    let refusal = if !settings.peer_with_unsigned {
        "unverified (DISCOVERY_PEER_WITH_UNSIGNED=false)"
    } else if node_identity::PublicKey::from_base64(&node.public_key).is_err() {
        "unverified and without a public key to authenticate its link"
    } else {
        return true;
    };
    tracing::debug!(node = %node.node_id, reason = refusal, "discovered_node_unverified");
    false
}

/// Whether routing `prefix` to a discovered node is safe: a real node address (a scheme and at
/// least one segment), not ours, and not one that contains ours.
fn safe_prefix(prefix: &str, own_address: &str) -> bool {
    prefix.contains('.')
        && config_model::check_route_prefix(prefix).is_ok()
        && !proto::address::is_segment_prefix(prefix, own_address)
}

fn desired_peer(settings: &DiscoverySettings, own_id: &str, node: &DiscoveredNode) -> PeerConfig {
    PeerConfig {
        id: node.node_id.clone(),
        // One link per pair: the node whose id sorts first dials.
        url: (own_id < node.node_id.as_str()).then(|| node.btp_endpoint.clone()),
        relation: Relation::Peer,
        asset_code: settings.asset_code.clone(),
        asset_scale: settings.asset_scale,
        max_packet_amount: None,
        credit_limit: None,
        secret_ref: SecretRef::NodeKey,
        auth_username: None,
        public_key: Some(node.public_key.clone()),
        ilp_address: None,
    }
}

/// Stores the merged list and brings discovery's peers and routes in line with it. Returns
/// whether anything changed.
pub async fn reconcile(
    state: &State,
    settings: &DiscoverySettings,
    own_id: &str,
    nodes: Vec<DiscoveredNode>,
) -> Result<bool, StoreError> {
    let store = &state.store;
    store.replace_discovered(&nodes).await?;
    state
        .metrics
        .discovered_nodes
        .set(i64::try_from(nodes.len()).unwrap_or(i64::MAX));
    let peers = store.all_peers().await?;
    let routes = store.all_routes().await?;
    let mut changes = Changes::default();
    let mut keep: HashSet<String> = HashSet::new();

    for node in nodes.iter().filter(|n| wanted(settings, n)) {
        let config = desired_peer(settings, own_id, node);
        if let Err(problem) = config.validate() {
            tracing::warn!(node = %node.node_id, %problem, "discovered_node_ignored");
            continue;
        }
        if !safe_prefix(&node.ilp_address, &settings.ilp_address) {
            tracing::warn!(node = %node.node_id, address = %node.ilp_address, "discovered_address_refused");
            continue;
        }
        match peers.iter().find(|p| p.config.id == config.id) {
            Some(existing) if existing.source == Source::Static => continue,
            Some(existing) => {
                keep.insert(config.id.clone());
                if existing.config != config {
                    let updated = store.update_peer(&config, None).await?;
                    changes.peer("updated", &updated);
                }
            }
            None => {
                let created = store.create_peer(&config, Source::Discovery).await?;
                tracing::info!(peer = %config.id, address = %node.ilp_address, "discovered_peer_added");
                changes.peer("created", &created);
                keep.insert(config.id.clone());
            }
        }
        // The route to its address, unless an operator's route (or another node's) has it.
        match routes.iter().find(|r| r.prefix == node.ilp_address) {
            Some(route) if route.peer_id == node.node_id => {}
            Some(_) => {}
            None => {
                let route = store
                    .create_route(&node.ilp_address, &node.node_id, Source::Discovery)
                    .await?;
                changes.route("created", &route);
            }
        }
    }
    // Discovery's peers that are no longer offered: withdrawn with their routes.
    for peer in peers
        .iter()
        .filter(|p| p.source == Source::Discovery && !keep.contains(&p.config.id))
    {
        let (removed, prefixes) = store.delete_peer(&peer.config.id, None, true).await?;
        tracing::info!(peer = %peer.config.id, routes = ?prefixes, "discovered_peer_withdrawn");
        changes.peer("deleted", &removed);
    }
    let changed = !changes.is_empty();
    state.committer.commit(changes).await?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovered_prefixes_cannot_cover_us() {
        assert!(safe_prefix("g.bob", "g.alice"));
        assert!(
            !safe_prefix("g", "g.alice"),
            "a bare scheme would take everything"
        );
        assert!(!safe_prefix("g.alice", "g.alice"));
        assert!(
            !safe_prefix("g.alice", "g.alice.east"),
            "a parent of our address"
        );
        assert!(safe_prefix("g.alice2", "g.alice"));
        assert!(!safe_prefix("peer.x", "g.alice"));
    }
}

#[cfg(test)]
mod reconcile_tests {
    use std::time::Duration;

    use super::*;

    async fn state() -> State {
        State::for_tests("me").await
    }

    fn settings(policy: AutoPeering) -> DiscoverySettings {
        DiscoverySettings {
            endpoints: vec!["http://discovery".into()],
            announce_address: "ws://me:3000".into(),
            ilp_address: "g.me".into(),
            capabilities: vec![],
            interval: Duration::from_secs(60),
            policy,
            peer_with_unsigned: false,
            asset_code: "USD".into(),
            asset_scale: 9,
        }
    }

    fn node(id: &str, address: &str, capabilities: &[&str]) -> DiscoveredNode {
        DiscoveredNode {
            node_id: id.into(),
            btp_endpoint: format!("ws://{id}:3000"),
            ilp_address: address.into(),
            capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
            public_key: node_identity::NodeKey::generate().public_key_base64(),
            source_endpoint: "http://discovery".into(),
            last_seen_ms: 1,
            verified: true,
        }
    }

    #[tokio::test]
    async fn discovered_nodes_become_peers_and_go_away_again() {
        let state = state().await;
        let all = settings(AutoPeering::All);
        let changed = reconcile(
            &state,
            &all,
            "me",
            vec![node("zed", "g.zed", &[]), node("abe", "g.abe", &[])],
        )
        .await
        .unwrap();
        assert!(changed);
        let peers = state.store.all_peers().await.unwrap();
        assert_eq!(peers.len(), 2);
        let zed = peers.iter().find(|p| p.config.id == "zed").unwrap();
        assert_eq!(zed.source, Source::Discovery);
        assert_eq!(zed.config.secret_ref, SecretRef::NodeKey);
        assert_eq!(
            zed.config.url.as_deref(),
            Some("ws://zed:3000"),
            "we sort first, so we dial"
        );
        let abe = peers.iter().find(|p| p.config.id == "abe").unwrap();
        assert_eq!(abe.config.url, None, "abe sorts first and dials us");
        assert_eq!(
            state.hub.current().routes.len(),
            2,
            "pushed to the data planes"
        );
        // Unchanged input changes nothing; a vanished node is withdrawn with its route.
        let again = vec![node("zed", "g.zed", &[])];
        reconcile(&state, &all, "me", again.clone()).await.unwrap();
        let peers = state.store.all_peers().await.unwrap();
        assert_eq!(
            peers
                .iter()
                .map(|p| p.config.id.as_str())
                .collect::<Vec<_>>(),
            ["zed"]
        );
        assert_eq!(state.store.all_routes().await.unwrap().len(), 1);
        assert_eq!(state.store.discovered().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn operators_peers_and_routes_are_never_touched() {
        let state = state().await;
        let manual = PeerConfig {
            url: Some("ws://manual:3000".into()),
            max_packet_amount: Some(5),
            ..PeerConfig::new("zed", SecretRef::Env("ZED".into()))
        };
        state
            .store
            .create_peer(&manual, Source::Static)
            .await
            .unwrap();
        state
            .store
            .create_route("g.zed", "zed", Source::Static)
            .await
            .unwrap();
        let all = settings(AutoPeering::All);
        reconcile(&state, &all, "me", vec![node("zed", "g.zed", &[])])
            .await
            .unwrap();
        reconcile(&state, &all, "me", vec![]).await.unwrap();
        let zed = state
            .store
            .get_peer("zed")
            .await
            .unwrap()
            .expect("still there");
        assert_eq!(zed.config, manual);
        assert_eq!(zed.source, Source::Static);
        assert_eq!(state.store.all_routes().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn policy_and_address_guards_filter_what_is_peered() {
        let state = state().await;
        let only_xrp = settings(AutoPeering::Capabilities(vec!["settle-xrp".into()]));
        let nodes = vec![
            node("xrp", "g.xrp", &["settle-xrp", "other"]),
            node("evm", "g.evm", &["settle-evm"]),
            node("grabber", "g", &["settle-xrp"]),
            node("parent", "g.me.child", &["settle-xrp"]).clone(),
        ];
        let mut nodes = nodes;
        // An address under ours is fine to route; one containing ours is not.
        nodes.push(node("cover", "g", &["settle-xrp"]));
        reconcile(&state, &only_xrp, "me", nodes).await.unwrap();
        let mut ids: Vec<String> = state
            .store
            .all_peers()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.config.id)
            .collect();
        ids.sort();
        assert_eq!(ids, ["parent", "xrp"]);
        let off = settings(AutoPeering::Off);
        let fresh = super::reconcile_tests::state().await;
        reconcile(
            &fresh,
            &off,
            "me",
            vec![node("xrp", "g.xrp", &["settle-xrp"])],
        )
        .await
        .unwrap();
        assert!(fresh.store.all_peers().await.unwrap().is_empty());
        assert_eq!(
            fresh.store.discovered().await.unwrap().len(),
            1,
            "still known, just not peered"
        );
    }
}

#[cfg(test)]
mod verification_tests {
    use std::time::Duration;

    use super::*;

    fn settings(peer_with_unsigned: bool) -> DiscoverySettings {
        DiscoverySettings {
            endpoints: vec!["http://discovery".into()],
            announce_address: "ws://me:3000".into(),
            ilp_address: "g.me".into(),
            capabilities: vec![],
            interval: Duration::from_secs(60),
            policy: AutoPeering::All,
            peer_with_unsigned,
            asset_code: "USD".into(),
            asset_scale: 9,
        }
    }

    /// `id` at g.`id`; `key` says whether it lists a valid key, `verified` whether it proved it.
    fn node(id: &str, key: bool, verified: bool) -> DiscoveredNode {
        DiscoveredNode {
            node_id: id.into(),
            btp_endpoint: format!("ws://{id}:3000"),
            ilp_address: format!("g.{id}"),
            capabilities: vec![],
            public_key: if key {
                node_identity::NodeKey::generate().public_key_base64()
            } else {
                String::new()
            },
            source_endpoint: "http://discovery".into(),
            last_seen_ms: 1,
            verified,
        }
    }

    async fn peered(state: &State) -> Vec<String> {
        let mut ids: Vec<String> = state
            .store
            .all_peers()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.config.id)
            .collect();
        ids.sort();
        ids
    }

    #[tokio::test]
    async fn only_verified_entries_are_peered_by_default() {
        let state = State::for_tests("me").await;
        let nodes = vec![
            node("signed", true, true),
            node("story", false, false),
            node("claimed", true, false),
        ];
        reconcile(&state, &settings(false), "me", nodes.clone())
            .await
            .unwrap();
        assert_eq!(peered(&state).await, ["signed"]);
        // Known all the same, each with its mark.
        let known = state.store.discovered().await.unwrap();
        let marks: Vec<(&str, bool)> = known
            .iter()
            .map(|n| (n.node_id.as_str(), n.verified))
            .collect();
        assert_eq!(
            marks,
            [("claimed", false), ("signed", true), ("story", false)]
        );
        // A peer whose entry loses its proof is withdrawn with its route.
        let mut later = nodes;
        later[0].verified = false;
        reconcile(&state, &settings(false), "me", later)
            .await
            .unwrap();
        assert!(peered(&state).await.is_empty());
        assert!(state.store.all_routes().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_operator_may_peer_with_unverified_entries_that_name_a_key() {
        let state = State::for_tests("me").await;
        let nodes = vec![
            node("signed", true, true),
            node("story", false, false),
            node("claimed", true, false),
        ];
        reconcile(&state, &settings(true), "me", nodes)
            .await
            .unwrap();
        // Without a key there is nothing to authenticate the link with: never peered.
        assert_eq!(peered(&state).await, ["claimed", "signed"]);
    }
}
