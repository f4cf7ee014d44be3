//! Discovery settings, from the environment.

use std::time::Duration;

use service_runtime::env::Env;

use crate::settings::{SettingsError, error};

/// Which discovered nodes become peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoPeering {
    Off,
    All,
    /// Nodes announcing every one of these capabilities.
    Capabilities(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct DiscoverySettings {
    pub endpoints: Vec<String>,
    /// Our data plane's BTP URL as other nodes should dial it.
    pub announce_address: String,
    pub ilp_address: String,
    pub capabilities: Vec<String>,
    pub interval: Duration,
    pub policy: AutoPeering,
    /// Asset of the peers discovery creates.
    pub asset_code: String,
    pub asset_scale: u8,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

impl DiscoverySettings {
    /// `None` unless `PEER_DISCOVERY_ENABLED` is true.
    pub fn from_env(env: Env<'_>) -> Result<Option<DiscoverySettings>, SettingsError> {
        let get = |name: &str| env.get(name);
        match get("PEER_DISCOVERY_ENABLED").as_deref() {
            None | Some("false") | Some("0") => return Ok(None),
            Some("true") | Some("1") => {}
            Some(other) => {
                return Err(error(
                    "PEER_DISCOVERY_ENABLED",
                    format!("{other:?} is not true or false"),
                ));
            }
        }
        let endpoints = list(&get("PEER_DISCOVERY_ENDPOINTS").unwrap_or_default());
        if endpoints.is_empty() {
            return Err(error(
                "PEER_DISCOVERY_ENDPOINTS",
                "required: comma-separated http(s):// URLs",
            ));
        }
        if let Some(bad) = endpoints
            .iter()
            .find(|e| !(e.starts_with("http://") || e.starts_with("https://")))
        {
            return Err(error(
                "PEER_DISCOVERY_ENDPOINTS",
                format!("{bad:?} is not an http(s):// URL"),
            ));
        }
        let announce_address = env.required(
            "PEER_ANNOUNCE_ADDRESS",
            "the ws:// URL other nodes dial to reach this node",
        )?;
        node_identity::peer_url::normalize(&announce_address)
            .map_err(|e| error("PEER_ANNOUNCE_ADDRESS", e.to_string()))?;
        let ilp_address = env.required("ILP_ADDRESS", "with discovery, the node's ILP address")?;
        proto::Address::new(&ilp_address)
            .map_err(|e| error("ILP_ADDRESS", format!("{ilp_address:?}: {e}")))?;
        let capabilities = list(&get("PEER_CAPABILITIES").unwrap_or_default());
        let seconds = env
            .integer("PEER_BROADCAST_INTERVAL_SECONDS", 1..=3600)?
            .unwrap_or(60);
        let policy = match get("PEER_AUTO_PEERING").as_deref() {
            None | Some("off") => AutoPeering::Off,
            Some("all") => AutoPeering::All,
            Some("capability") => {
                let wanted = list(&get("PEER_AUTO_PEERING_CAPABILITIES").unwrap_or_default());
                if wanted.is_empty() {
                    return Err(error(
                        "PEER_AUTO_PEERING_CAPABILITIES",
                        "required when PEER_AUTO_PEERING is capability",
                    ));
                }
                AutoPeering::Capabilities(wanted)
            }
            Some(other) => {
                return Err(error(
                    "PEER_AUTO_PEERING",
                    format!("{other:?} is not off, all or capability"),
                ));
            }
        };
        let asset_scale = match get("ASSET_SCALE") {
            None => config_model::DEFAULT_ASSET_SCALE,
            Some(text) => text
                .parse()
                .map_err(|_| error("ASSET_SCALE", format!("{text:?} is not 0..=255")))?,
        };
        Ok(Some(DiscoverySettings {
            endpoints,
            announce_address,
            ilp_address,
            capabilities,
            interval: Duration::from_secs(seconds),
            policy,
            asset_code: get("ASSET_CODE")
                .unwrap_or_else(|| config_model::DEFAULT_ASSET_CODE.into()),
            asset_scale,
        }))
    }
}
