//! The `peers:` and `routes:` sections as operators write them in YAML (or JSON): the data
//! plane's `CONFIG_FILE` and the control plane's seed file read the same sections through
//! these types, so a peer declared for one is declared the same way for the other.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::{PeerConfig, Relation, RouteConfig, SecretRef, TableError};

/// Asset code of a peer that states none (and no node-wide default overrides it).
pub const DEFAULT_ASSET_CODE: &str = "USD";
/// Asset scale of a peer that states none.
pub const DEFAULT_ASSET_SCALE: u8 = 9;

/// One entry of `peers:`. Unknown keys are refused, so a typo cannot silently drop a setting.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerSection {
    pub id: String,
    pub url: Option<String>,
    pub relation: Option<String>,
    pub asset_code: Option<String>,
    pub asset_scale: Option<u8>,
    pub max_packet_amount: Option<u64>,
    pub credit_limit: Option<u64>,
    pub secret_ref: Option<String>,
    /// Sent as `auth_username` when we dial this peer.
    pub auth_username: Option<String>,
    /// The peer's node public key, with `secretRef: node-key`.
    pub public_key: Option<String>,
    /// With `relation: child`: the address ILDCP gives it instead of `<our address>.<id>`.
    pub ilp_address: Option<String>,
    /// Never accepted: declared only so that a literal secret gets a refusal that says why
    /// rather than "unknown field". Its value is never read.
    pub secret: Option<IgnoredAny>,
}

/// One entry of `routes:`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteSection {
    pub prefix: String,
    pub peer: String,
}

/// What a peer section without an asset gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetDefaults {
    pub code: String,
    pub scale: u8,
}

impl Default for AssetDefaults {
    fn default() -> Self {
        AssetDefaults {
            code: DEFAULT_ASSET_CODE.into(),
            scale: DEFAULT_ASSET_SCALE,
        }
    }
}

impl PeerSection {
    /// The peer this section declares, as entry `index` of `peers:`. `fallback_secret` stands
    /// in for a missing `secretRef` (the data plane's `BTP_PEER_{ID}_SECRET`). Field rules that
    /// need the whole peer (`PeerConfig::validate`) and the table are checked by
    /// `validate_table` afterwards.
    pub fn into_config(
        self,
        index: usize,
        assets: &AssetDefaults,
        fallback_secret: Option<SecretRef>,
    ) -> Result<PeerConfig, TableError> {
        let fail = |name: &str, problem: String| TableError {
            field: format!("peers[{index}].{name}"),
            problem,
        };
        if self.secret.is_some() {
            return Err(fail(
                "secret",
                "literal secrets are refused; use secretRef: env:NAME or file:/path".into(),
            ));
        }
        let secret_ref = match (self.secret_ref, fallback_secret) {
            (Some(text), _) => SecretRef::parse(&text).map_err(|p| fail("secretRef", p))?,
            (None, Some(fallback)) => fallback,
            (None, None) => {
                return Err(fail(
                    "secretRef",
                    "required (env:NAME or file:/path)".into(),
                ));
            }
        };
        let relation = match self.relation.as_deref() {
            None => Relation::Peer,
            Some(text) => Relation::parse(text).ok_or_else(|| {
                fail("relation", format!("{text:?} is not peer, parent or child"))
            })?,
        };
        let ilp_address =
            match self.ilp_address.as_deref() {
                None => None,
                Some(text) => Some(proto::Address::new(text).map_err(|e| {
                    fail("ilpAddress", format!("{text:?} is not an ILP address: {e}"))
                })?),
            };
        Ok(PeerConfig {
            id: self.id,
            url: self.url,
            relation,
            asset_code: self.asset_code.unwrap_or_else(|| assets.code.clone()),
            asset_scale: self.asset_scale.unwrap_or(assets.scale),
            max_packet_amount: self.max_packet_amount,
            credit_limit: self.credit_limit,
            secret_ref,
            auth_username: self.auth_username,
            public_key: self.public_key,
            ilp_address,
        })
    }
}

impl From<RouteSection> for RouteConfig {
    fn from(section: RouteSection) -> RouteConfig {
        RouteConfig {
            prefix: section.prefix,
            peer: section.peer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(json: &str) -> PeerSection {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_fallbacks_and_refusals_name_the_field() {
        let peer = section(r#"{"id": "a", "secretRef": "env:A"}"#)
            .into_config(0, &AssetDefaults::default(), None)
            .unwrap();
        assert_eq!(
            (peer.relation, peer.asset_code.as_str(), peer.asset_scale),
            (Relation::Peer, "USD", 9)
        );
        let eur = AssetDefaults {
            code: "EUR".into(),
            scale: 2,
        };
        let peer = section(r#"{"id": "a"}"#)
            .into_config(3, &eur, Some(SecretRef::Env("SEEDED".into())))
            .unwrap();
        assert_eq!(peer.secret_ref, SecretRef::Env("SEEDED".into()));
        assert_eq!((peer.asset_code.as_str(), peer.asset_scale), ("EUR", 2));

        let cases = [
            (r#"{"id": "a"}"#, "peers[1].secretRef", "required"),
            (
                r#"{"id": "a", "secretRef": "hunter2"}"#,
                "peers[1].secretRef",
                "env:",
            ),
            (
                r#"{"id": "a", "secret": "hunter2"}"#,
                "peers[1].secret",
                "literal secrets are refused",
            ),
            (
                r#"{"id": "a", "secretRef": "env:A", "relation": "child", "ilpAddress": "g..x"}"#,
                "peers[1].ilpAddress",
                "not an ILP address",
            ),
            (
                r#"{"id": "a", "secretRef": "env:A", "relation": "boss"}"#,
                "peers[1].relation",
                "not peer, parent or child",
            ),
        ];
        for (json, field, problem) in cases {
            let error = section(json)
                .into_config(1, &AssetDefaults::default(), None)
                .unwrap_err();
            assert_eq!(error.field, field, "{json}");
            assert!(error.problem.contains(problem), "{json}: {error}");
            assert!(!error.to_string().contains("hunter2"), "echoed: {error}");
        }
        assert!(serde_json::from_str::<PeerSection>(r#"{"id": "a", "secretref": "x"}"#).is_err());
        let child = section(
            r#"{"id": "kid", "secretRef": "env:K", "relation": "child", "ilpAddress": "g.elsewhere.kid"}"#,
        )
        .into_config(0, &AssetDefaults::default(), None)
        .unwrap();
        assert_eq!(
            child.ilp_address.as_ref().map(|a| a.as_str()),
            Some("g.elsewhere.kid")
        );
    }
}
