//! The control plane as a discovery client: announce this node to every discovery endpoint on
//! a schedule (inside the TTL), fetch and merge their lists, keep them in SQLite, and — by the
//! auto-peering policy — turn discovered nodes into peers (authenticated with node keys) with a
//! route to their address, withdrawing them when they disappear. Deregisters at shutdown.
//!
//! An endpoint that does not answer is a warning, never a reason to drop peers: if no endpoint
//! answered, nothing is reconciled and existing links carry on.

mod reconcile;
pub mod settings;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use node_identity::NodeKey;
use proto::discovery::{self as wire, Announcement};
use tokio::sync::watch;

pub use reconcile::reconcile;
pub use settings::{AutoPeering, DiscoverySettings};

use crate::api::State;
use crate::store::DiscoveredNode;

pub struct Discovery {
    pub state: State,
    pub node_id: String,
    pub key: Arc<NodeKey>,
    pub settings: DiscoverySettings,
    client: reqwest::Client,
    sequence: std::sync::atomic::AtomicU64,
}

impl Discovery {
    pub fn new(
        state: State,
        node_id: String,
        key: Arc<NodeKey>,
        settings: DiscoverySettings,
    ) -> Result<Discovery, String> {
        // reqwest is built without a bundled crypto provider; use ring, as the gRPC server does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Discovery {
            state,
            node_id,
            key,
            settings,
            client,
            sequence: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Counts an outcome, and keeps the endpoint's state for `/health`.
    fn count(&self, endpoint: &str, operation: &str, result: &str) {
        self.state.metrics.discovery(endpoint, operation, result);
        let (state, error) = match result {
            "ok" => ("reachable", None),
            "refused" => ("refusing", Some(format!("{operation} refused"))),
            _ => ("unreachable", Some(format!("{operation}: unreachable"))),
        };
        self.state
            .dependencies
            .set(&format!("discovery {endpoint}"), state, error);
    }

    /// Strictly increasing across calls and restarts (milliseconds since the epoch, bumped).
    fn next_sequence(&self) -> u64 {
        let now = u64::try_from(crate::store::now_ms()).unwrap_or(0);
        let mut current = self.sequence.load(std::sync::atomic::Ordering::Acquire);
        loop {
            let next = now.max(current + 1);
            match self.sequence.compare_exchange(
                current,
                next,
                std::sync::atomic::Ordering::AcqRel,
                std::sync::atomic::Ordering::Acquire,
            ) {
                Ok(_) => return next,
                Err(actual) => current = actual,
            }
        }
    }

    /// Announces to every endpoint; returns the smallest TTL any of them granted.
    pub async fn announce(&self) -> Option<u64> {
        let mut announcement = Announcement {
            node_id: self.node_id.clone(),
            btp_endpoint: self.settings.announce_address.clone(),
            ilp_address: self.settings.ilp_address.clone(),
            capabilities: self.settings.capabilities.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            public_key: String::new(),
            sequence: self.next_sequence(),
            signature: String::new(),
        };
        wire::sign_announcement(&self.key, &mut announcement);
        let mut ttl: Option<u64> = None;
        for endpoint in &self.settings.endpoints {
            let url = format!("{}{}", endpoint.trim_end_matches('/'), wire::ANNOUNCE_PATH);
            let (request, span) = outgoing(
                "announce",
                endpoint,
                self.client.post(&url).json(&announcement),
            );
            let answer = request.send().instrument(span).await;
            let result = match answer {
                Ok(response) if response.status().is_success() => {
                    match response.json::<wire::AnnounceResponse>().await {
                        Ok(granted) => {
                            ttl = Some(ttl.map_or(granted.ttl, |t| t.min(granted.ttl)));
                            "ok"
                        }
                        Err(error) => {
                            tracing::warn!(%endpoint, %error, "discovery_announce_unreadable");
                            "refused"
                        }
                    }
                }
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    tracing::warn!(%endpoint, %status, %body, "discovery_announce_refused");
                    "refused"
                }
                Err(error) => {
                    tracing::warn!(%endpoint, %error, "discovery_endpoint_unreachable");
                    "unreachable"
                }
            };
            self.count(endpoint, "announce", result);
        }
        ttl
    }

    /// One endpoint's whole list, page after page (`nextCursor` as `after`), or the result
    /// label of why not. Bounded: a server whose cursor does not advance, or that pages past
    /// `MAX_PAGES`, is treated as refusing.
    async fn list_all(&self, endpoint: &str) -> Result<Vec<wire::PeerEntry>, &'static str> {
        /// 10 000 pages of 1 000: ten million nodes, far past any registry we serve.
        const MAX_PAGES: usize = 10_000;
        let base = format!("{}{}", endpoint.trim_end_matches('/'), wire::PEERS_PATH);
        let mut entries = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            // Node ids are [A-Za-z0-9_.-]: nothing in a cursor needs escaping.
            let url = match &after {
                None => base.clone(),
                Some(cursor) => format!("{base}?after={cursor}"),
            };
            let (request, span) = outgoing("list", endpoint, self.client.get(&url));
            let list = match request.send().instrument(span).await {
                Ok(response) if response.status().is_success() => response
                    .json::<wire::ListResponse>()
                    .await
                    .map_err(|error| {
                        tracing::warn!(%endpoint, %error, "discovery_list_unreadable");
                        "refused"
                    })?,
                Ok(response) => {
                    tracing::warn!(%endpoint, status = %response.status(), "discovery_list_refused");
                    return Err("refused");
                }
                Err(error) => {
                    tracing::warn!(%endpoint, %error, "discovery_endpoint_unreachable");
                    return Err("unreachable");
                }
            };
            entries.extend(list.peers);
            match list.next_cursor {
                None => return Ok(entries),
                Some(cursor) if after.as_ref() == Some(&cursor) => {
                    tracing::warn!(%endpoint, %cursor, "discovery_cursor_stuck");
                    return Err("refused");
                }
                Some(cursor) => after = Some(cursor),
            }
        }
        tracing::warn!(%endpoint, pages = MAX_PAGES, "discovery_list_too_long");
        Err("refused")
    }

    /// Every endpoint's list, merged by node id (a verified entry, then the freshest, wins),
    /// without us. `None` if no endpoint answered.
    pub async fn fetch(&self) -> Option<Vec<DiscoveredNode>> {
        let mut merged: BTreeMap<String, DiscoveredNode> = BTreeMap::new();
        let mut answered = false;
        for endpoint in &self.settings.endpoints {
            let entries = match self.list_all(endpoint).await {
                Ok(entries) => entries,
                Err(result) => {
                    self.count(endpoint, "list", result);
                    continue;
                }
            };
            self.count(endpoint, "list", "ok");
            answered = true;
            for entry in entries {
                if entry.node_id == self.node_id {
                    continue;
                }
                let last_seen_ms = i64::try_from(entry.last_seen)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1000);
                let verified = is_verified(&entry);
                let node = DiscoveredNode {
                    verified,
                    node_id: entry.node_id.clone(),
                    btp_endpoint: entry.btp_endpoint,
                    ilp_address: entry.ilp_address,
                    capabilities: entry.capabilities,
                    public_key: entry.public_key,
                    source_endpoint: endpoint.clone(),
                    last_seen_ms,
                };
                // A verified entry beats an unverified one from another endpoint, however
                // fresh: an unproven claim must not displace a proven one.
                match merged.get(&entry.node_id) {
                    Some(existing)
                        if (existing.verified, existing.last_seen_ms)
                            >= (verified, last_seen_ms) => {}
                    _ => {
                        merged.insert(entry.node_id, node);
                    }
                }
            }
        }
        answered.then(|| merged.into_values().collect())
    }

    /// Removes us from every endpoint (graceful shutdown).
    pub async fn deregister(&self) {
        let sequence = self.next_sequence();
        let signature = wire::sign_deregistration(&self.key, &self.node_id, sequence);
        for endpoint in &self.settings.endpoints {
            let url = format!(
                "{}{}/{}",
                endpoint.trim_end_matches('/'),
                wire::PEERS_PATH,
                self.node_id
            );
            let (request, span) = outgoing(
                "deregister",
                endpoint,
                self.client
                    .delete(&url)
                    .header(wire::SEQUENCE_HEADER, sequence.to_string())
                    .header(wire::SIGNATURE_HEADER, &signature),
            );
            let result = request.send().instrument(span).await;
            let outcome = match result {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(%endpoint, "discovery_deregistered");
                    "ok"
                }
                Ok(response) => {
                    tracing::warn!(%endpoint, status = %response.status(), "discovery_deregister_refused");
                    "refused"
                }
                Err(error) => {
                    tracing::warn!(%endpoint, %error, "discovery_endpoint_unreachable");
                    "unreachable"
                }
            };
            self.count(endpoint, "deregister", outcome);
        }
    }

    /// Announce, fetch, reconcile, repeat (jittered, inside the TTL) until shutdown; then
    /// deregister.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut period = self.settings.interval;
        loop {
            if let Some(ttl) = self.announce().await {
                // Always re-announce well inside the TTL, whatever the configured interval.
                period = self
                    .settings
                    .interval
                    .min(Duration::from_millis(ttl * 1000 / 2).max(Duration::from_millis(500)));
            }
            if let Some(nodes) = self.fetch().await
                && let Err(error) =
                    reconcile(&self.state, &self.settings, &self.node_id, nodes).await
            {
                tracing::warn!(%error, "discovery_reconcile_failed");
            }
            // ±20 % so that nodes started together do not announce in lockstep.
            let jitter = 0.8 + 0.4 * rand::random::<f64>();
            let sleep = period.mul_f64(jitter);
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        self.deregister().await;
    }
}

/// Whether a listed entry proved its key: not marked unverified (servers before the mark
/// listed signed entries only, and it reads as true when absent) and carrying a valid public
/// key (an unsigned entry's is empty). Only such entries are auto-peered by default.
pub fn is_verified(entry: &wire::PeerEntry) -> bool {
    entry.verified && node_identity::PublicKey::from_base64(&entry.public_key).is_ok()
}

/// A client span for one request to a discovery server, and the request carrying its trace
/// context, when traces are exported; the request untouched otherwise.
fn outgoing(
    operation: &'static str,
    endpoint: &str,
    request: reqwest::RequestBuilder,
) -> (reqwest::RequestBuilder, tracing::Span) {
    use service_runtime::telemetry;
    if !telemetry::traces_enabled() {
        return (request, tracing::Span::none());
    }
    let span = tracing::info_span!(
        "discovery.request",
        otel.kind = "client",
        otel.name = %format!("discovery {operation}"),
        discovery.operation = operation,
        discovery.endpoint = %endpoint,
    );
    let request = match telemetry::traceparent(&span) {
        Some(traceparent) => request.header(telemetry::TRACEPARENT, traceparent),
        None => request,
    };
    (request, span)
}

#[cfg(test)]
mod tests {
    //! The client against a stub discovery server on 127.0.0.1 that serves its list in pages.

    use std::collections::HashMap;

    use axum::extract::Query;
    use axum::routing::get;

    use super::*;

    fn entry(id: &str) -> wire::PeerEntry {
        wire::PeerEntry {
            node_id: id.into(),
            btp_endpoint: format!("ws://{id}:3000"),
            ilp_address: format!("g.{id}"),
            capabilities: vec![],
            version: "1".into(),
            public_key: NodeKey::generate().public_key_base64(),
            last_seen: 1,
            verified: true,
        }
    }

    /// Two entries a page, `after` as the cursor, like the real server.
    async fn stub(ids: Vec<String>) -> String {
        let router = axum::Router::new().route(
            wire::PEERS_PATH,
            get(move |Query(query): Query<HashMap<String, String>>| {
                let ids = ids.clone();
                async move {
                    let rest: Vec<&String> = ids
                        .iter()
                        .filter(|id| query.get("after").is_none_or(|after| *id > after))
                        .collect();
                    let page: Vec<wire::PeerEntry> =
                        rest.iter().take(2).map(|id| entry(id)).collect();
                    axum::Json(wire::ListResponse {
                        total: ids.len(),
                        next_cursor: (rest.len() > 2).then(|| rest[1].clone()),
                        peers: page,
                    })
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}")
    }

    /// Our node `me`, with `endpoint` as its only discovery server.
    async fn client(endpoint: String) -> Discovery {
        let settings = DiscoverySettings {
            endpoints: vec![endpoint],
            announce_address: "ws://me:3000".into(),
            ilp_address: "g.me".into(),
            capabilities: vec![],
            interval: Duration::from_secs(60),
            policy: AutoPeering::All,
            peer_with_unsigned: false,
            asset_code: "USD".into(),
            asset_scale: 9,
        };
        Discovery::new(
            State::for_tests("me").await,
            "me".into(),
            Arc::new(NodeKey::generate()),
            settings,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn every_page_of_every_endpoint_is_read() {
        let ids: Vec<String> = ["a", "b", "c", "d", "e", "me"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let endpoint = stub(ids).await;
        let discovery = client(endpoint).await;
        let nodes = discovery.fetch().await.expect("the endpoint answered");
        let found: Vec<&str> = nodes.iter().map(|n| n.node_id.as_str()).collect();
        assert_eq!(found, ["a", "b", "c", "d", "e"], "every page, without us");
        let shown = discovery.state.dependencies.to_json();
        assert_eq!(shown[0]["state"], "reachable", "{shown}");
    }

    /// A server's list as raw JSON, the way any server (ours, an older one, another
    /// registry) might send it.
    async fn raw_stub(body: serde_json::Value) -> String {
        let router = axum::Router::new().route(
            wire::PEERS_PATH,
            get(move || {
                let body = body.clone();
                async move { axum::Json(body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn entries_are_verified_only_with_a_proven_key() {
        let key = NodeKey::generate().public_key_base64();
        let peer = |id: &str, public_key: &str, verified: Option<bool>| {
            let mut entry = serde_json::json!({
                "nodeId": id, "btpEndpoint": format!("ws://{id}:1"), "ilpAddress": format!("g.{id}"),
                "capabilities": [], "version": "1", "publicKey": public_key, "lastSeen": 5,
            });
            if let Some(verified) = verified {
                entry["verified"] = verified.into();
            }
            entry
        };
        let endpoint = raw_stub(serde_json::json!({
            "total": 5,
            "peers": [
                peer("old-server", &key, None),
                peer("signed", &key, Some(true)),
                peer("story", "", Some(false)),
                peer("claimed", &key, Some(false)),
                peer("broken", "not a key", None),
            ],
        }))
        .await;
        let nodes = client(endpoint).await.fetch().await.expect("answered");
        let marks: Vec<(&str, bool)> = nodes
            .iter()
            .map(|n| (n.node_id.as_str(), n.verified))
            .collect();
        assert_eq!(
            marks,
            [
                ("broken", false),
                ("claimed", false),
                ("old-server", true),
                ("signed", true),
                ("story", false),
            ]
        );
    }

    #[tokio::test]
    async fn a_verified_entry_beats_a_fresher_unverified_one() {
        let key = NodeKey::generate().public_key_base64();
        let list = |public_key: &str, verified: bool, last_seen: u64| {
            serde_json::json!({"total": 1, "peers": [{
                "nodeId": "x", "btpEndpoint": format!("ws://{last_seen}:1"), "ilpAddress": "g.x",
                "capabilities": [], "version": "1", "publicKey": public_key,
                "lastSeen": last_seen, "verified": verified,
            }]})
        };
        let proven = raw_stub(list(&key, true, 10)).await;
        let unproven = raw_stub(list("", false, 20)).await;
        let mut discovery = client(proven).await;
        discovery.settings.endpoints.push(unproven);
        let nodes = discovery.fetch().await.expect("answered");
        assert_eq!(nodes.len(), 1);
        assert!(nodes[0].verified);
        assert_eq!(nodes[0].btp_endpoint, "ws://10:1");
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_shown_with_its_error() {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let discovery = client(endpoint.clone()).await;
        assert!(discovery.fetch().await.is_none(), "no endpoint answered");
        let shown = discovery.state.dependencies.to_json();
        assert_eq!(shown[0]["name"], format!("discovery {endpoint}"), "{shown}");
        assert_eq!(shown[0]["state"], "unreachable", "{shown}");
        assert_eq!(shown[0]["lastError"], "list: unreachable", "{shown}");
    }
}
