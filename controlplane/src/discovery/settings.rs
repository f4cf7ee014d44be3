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
    /// `DISCOVERY_PEER_WITH_UNSIGNED`: let the policy also peer with entries that did not prove
    /// their key (default false: only verified entries become peers).
    pub peer_with_unsigned: bool,
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
    /// `None` unless `PEER_DISCOVERY_ENABLED` is true. Without `PEER_CAPABILITIES`, the node
    /// announces `settlement` (the capabilities of how it settles, `SETTLEMENT`).
    pub fn from_env(
        env: Env<'_>,
        settlement: &[String],
    ) -> Result<Option<DiscoverySettings>, SettingsError> {
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
        let capabilities = match get("PEER_CAPABILITIES") {
            Some(text) => list(&text),
            None => settlement.to_vec(),
        };
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
        let peer_with_unsigned = env.flag("DISCOVERY_PEER_WITH_UNSIGNED")?.unwrap_or(false);
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
            peer_with_unsigned,
            asset_code: get("ASSET_CODE")
                .unwrap_or_else(|| config_model::DEFAULT_ASSET_CODE.into()),
            asset_scale,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::settings::Settings;

    fn settings(extra: &[(&str, &str)]) -> Result<Settings, crate::settings::SettingsError> {
        // The token is resolved from the real environment or a file: a file, so no test
        // touches the process's environment.
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "token").unwrap();
        let token_ref = format!("file:{}", token.display());
        let node_key = dir.path().join("node.key").display().to_string();
        let mut env: BTreeMap<String, String> = [
            ("DATABASE_URL", "sqlite::memory:"),
            ("API_TOKEN_REF", token_ref.as_str()),
            ("NODE_KEY_FILE", node_key.as_str()),
            ("PEER_DISCOVERY_ENABLED", "true"),
            ("PEER_DISCOVERY_ENDPOINTS", "http://discovery:8090"),
            ("PEER_ANNOUNCE_ADDRESS", "ws://me:3000"),
            ("ILP_ADDRESS", "g.me"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Settings::from_env_map(&env)
    }

    fn announced(extra: &[(&str, &str)]) -> Vec<String> {
        settings(extra)
            .ok()
            .and_then(|s| s.discovery)
            .map(|d| d.capabilities)
            .unwrap_or_default()
    }

    /// The wizard's settlement answer is what the node announces, unless the operator lists
    /// the capabilities themselves.
    #[test]
    fn the_settlement_answer_becomes_the_announced_capabilities() {
        assert!(
            settings(&[])
                .map(|s| s.discovery.is_some())
                .unwrap_or_else(|e| panic!("{e}"))
        );
        assert!(announced(&[]).is_empty());
        assert_eq!(announced(&[("SETTLEMENT", "evm")]), ["evm-settlement"]);
        assert_eq!(announced(&[("SETTLEMENT", "xrp")]), ["xrp-settlement"]);
        assert_eq!(
            announced(&[("SETTLEMENT", "both")]),
            ["evm-settlement", "xrp-settlement"]
        );
        assert_eq!(
            announced(&[("SETTLEMENT", "both"), ("PEER_CAPABILITIES", "usd,peering")]),
            ["usd", "peering"]
        );
        let refused = settings(&[("SETTLEMENT", "bitcoin")]).err().unwrap();
        assert_eq!(refused.variable, "SETTLEMENT");
        assert!(
            refused.problem.contains("evm, xrp, both or none"),
            "{refused}"
        );
    }

    /// Only verified entries are peered unless the operator says otherwise.
    #[test]
    fn peering_with_unsigned_entries_is_off_unless_asked_for() {
        let with = |extra: &[(&str, &str)]| {
            settings(extra)
                .map(|s| s.discovery.map(|d| d.peer_with_unsigned))
                .map_err(|e| e.variable)
        };
        assert_eq!(with(&[]), Ok(Some(false)));
        assert_eq!(
            with(&[("DISCOVERY_PEER_WITH_UNSIGNED", "true")]),
            Ok(Some(true))
        );
        assert_eq!(
            with(&[("DISCOVERY_PEER_WITH_UNSIGNED", "false")]),
            Ok(Some(false))
        );
        assert_eq!(
            with(&[("DISCOVERY_PEER_WITH_UNSIGNED", "sometimes")]),
            Err("DISCOVERY_PEER_WITH_UNSIGNED".to_string())
        );
    }
}
