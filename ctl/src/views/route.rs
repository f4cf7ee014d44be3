//! A route as ctl prints it, what removing one answers, and where an address would go: their
//! fields and their tables.

use proto::grpc::v1 as api;
use serde::Serialize;

use super::timestamp::rfc3339;
use crate::output::{Row, Text, dash, table};

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedRoute {
    pub prefix: String,
}

impl Row for RemovedRoute {
    const HEADERS: &'static [&'static str] = &["REMOVED ROUTE"];

    fn cells(&self) -> Vec<String> {
        vec![self.prefix.clone()]
    }
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

impl Text for RouteExplanation {
    fn text(&self) -> String {
        if self.matched {
            table(
                &[
                    "ADDRESS",
                    "MATCHED PREFIX",
                    "NEXT HOP",
                    "SOURCE",
                    "LINK STATE",
                ],
                vec![vec![
                    self.address.clone(),
                    dash(self.prefix.as_deref()),
                    dash(self.peer_id.as_deref()),
                    dash(self.source.as_deref()),
                    dash(self.link_state.as_deref()),
                ]],
            )
        } else {
            format!("no route for {}\n", self.address)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Format, show};

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
            show(Format::Table, &miss).ok().as_deref(),
            Some("no route for g.nowhere\n")
        );
    }
}
