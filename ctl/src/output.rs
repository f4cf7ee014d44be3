//! Turning views into text (table, JSON, YAML) and writing it: data to stdout, diagnostics to
//! stderr. No colours anywhere, so NO_COLOR holds trivially and logs stay clean.

use std::io::Write;

use serde::Serialize;

use crate::exit_code;
use crate::views::{
    DataPlaneStatus, Event, NodeStatus, Peer, RemovedPeer, RemovedRoute, Route, RouteExplanation,
    WatchEvent,
};

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns with a header (an empty list prints only the header).
    #[default]
    Table,
    /// JSON: lists as arrays, single resources as objects, `watch` one object per line.
    Json,
    /// YAML with the same structure as JSON.
    Yaml,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("encoding JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("encoding YAML: {0}")]
    Yaml(#[from] yaml_serde::Error),
}

/// A resource that is one row of a table.
pub trait Row {
    const HEADERS: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

pub fn list<T: Serialize + Row>(format: Format, items: &[T]) -> Result<String, RenderError> {
    structured(format, items, || {
        table(T::HEADERS, items.iter().map(Row::cells).collect())
    })
}

pub fn one<T: Serialize + Row>(format: Format, item: &T) -> Result<String, RenderError> {
    structured(format, item, || table(T::HEADERS, vec![item.cells()]))
}

pub fn explanation(format: Format, e: &RouteExplanation) -> Result<String, RenderError> {
    structured(format, e, || {
        if e.matched {
            table(
                &[
                    "ADDRESS",
                    "MATCHED PREFIX",
                    "NEXT HOP",
                    "SOURCE",
                    "LINK STATE",
                ],
                vec![vec![
                    e.address.clone(),
                    dash(e.prefix.as_deref()),
                    dash(e.peer_id.as_deref()),
                    dash(e.source.as_deref()),
                    dash(e.link_state.as_deref()),
                ]],
            )
        } else {
            format!("no route for {}\n", e.address)
        }
    })
}

pub fn status(format: Format, s: &NodeStatus) -> Result<String, RenderError> {
    structured(format, s, || status_table(s))
}

/// One event per line in every format, so `ctl watch | …` can act on each as it arrives.
pub fn watch_event(format: Format, e: &WatchEvent) -> Result<String, RenderError> {
    Ok(match format {
        Format::Table => format!("{}\n", watch_line(e)),
        Format::Json => format!("{}\n", serde_json::to_string(e)?),
        Format::Yaml => format!("---\n{}", yaml_serde::to_string(e)?),
    })
}

fn structured<T: Serialize + ?Sized>(
    format: Format,
    value: &T,
    table: impl FnOnce() -> String,
) -> Result<String, RenderError> {
    Ok(match format {
        Format::Table => table(),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(value)?),
        Format::Yaml => yaml_serde::to_string(value)?,
    })
}

/// Columns padded to their widest cell, two spaces apart, no trailing blanks.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn dash(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => "-".to_string(),
    }
}

fn limit(value: Option<u64>) -> String {
    value.map_or_else(|| "none".to_string(), |v| v.to_string())
}

fn version(v: Option<crate::views::ConfigVersion>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
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
            dash(Some(&self.source)),
            dash(Some(&self.etag)),
        ]
    }
}

impl Row for crate::views::DiscoveredNode {
    const HEADERS: &'static [&'static str] = &[
        "NODE",
        "ADDRESS",
        "ENDPOINT",
        "CAPABILITIES",
        "LAST SEEN",
        "PEERED",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.node_id.clone(),
            self.ilp_address.clone(),
            self.btp_endpoint.clone(),
            dash(Some(&self.capabilities.join(","))),
            dash(self.last_seen.as_deref()),
            if self.peered { "yes" } else { "no" }.to_string(),
        ]
    }
}

impl Row for Route {
    const HEADERS: &'static [&'static str] = &["PREFIX", "PEER", "SOURCE", "CREATED"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.prefix.clone(),
            self.peer_id.clone(),
            dash(Some(&self.source)),
            dash(self.create_time.as_deref()),
        ]
    }
}

impl Row for RemovedPeer {
    const HEADERS: &'static [&'static str] = &["REMOVED PEER", "REMOVED ROUTES"];

    fn cells(&self) -> Vec<String> {
        vec![self.id.clone(), dash(Some(&self.deleted_routes.join(",")))]
    }
}

impl Row for RemovedRoute {
    const HEADERS: &'static [&'static str] = &["REMOVED ROUTE"];

    fn cells(&self) -> Vec<String> {
        vec![self.prefix.clone()]
    }
}

fn status_table(s: &NodeStatus) -> String {
    let node = table(
        &["NODE", "CONFIG VERSION", "PEERS", "ROUTES"],
        vec![vec![
            dash(Some(&s.node_id)),
            version(s.current_version),
            s.peer_count.to_string(),
            s.route_count.to_string(),
        ]],
    );
    let planes = table(
        &[
            "DATA PLANE",
            "CONNECTED",
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
        version(d.applied_version),
        last_nack,
        dash(d.last_seen.as_deref()),
    ]
}

fn watch_line(e: &WatchEvent) -> String {
    let time = dash(e.time.as_deref());
    let action = if e.action.is_empty() {
        String::new()
    } else {
        format!(" {}", e.action)
    };
    match &e.event {
        Some(Event::Peer(p)) => format!(
            "{time}  peer{action}  {}  relation={} url={} asset={}/{} secretRef={}",
            p.id,
            dash(Some(&p.relation)),
            dash(Some(&p.url)),
            dash(Some(&p.asset_code)),
            p.asset_scale,
            dash(Some(&p.secret_ref)),
        ),
        Some(Event::Route(r)) => format!("{time}  route{action}  {} -> {}", r.prefix, r.peer_id),
        Some(Event::Link(l)) if l.last_error.is_empty() => {
            format!("{time}  link{action}  {}: {}", l.peer_id, l.state)
        }
        Some(Event::Link(l)) => format!(
            "{time}  link{action}  {}: {} ({})",
            l.peer_id, l.state, l.last_error
        ),
        Some(Event::ConfigApplied(c)) => format!(
            "{time}  config applied{action}  {} version {}",
            c.node_id,
            version(c.version)
        ),
        Some(Event::ConfigNacked(c)) => format!(
            "{time}  config refused{action}  {} version {}: {}",
            c.node_id,
            version(c.version),
            c.error
        ),
        None => format!("{time}  unknown event{action}"),
    }
}

/// Writes data to stdout. A closed pipe (`ctl peers list | head -1`) is the reader's choice,
/// not an error worth a message, so it is reported as `false` for the caller to stop.
pub fn emit(text: &str) -> std::io::Result<bool> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn note(text: &str) {
    eprintln!("{text}");
}

#[derive(Serialize)]
struct ErrorReport<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    /// The gRPC code; absent for errors that did not come from the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    message: &'a str,
}

/// The error as printed on stderr: `ctl: CODE: message`, or a JSON object in `-o json` mode.
pub fn error_text(format: Format, error: &anyhow::Error) -> String {
    let (code, message) = match exit_code::grpc_status(error) {
        Some(status) => {
            let code = exit_code::code_name(status.code());
            let message = if status.message().is_empty() {
                status.code().description().to_string()
            } else {
                status.message().to_string()
            };
            (Some(code), message)
        }
        None => (None, format!("{error:#}")),
    };
    if format == Format::Json {
        let report = ErrorReport {
            error: ErrorBody {
                code,
                message: &message,
            },
        };
        if let Ok(json) = serde_json::to_string(&report) {
            return json;
        }
    }
    match code {
        Some(code) => format!("ctl: {code}: {}", one_line(&message)),
        None => format!("ctl: {}", one_line(&message)),
    }
}

fn one_line(message: &str) -> String {
    message.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::{ConfigVersion, LinkStatus, PeerBalance};

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
            }],
        };
        let json: serde_json::Value =
            serde_json::from_str(&super::status(Format::Json, &status).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(
            json["dataPlanes"][0]["balances"][0]["balance"],
            "-170141183460469231731687303715884105728"
        );
        assert_eq!(json["currentVersion"]["generation"], 17);
        let table = super::status(Format::Table, &status).unwrap_or_default();
        assert!(table.contains("3.17"), "{table}");
        assert!(table.contains("3.17: route to unknown peer"), "{table}");
        assert!(table.contains("west  up"), "{table}");
        assert!(
            table.contains("-170141183460469231731687303715884105728"),
            "{table}"
        );
    }

    #[test]
    fn a_missed_route_says_no_route() {
        let miss = RouteExplanation {
            address: "g.nowhere".into(),
            matched: false,
            prefix: None,
            peer_id: None,
            source: None,
            link_state: None,
        };
        assert_eq!(
            explanation(Format::Table, &miss).ok().as_deref(),
            Some("no route for g.nowhere\n")
        );
    }

    #[test]
    fn grpc_errors_print_code_and_message_and_json_mode_prints_an_object() {
        let error = anyhow::Error::new(tonic::Status::invalid_argument("bad prefix \"x\""));
        assert_eq!(
            error_text(Format::Table, &error),
            "ctl: INVALID_ARGUMENT: bad prefix \"x\""
        );
        let json: serde_json::Value =
            serde_json::from_str(&error_text(Format::Json, &error)).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "INVALID_ARGUMENT", "message": "bad prefix \"x\""}})
        );
        let local = anyhow::anyhow!("disk full");
        assert_eq!(error_text(Format::Table, &local), "ctl: disk full");
        assert_eq!(
            error_text(Format::Json, &local),
            r#"{"error":{"message":"disk full"}}"#
        );
    }
}
