//! A peer as ctl prints it: its fields, and its row in a table.

use proto::grpc::v1 as api;
use serde::Serialize;

use super::timestamp::rfc3339;
use crate::output::{Row, dash};

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
    /// The peer's node public key, with secret reference `node-key`.
    pub public_key: String,
    /// The address ILDCP gives this child; empty for <our address>.<id>.
    pub ilp_address: String,
    pub source: String,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    pub etag: String,
}

/// Every field of the API's peer, named: a field added to the message does not compile here
/// until ctl shows it (the public key was once left out this way).
impl From<api::Peer> for Peer {
    fn from(p: api::Peer) -> Self {
        let api::Peer {
            id,
            url,
            relation,
            asset_code,
            asset_scale,
            max_packet_amount,
            credit_limit,
            secret_ref,
            auth_username,
            source,
            create_time,
            update_time,
            etag,
            public_key,
            ilp_address,
        } = p;
        Self {
            id,
            url,
            relation,
            asset_code,
            asset_scale,
            max_packet_amount,
            credit_limit,
            secret_ref,
            auth_username,
            public_key,
            ilp_address,
            source,
            create_time: create_time.map(rfc3339),
            update_time: update_time.map(rfc3339),
            etag,
        }
    }
}

impl Row for Peer {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "RELATION",
        "URL",
        "ASSET",
        "MAX PACKET",
        "CREDIT LIMIT",
        "SECRET REF",
        "ILP ADDRESS",
        "SOURCE",
        "ETAG",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            dash(Some(&self.relation)),
            dash(Some(&self.url)),
            format!("{}/{}", dash(Some(&self.asset_code)), self.asset_scale),
            limit(self.max_packet_amount),
            limit(self.credit_limit),
            dash(Some(&self.secret_ref)),
            dash(Some(&self.ilp_address)),
            dash(Some(&self.source)),
            dash(Some(&self.etag)),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedPeer {
    pub id: String,
    pub deleted_routes: Vec<String>,
}

impl Row for RemovedPeer {
    const HEADERS: &'static [&'static str] = &["REMOVED PEER", "REMOVED ROUTES"];

    fn cells(&self) -> Vec<String> {
        vec![self.id.clone(), dash(Some(&self.deleted_routes.join(",")))]
    }
}

fn limit(value: Option<u64>) -> String {
    value.map_or_else(|| "none".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Format, list, one};
    use crate::views::Route;

    fn peer() -> Peer {
        Peer {
            id: "west".into(),
            url: "ws://west.acme.internal:3000".into(),
            relation: "peer".into(),
            asset_code: "USD".into(),
            asset_scale: 9,
            max_packet_amount: Some(1_000_000_000),
            credit_limit: None,
            secret_ref: "env:WEST_SECRET".into(),
            auth_username: "east".into(),
            public_key: String::new(),
            ilp_address: String::new(),
            source: "static".into(),
            create_time: Some("2026-01-01T00:00:00Z".into()),
            update_time: None,
            etag: "e1".into(),
        }
    }

    #[test]
    fn an_empty_list_is_an_empty_array_in_json_and_yaml_and_a_header_in_a_table() {
        let empty: Vec<Peer> = Vec::new();
        assert_eq!(list(Format::Json, &empty).ok().as_deref(), Some("[]\n"));
        assert_eq!(list(Format::Yaml, &empty).ok().as_deref(), Some("[]\n"));
        let table = list(Format::Table, &empty).unwrap_or_default();
        assert_eq!(table.lines().count(), 1, "{table}");
        assert!(table.starts_with("ID  RELATION"), "{table}");
        let routes: Vec<Route> = Vec::new();
        assert_eq!(list(Format::Json, &routes).ok().as_deref(), Some("[]\n"));
    }

    #[test]
    fn a_peer_renders_with_its_secret_reference_and_never_a_secret() {
        // The only secret-ish field is the reference; tests/cli.rs also runs the binary with
        // the referenced variable set and checks its value never shows.
        for format in [Format::Table, Format::Json, Format::Yaml] {
            let text = one(format, &peer()).unwrap_or_default();
            assert!(text.contains("env:WEST_SECRET"), "{format:?}: {text}");
        }
        let json = serde_json::to_value(peer()).unwrap_or_default();
        let secret_keys: Vec<&String> = json
            .as_object()
            .map(|o| {
                o.keys()
                    .filter(|k| k.to_lowercase().contains("secret"))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(secret_keys, ["secretRef"]);
    }

    #[test]
    fn a_peer_as_json_uses_camel_case_proto_names() {
        let json: serde_json::Value =
            serde_json::from_str(&one(Format::Json, &peer()).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "west",
                "url": "ws://west.acme.internal:3000",
                "relation": "peer",
                "assetCode": "USD",
                "assetScale": 9,
                "maxPacketAmount": 1_000_000_000u64,
                "creditLimit": null,
                "secretRef": "env:WEST_SECRET",
                "authUsername": "east",
                "publicKey": "",
                "ilpAddress": "",
                "source": "static",
                "createTime": "2026-01-01T00:00:00Z",
                "updateTime": null,
                "etag": "e1"
            })
        );
    }

    #[test]
    fn a_peer_as_yaml_has_the_same_structure_as_json() {
        let yaml = one(Format::Yaml, &peer()).unwrap_or_default();
        let from_yaml: serde_json::Value = yaml_serde::from_str(&yaml).unwrap_or_default();
        let from_json: serde_json::Value =
            serde_json::from_str(&one(Format::Json, &peer()).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(from_yaml, from_json);
        assert!(yaml.contains("secretRef: env:WEST_SECRET"), "{yaml}");
    }

    #[test]
    fn a_peer_table_is_aligned_under_its_header() {
        let text = list(
            Format::Table,
            &[
                peer(),
                Peer {
                    id: "a-much-longer-id".into(),
                    url: String::new(),
                    ..peer()
                },
            ],
        )
        .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let column = |line: &str, needle: &str| line.find(needle);
        assert_eq!(
            column(lines[0], "RELATION"),
            column(lines[1], "peer"),
            "{text}"
        );
        assert_eq!(
            column(lines[0], "RELATION"),
            column(lines[2], "peer"),
            "{text}"
        );
        assert!(lines[1].contains("USD/9"), "{text}");
        assert!(
            lines[1].contains("none"),
            "no credit limit shows as none: {text}"
        );
        assert!(
            lines[2].contains("  -  "),
            "an empty URL shows as -: {text}"
        );
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "{text}");
    }
}
