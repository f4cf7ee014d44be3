//! The `BTP_PEER_{ID}_…` seed variables: peers defined or amended from the environment.
//!
//! `{ID}` matches a configured peer id case-insensitively with `-` read as `_`
//! (`node-b` ↔ `BTP_PEER_NODE_B_URL`); an id no configured peer has creates a new peer whose id
//! is the lower-cased `{ID}` with `_` turned into `-`.

use std::collections::BTreeMap;

use super::{ConfigError, PeerConfig, Relation, RouteConfig, SecretRef};

const PREFIX: &str = "BTP_PEER_";
/// Longest first, so `_MAX_PACKET_AMOUNT` is not read as some shorter suffix.
const SUFFIXES: [&str; 9] = [
    "_MAX_PACKET_AMOUNT",
    "_CREDIT_LIMIT",
    "_ILP_ADDRESS",
    "_ASSET_CODE",
    "_ASSET_SCALE",
    "_RELATION",
    "_ROUTES",
    "_SECRET",
    "_URL",
];

fn env_key(peer_id: &str) -> String {
    peer_id.to_ascii_uppercase().replace(['-', '.'], "_")
}

/// `BTP_PEER_{ID}_SECRET` for a peer whose file entry has no `secretRef`.
pub(super) fn seeded_secret(env: &BTreeMap<String, String>, peer_id: &str) -> Option<SecretRef> {
    let name = format!("{PREFIX}{}_SECRET", env_key(peer_id));
    env.contains_key(&name).then_some(SecretRef::Env(name))
}

pub(super) fn apply_peer_seeds(
    env: &BTreeMap<String, String>,
    peers: &mut Vec<PeerConfig>,
    routes: &mut Vec<RouteConfig>,
    default_asset_code: &str,
    default_asset_scale: u8,
) -> Result<(), ConfigError> {
    // Group the variables by peer key first, so a peer is created once with all its fields.
    let mut seeds: BTreeMap<String, BTreeMap<&'static str, (&String, &String)>> = BTreeMap::new();
    for (name, value) in env.range(PREFIX.to_string()..) {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            break;
        };
        let Some((key, suffix)) = SUFFIXES
            .iter()
            .find_map(|suffix| rest.strip_suffix(suffix).map(|key| (key, *suffix)))
        else {
            continue;
        };
        if key.is_empty() {
            continue;
        }
        seeds
            .entry(key.to_string())
            .or_default()
            .insert(suffix, (name, value));
    }
    for (key, fields) in seeds {
        let index = match peers.iter().position(|p| env_key(&p.id) == key) {
            Some(index) => index,
            None => {
                let (name, _) = fields
                    .values()
                    .next()
                    .copied()
                    .ok_or_else(|| ConfigError::new(format!("{PREFIX}{key}"), "no fields"))?;
                let secret_name = format!("{PREFIX}{key}_SECRET");
                if !fields.contains_key("_SECRET") {
                    return Err(ConfigError::new(
                        name.clone(),
                        format!(
                            "peer {} has no secret: set {secret_name}",
                            key.to_ascii_lowercase()
                        ),
                    ));
                }
                peers.push(PeerConfig {
                    asset_code: default_asset_code.to_string(),
                    asset_scale: default_asset_scale,
                    ..PeerConfig::new(
                        key.to_ascii_lowercase().replace('_', "-"),
                        SecretRef::Env(secret_name),
                    )
                });
                peers.len() - 1
            }
        };
        let peer = &mut peers[index];
        for (suffix, (name, value)) in fields {
            let number = |value: &str| {
                value.parse::<u64>().map_err(|_| {
                    ConfigError::new(name.clone(), format!("{value:?} is not a whole number"))
                })
            };
            match suffix {
                "_URL" => peer.url = Some(value.clone()),
                "_SECRET" => peer.secret_ref = SecretRef::Env(name.clone()),
                "_RELATION" => {
                    peer.relation = Relation::parse(value).ok_or_else(|| {
                        ConfigError::new(
                            name.clone(),
                            format!("{value:?} is not peer, parent or child"),
                        )
                    })?
                }
                "_ASSET_CODE" => peer.asset_code = value.clone(),
                "_ASSET_SCALE" => {
                    peer.asset_scale = value.parse::<u8>().map_err(|_| {
                        ConfigError::new(
                            name.clone(),
                            format!("{value:?} is not an integer 0..=255"),
                        )
                    })?
                }
                "_MAX_PACKET_AMOUNT" => peer.max_packet_amount = Some(number(value)?),
                "_CREDIT_LIMIT" => peer.credit_limit = Some(number(value)?),
                // Checked here as an address; that it is a child's is `validate_table`'s rule.
                "_ILP_ADDRESS" => {
                    peer.ilp_address = Some(proto::Address::new(value).map_err(|e| {
                        ConfigError::new(
                            name.clone(),
                            format!("{value:?} is not an ILP address: {e}"),
                        )
                    })?)
                }
                "_ROUTES" => {
                    for prefix in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        routes.retain(|r| r.prefix != prefix);
                        routes.push(RouteConfig {
                            prefix: prefix.to_string(),
                            peer: peer.id.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}
