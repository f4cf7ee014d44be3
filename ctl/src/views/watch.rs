//! `ctl watch`'s events as ctl prints them: their fields, and one line each.

use proto::grpc::v1 as api;
use serde::Serialize;

use super::node::{ConfigVersion, LinkStatus, version};
use super::peer::Peer;
use super::route::Route;
use super::timestamp::rfc3339;
use crate::output::{Text, dash};

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
    // Boxed: a peer is several times the size of the other events.
    Peer(Box<Peer>),
    Route(Route),
    Link(LinkStatus),
    ConfigApplied(ConfigApplied),
    ConfigNacked(ConfigNacked),
    /// This watch fell behind and lost `count` events.
    Missed {
        count: u64,
    },
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
                E::Peer(p) => Event::Peer(Box::new(p.into())),
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
                E::Missed(m) => Event::Missed { count: m.count },
            }),
        }
    }
}

impl Text for WatchEvent {
    fn text(&self) -> String {
        watch_line(self)
    }
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
        Some(Event::Missed { count }) => format!(
            "{time}  {count} events missed: this watch fell behind; re-read with ctl status, ctl peers list, ctl routes list"
        ),
        None => format!("{time}  unknown event{action}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_missed_event_says_how_many_and_what_to_do() {
        let event = WatchEvent::from(api::WatchEvent {
            time: None,
            action: "missed".into(),
            event: Some(api::watch_event::Event::Missed(api::EventsMissed {
                count: 76,
            })),
        });
        let line = event.text();
        assert!(line.contains("76 events missed"), "{line}");
        assert!(line.contains("ctl status"), "{line}");
        assert_eq!(
            serde_json::to_value(&event)
                .ok()
                .and_then(|j| j.get("missed").cloned()),
            Some(serde_json::json!({"count": 76}))
        );
    }
}
