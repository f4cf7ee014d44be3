//! The control plane's node as ctl prints it: its status (data planes, their links and
//! balances) and the nodes discovery knows about.

use proto::grpc::v1 as api;
use serde::Serialize;

use super::timestamp::rfc3339;
use crate::output::{Row, Text, dash, table};

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
    pub settlement: Settlement,
}

/// How the node settles, as its control plane was configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settlement {
    pub capabilities: Vec<String>,
    pub evm_address: String,
    pub xrp_address: String,
}

impl From<api::NodeStatus> for NodeStatus {
    fn from(s: api::NodeStatus) -> Self {
        let settlement = s.settlement.unwrap_or_default();
        Self {
            node_id: s.node_id,
            current_version: s.current_version.map(Into::into),
            peer_count: s.peer_count,
            route_count: s.route_count,
            data_planes: s.data_planes.into_iter().map(Into::into).collect(),
            settlement: Settlement {
                capabilities: settlement.capabilities,
                evm_address: settlement.evm_address,
                xrp_address: settlement.xrp_address,
            },
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
    /// Empty while the data plane waits for its parent's ILDCP answer.
    pub ilp_address: String,
    /// `configured` or `ildcp`.
    pub address_source: String,
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
            ilp_address: d.ilp_address,
            address_source: d.address_source,
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

/// One peer's balance as one data plane last reported it (`ctl balances`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceRow {
    pub data_plane: String,
    pub peer_id: String,
    pub balance: String,
    pub pending_incoming: String,
    /// When the data plane last reported (RFC 3339).
    pub reported: Option<String>,
}

impl BalanceRow {
    /// Every data plane's balances, or one peer's.
    pub fn from_status(status: &NodeStatus, peer: Option<&str>) -> Vec<BalanceRow> {
        status
            .data_planes
            .iter()
            .flat_map(|d| {
                d.balances
                    .iter()
                    .filter(|b| peer.is_none_or(|p| p == b.peer_id))
                    .map(|b| BalanceRow {
                        data_plane: d.node_id.clone(),
                        peer_id: b.peer_id.clone(),
                        balance: b.balance.clone(),
                        pending_incoming: b.pending_incoming.clone(),
                        reported: d.last_seen.clone(),
                    })
            })
            .collect()
    }
}

impl Row for BalanceRow {
    const HEADERS: &'static [&'static str] = &[
        "DATA PLANE",
        "PEER",
        "BALANCE",
        "PENDING INCOMING",
        "REPORTED",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.data_plane.clone(),
            self.peer_id.clone(),
            self.balance.clone(),
            self.pending_incoming.clone(),
            dash(self.reported.as_deref()),
        ]
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
    /// Announced signed by its node key; unsigned entries are never auto-peered.
    pub verified: bool,
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
            verified: n.verified,
        }
    }
}

impl Row for DiscoveredNode {
    const HEADERS: &'static [&'static str] = &[
        "NODE",
        "ADDRESS",
        "ENDPOINT",
        "CAPABILITIES",
        "LAST SEEN",
        "VERIFIED",
        "PEERED",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.node_id.clone(),
            self.ilp_address.clone(),
            self.btp_endpoint.clone(),
            dash(Some(&self.capabilities.join(","))),
            dash(self.last_seen.as_deref()),
            if self.verified { "key" } else { "no" }.to_string(),
            if self.peered { "yes" } else { "no" }.to_string(),
        ]
    }
}

impl Text for NodeStatus {
    fn text(&self) -> String {
        status_table(self)
    }
}

/// `evm 0x… xrp r…`, the methods with their addresses, or `-`.
fn settlement_cell(s: &Settlement) -> String {
    let methods: Vec<String> = [("evm", &s.evm_address), ("xrp", &s.xrp_address)]
        .into_iter()
        .filter(|(method, _)| s.capabilities.iter().any(|c| c.starts_with(method)))
        .map(|(method, address)| format!("{method} {}", dash(Some(address))))
        .collect();
    dash(Some(&methods.join(" ")))
}

fn status_table(s: &NodeStatus) -> String {
    let node = table(
        &["NODE", "CONFIG VERSION", "PEERS", "ROUTES", "SETTLEMENT"],
        vec![vec![
            dash(Some(&s.node_id)),
            version(s.current_version),
            s.peer_count.to_string(),
            s.route_count.to_string(),
            settlement_cell(&s.settlement),
        ]],
    );
    let planes = table(
        &[
            "DATA PLANE",
            "CONNECTED",
            "ILP ADDRESS",
            "APPLIED",
            "LAST NACK",
            "LAST SEEN",
        ],
        s.data_planes.iter().map(data_plane_cells).collect(),
    );
    let links = table(
        &["DATA PLANE", "PEER", "LINK STATE", "LAST ERROR"],
        s.data_planes
            .iter()
            .flat_map(|d| {
                d.links.iter().map(|l| {
                    vec![
                        d.node_id.clone(),
                        l.peer_id.clone(),
                        dash(Some(&l.state)),
                        dash(Some(&l.last_error)),
                    ]
                })
            })
            .collect(),
    );
    let balances = table(
        &["DATA PLANE", "PEER", "BALANCE", "PENDING INCOMING"],
        s.data_planes
            .iter()
            .flat_map(|d| {
                d.balances.iter().map(|b| {
                    vec![
                        d.node_id.clone(),
                        b.peer_id.clone(),
                        b.balance.clone(),
                        b.pending_incoming.clone(),
                    ]
                })
            })
            .collect(),
    );
    format!("{node}\n{planes}\n{links}\n{balances}")
}

fn data_plane_cells(d: &DataPlaneStatus) -> Vec<String> {
    let last_nack = match (d.last_nack_version, d.last_nack_error.as_str()) {
        (None, "") => "-".to_string(),
        (v, "") => version(v),
        (v, error) => format!("{}: {error}", version(v)),
    };
    vec![
        d.node_id.clone(),
        if d.connected { "yes" } else { "no" }.to_string(),
        match (d.ilp_address.as_str(), d.address_source.as_str()) {
            ("", _) => "-".to_string(),
            (address, "") => address.to_string(),
            (address, source) => format!("{address} ({source})"),
        },
        version(d.applied_version),
        last_nack,
        dash(d.last_seen.as_deref()),
    ]
}

pub(super) fn version(v: Option<ConfigVersion>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Format, show};

    #[test]
    fn balance_rows_are_one_per_data_plane_and_peer_and_filter_by_peer() {
        let plane = |id: &str, peers: &[&str]| DataPlaneStatus {
            node_id: id.into(),
            connected: true,
            applied_version: None,
            last_nack_version: None,
            last_nack_error: String::new(),
            last_seen: Some("2026-12-02T10:00:00Z".into()),
            links: Vec::new(),
            balances: peers
                .iter()
                .map(|p| PeerBalance {
                    peer_id: (*p).into(),
                    balance: "-5".into(),
                    pending_incoming: "0".into(),
                })
                .collect(),
            ilp_address: String::new(),
            address_source: String::new(),
        };
        let status = NodeStatus {
            node_id: "n".into(),
            current_version: None,
            peer_count: 2,
            route_count: 0,
            data_planes: vec![plane("dp-a", &["alice", "bob"]), plane("dp-b", &["alice"])],
            settlement: Settlement::default(),
        };
        assert_eq!(BalanceRow::from_status(&status, None).len(), 3);
        let alice = BalanceRow::from_status(&status, Some("alice"));
        assert_eq!(
            alice
                .iter()
                .map(|r| r.data_plane.as_str())
                .collect::<Vec<_>>(),
            ["dp-a", "dp-b"]
        );
        assert_eq!(alice[0].reported.as_deref(), Some("2026-12-02T10:00:00Z"));
        assert!(BalanceRow::from_status(&status, Some("carol")).is_empty());
    }

    #[test]
    fn status_json_keeps_balances_as_strings() {
        let status = NodeStatus {
            node_id: "cp".into(),
            current_version: Some(ConfigVersion {
                epoch: 3,
                generation: 17,
            }),
            peer_count: 1,
            route_count: 2,
            data_planes: vec![DataPlaneStatus {
                node_id: "n1".into(),
                connected: true,
                applied_version: Some(ConfigVersion {
                    epoch: 3,
                    generation: 16,
                }),
                last_nack_version: Some(ConfigVersion {
                    epoch: 3,
                    generation: 17,
                }),
                last_nack_error: "route to unknown peer".into(),
                last_seen: Some("2026-01-01T00:00:00Z".into()),
                links: vec![LinkStatus {
                    peer_id: "west".into(),
                    state: "up".into(),
                    last_error: String::new(),
                }],
                balances: vec![PeerBalance {
                    peer_id: "west".into(),
                    balance: "-170141183460469231731687303715884105728".into(),
                    pending_incoming: "0".into(),
                }],
                ilp_address: "g.west.n1".into(),
                address_source: "configured".into(),
            }],
            settlement: Settlement::default(),
        };
        let json: serde_json::Value =
            serde_json::from_str(&show(Format::Json, &status).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(
            json["dataPlanes"][0]["balances"][0]["balance"],
            "-170141183460469231731687303715884105728"
        );
        assert_eq!(json["currentVersion"]["generation"], 17);
        let table = show(Format::Table, &status).unwrap_or_default();
        assert!(table.contains("3.17"), "{table}");
        assert!(table.contains("3.17: route to unknown peer"), "{table}");
        assert!(table.contains("west  up"), "{table}");
        assert!(table.contains("g.west.n1 (configured)"), "{table}");
        assert!(
            table.contains("-170141183460469231731687303715884105728"),
            "{table}"
        );
    }
}
