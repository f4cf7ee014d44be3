//! What ctl prints for each resource: plain structs with the proto field names in camelCase,
//! converted from the prost types. JSON and YAML serialize these; tables read them.
//!
//! Every field is always present (absent optional values are `null`), so scripts can rely on
//! the shape. Timestamps are RFC 3339 strings. A peer carries only its secret *reference*:
//! the API never returns a secret, and ctl never resolves one.

use proto::grpc::v1 as api;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    pub id: String,
    pub url: String,
    pub relation: String,
    pub asset_code: String,
    pub asset_scale: u32,
    pub max_packet_amount: Option<u64>,
    pub credit_limit: Option<u64>,
    pub secret_ref: String,
    pub auth_username: String,
    pub source: String,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    pub etag: String,
}

impl From<api::Peer> for Peer {
    fn from(p: api::Peer) -> Self {
        Self {
            id: p.id,
            url: p.url,
            relation: p.relation,
            asset_code: p.asset_code,
            asset_scale: p.asset_scale,
            max_packet_amount: p.max_packet_amount,
            credit_limit: p.credit_limit,
            secret_ref: p.secret_ref,
            auth_username: p.auth_username,
            source: p.source,
            create_time: p.create_time.map(rfc3339),
            update_time: p.update_time.map(rfc3339),
            etag: p.etag,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedPeer {
    pub id: String,
    pub deleted_routes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub prefix: String,
    pub peer_id: String,
    pub source: String,
    pub create_time: Option<String>,
}

impl From<api::Route> for Route {
    fn from(r: api::Route) -> Self {
        Self {
            prefix: r.prefix,
            peer_id: r.peer_id,
            source: r.source,
            create_time: r.create_time.map(rfc3339),
        }
    }
}

/// A node discovery knows about, and whether it is one of our peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredNode {
    pub node_id: String,
    pub ilp_address: String,
    pub btp_endpoint: String,
    pub capabilities: Vec<String>,
    pub source_endpoint: String,
    pub last_seen: Option<String>,
    pub peered: bool,
}

impl From<api::DiscoveredNode> for DiscoveredNode {
    fn from(n: api::DiscoveredNode) -> Self {
        Self {
            node_id: n.node_id,
            ilp_address: n.ilp_address,
            btp_endpoint: n.btp_endpoint,
            capabilities: n.capabilities,
            source_endpoint: n.source_endpoint,
            last_seen: n.last_seen.map(rfc3339),
            peered: n.peered,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedRoute {
    pub prefix: String,
}

/// The answer to "where would a packet for this address go?"; the route fields are `null`
/// when nothing matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteExplanation {
    pub address: String,
    pub matched: bool,
    pub prefix: Option<String>,
    pub peer_id: Option<String>,
    pub source: Option<String>,
    pub link_state: Option<String>,
}

impl RouteExplanation {
    pub fn new(address: String, r: api::ExplainRouteResponse) -> Self {
        let if_matched = |value: String| r.matched.then_some(value);
        Self {
            address,
            matched: r.matched,
            prefix: if_matched(r.prefix),
            peer_id: if_matched(r.peer_id),
            source: if_matched(r.source),
            link_state: if_matched(r.link_state),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConfigVersion {
    pub epoch: u64,
    pub generation: u64,
}

impl From<api::ConfigVersion> for ConfigVersion {
    fn from(v: api::ConfigVersion) -> Self {
        Self {
            epoch: v.epoch,
            generation: v.generation,
        }
    }
}

impl std::fmt::Display for ConfigVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.epoch, self.generation)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    pub node_id: String,
    pub current_version: Option<ConfigVersion>,
    pub peer_count: u32,
    pub route_count: u32,
    pub data_planes: Vec<DataPlaneStatus>,
}

impl From<api::NodeStatus> for NodeStatus {
    fn from(s: api::NodeStatus) -> Self {
        Self {
            node_id: s.node_id,
            current_version: s.current_version.map(Into::into),
            peer_count: s.peer_count,
            route_count: s.route_count,
            data_planes: s.data_planes.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataPlaneStatus {
    pub node_id: String,
    pub connected: bool,
    pub applied_version: Option<ConfigVersion>,
    pub last_nack_version: Option<ConfigVersion>,
    pub last_nack_error: String,
    pub last_seen: Option<String>,
    pub links: Vec<LinkStatus>,
    pub balances: Vec<PeerBalance>,
}

impl From<api::DataPlaneStatus> for DataPlaneStatus {
    fn from(d: api::DataPlaneStatus) -> Self {
        Self {
            node_id: d.node_id,
            connected: d.connected,
            applied_version: d.applied_version.map(Into::into),
            last_nack_version: d.last_nack_version.map(Into::into),
            last_nack_error: d.last_nack_error,
            last_seen: d.last_seen.map(rfc3339),
            links: d.links.into_iter().map(Into::into).collect(),
            balances: d.balances.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkStatus {
    pub peer_id: String,
    pub state: String,
    pub last_error: String,
}

impl From<api::LinkStatus> for LinkStatus {
    fn from(l: api::LinkStatus) -> Self {
        Self {
            peer_id: l.peer_id,
            state: l.state,
            last_error: l.last_error,
        }
    }
}

/// Balances stay decimal strings: they are 128-bit, beyond what JSON numbers carry safely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerBalance {
    pub peer_id: String,
    pub balance: String,
    pub pending_incoming: String,
}

impl From<api::PeerBalance> for PeerBalance {
    fn from(b: api::PeerBalance) -> Self {
        Self {
            peer_id: b.peer_id,
            balance: b.balance,
            pending_incoming: b.pending_incoming,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchEvent {
    pub time: Option<String>,
    pub action: String,
    /// Serialized as one key naming the kind (`"peer": {…}`), as the proto's oneof does in
    /// JSON; absent for a kind this ctl does not know yet.
    #[serde(flatten)]
    pub event: Option<Event>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Event {
    Peer(Peer),
    Route(Route),
    Link(LinkStatus),
    ConfigApplied(ConfigApplied),
    ConfigNacked(ConfigNacked),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigApplied {
    pub node_id: String,
    pub version: Option<ConfigVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigNacked {
    pub node_id: String,
    pub version: Option<ConfigVersion>,
    pub error: String,
}

impl From<api::WatchEvent> for WatchEvent {
    fn from(e: api::WatchEvent) -> Self {
        use api::watch_event::Event as E;
        Self {
            time: e.time.map(rfc3339),
            action: e.action,
            event: e.event.map(|event| match event {
                E::Peer(p) => Event::Peer(p.into()),
                E::Route(r) => Event::Route(r.into()),
                E::Link(l) => Event::Link(l.into()),
                E::ConfigApplied(c) => Event::ConfigApplied(ConfigApplied {
                    node_id: c.node_id,
                    version: c.version.map(Into::into),
                }),
                E::ConfigNacked(c) => Event::ConfigNacked(ConfigNacked {
                    node_id: c.node_id,
                    version: c.version.map(Into::into),
                    error: c.error,
                }),
            }),
        }
    }
}

/// prost-types prints a `Timestamp` as RFC 3339 in UTC (`2026-05-01T12:00:00Z`, with as many
/// fraction digits as needed).
fn rfc3339(t: prost_types::Timestamp) -> String {
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = prost_types::Timestamp {
            seconds: 1_767_225_600,
            nanos: 500_000_000,
        };
        assert_eq!(rfc3339(t), "2026-01-01T00:00:00.500Z");
    }

    #[test]
    fn explanation_of_a_miss_has_no_route_fields() {
        let miss = RouteExplanation::new(
            "g.nowhere".into(),
            api::ExplainRouteResponse {
                matched: false,
                link_state: "unknown".into(),
                ..Default::default()
            },
        );
        assert_eq!(miss.prefix, None);
        assert_eq!(miss.link_state, None);
    }

    #[test]
    fn watch_event_json_names_its_kind_like_the_oneof() {
        let event = WatchEvent::from(api::WatchEvent {
            time: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            action: "created".into(),
            event: Some(api::watch_event::Event::Route(api::Route {
                prefix: "g.west".into(),
                peer_id: "west".into(),
                source: "static".into(),
                create_time: None,
            })),
        });
        let json = serde_json::to_value(&event).ok();
        assert_eq!(
            json,
            Some(serde_json::json!({
                "time": "1970-01-01T00:00:00Z",
                "action": "created",
                "route": {"prefix": "g.west", "peerId": "west", "source": "static", "createTime": null}
            }))
        );
    }
}
