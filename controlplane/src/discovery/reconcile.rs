//! Discovered nodes → peers and routes, by the auto-peering policy. Only entries with
//! source = discovery are created, changed or withdrawn; an operator's peers and routes are
//! never touched, and nothing discovery offers may cover our own address.

use std::collections::HashSet;

use config_model::{PeerConfig, Relation, SecretRef};
use proto::grpc::v1 as pb;

use super::{AutoPeering, DiscoverySettings};
use crate::api::State;
use crate::convert::{peer_to_pb, route_to_pb};
use crate::store::{DiscoveredNode, Source, StoreError};

fn wanted(policy: &AutoPeering, node: &DiscoveredNode) -> bool {
    match policy {
        AutoPeering::Off => false,
        AutoPeering::All => true,
        AutoPeering::Capabilities(needed) => needed.iter().all(|c| node.capabilities.contains(c)),
    }
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
    let peers = store.all_peers().await?;
    let routes = store.all_routes().await?;
    let mut changed = false;
    let mut keep: HashSet<String> = HashSet::new();

    for node in nodes.iter().filter(|n| wanted(&settings.policy, n)) {
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
                    state.events.publish(
                        "updated",
                        pb::watch_event::Event::Peer(peer_to_pb(&updated)),
                    );
                    changed = true;
                }
            }
            None => {
                let created = store.create_peer(&config, Source::Discovery).await?;
                tracing::info!(peer = %config.id, address = %node.ilp_address, "discovered_peer_added");
                state.events.publish(
                    "created",
                    pb::watch_event::Event::Peer(peer_to_pb(&created)),
                );
                keep.insert(config.id.clone());
                changed = true;
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
                state.events.publish(
                    "created",
                    pb::watch_event::Event::Route(route_to_pb(&route)),
                );
                changed = true;
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
        state.events.publish(
            "deleted",
            pb::watch_event::Event::Peer(peer_to_pb(&removed)),
        );
        changed = true;
    }
    if changed {
        state.hub.rebuild().await?;
    }
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
