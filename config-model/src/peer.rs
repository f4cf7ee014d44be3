//! A peer's settings and their rules.

use crate::{FieldError, SecretRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Peer,
    Parent,
    Child,
}

impl Relation {
    pub fn parse(text: &str) -> Option<Relation> {
        match text {
            "peer" => Some(Relation::Peer),
            "parent" => Some(Relation::Parent),
            "child" => Some(Relation::Child),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Peer => "peer",
            Relation::Parent => "parent",
            Relation::Child => "child",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub id: String,
    /// Set when this node dials the peer; without it, the peer dials us.
    pub url: Option<String>,
    pub relation: Relation,
    pub asset_code: String,
    pub asset_scale: u8,
    /// Largest incoming Prepare accepted from this peer (inclusive).
    pub max_packet_amount: Option<u64>,
    /// How much this peer may owe us (fulfilled plus in-flight Prepares it sent).
    pub credit_limit: Option<u64>,
    pub secret_ref: SecretRef,
    pub auth_username: Option<String>,
    /// The peer's node public key (base64 Ed25519), when `secret_ref` is `node-key`.
    pub public_key: Option<String>,
    /// The address a child is told by ILDCP (RFC 31) instead of `<our address>.<its id>`.
    /// Children only: no other relation asks us for its address.
    pub ilp_address: Option<proto::Address>,
}

/// A peer's fields, named as operators write them in YAML and as the gRPC API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerField {
    Id,
    Url,
    Relation,
    AssetCode,
    AssetScale,
    MaxPacketAmount,
    CreditLimit,
    SecretRef,
    AuthUsername,
    PublicKey,
    IlpAddress,
}

impl PeerField {
    pub fn yaml_name(self) -> &'static str {
        match self {
            PeerField::Id => "id",
            PeerField::Url => "url",
            PeerField::Relation => "relation",
            PeerField::AssetCode => "assetCode",
            PeerField::AssetScale => "assetScale",
            PeerField::MaxPacketAmount => "maxPacketAmount",
            PeerField::CreditLimit => "creditLimit",
            PeerField::SecretRef => "secretRef",
            PeerField::AuthUsername => "authUsername",
            PeerField::PublicKey => "publicKey",
            PeerField::IlpAddress => "ilpAddress",
        }
    }

    pub fn proto_name(self) -> &'static str {
        match self {
            PeerField::Id => "id",
            PeerField::Url => "url",
            PeerField::Relation => "relation",
            PeerField::AssetCode => "asset_code",
            PeerField::AssetScale => "asset_scale",
            PeerField::MaxPacketAmount => "max_packet_amount",
            PeerField::CreditLimit => "credit_limit",
            PeerField::SecretRef => "secret_ref",
            PeerField::AuthUsername => "auth_username",
            PeerField::PublicKey => "public_key",
            PeerField::IlpAddress => "ilp_address",
        }
    }
}

/// Ids of nodes and peers: 1 to 64 letters, digits, `-`, `_` or `.`.
pub fn check_identifier(id: &str) -> Result<(), String> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{id:?} must be 1 to 64 characters of letters, digits, '-', '_' or '.'"
        ))
    }
}

impl PeerConfig {
    /// A peer that dials us, in the default asset, without limits: what a declaration with
    /// only an id and a secret reference means. Set the other fields with struct update syntax.
    pub fn new(id: impl Into<String>, secret_ref: SecretRef) -> PeerConfig {
        PeerConfig {
            id: id.into(),
            url: None,
            relation: Relation::Peer,
            asset_code: crate::DEFAULT_ASSET_CODE.into(),
            asset_scale: crate::DEFAULT_ASSET_SCALE,
            max_packet_amount: None,
            credit_limit: None,
            secret_ref,
            auth_username: None,
            public_key: None,
            ilp_address: None,
        }
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        let fail = |field, problem: String| Err(FieldError { field, problem });
        if let Err(problem) = check_identifier(&self.id) {
            return fail(PeerField::Id, problem);
        }
        if let Some(url) = &self.url
            && let Err(e) = node_identity::peer_url::normalize(url)
        {
            return fail(PeerField::Url, e.to_string());
        }
        let code = &self.asset_code;
        if code.is_empty() || code.len() > 16 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return fail(
                PeerField::AssetCode,
                format!("{code:?} must be 1 to 16 letters or digits"),
            );
        }
        if self.max_packet_amount == Some(0) {
            return fail(
                PeerField::MaxPacketAmount,
                "must be greater than 0 (omit it for no limit)".into(),
            );
        }
        if let Some(username) = &self.auth_username
            && (username.is_empty() || username.len() > 256)
        {
            return fail(
                PeerField::AuthUsername,
                "must be 1 to 256 characters when set".into(),
            );
        }
        match (&self.secret_ref, &self.public_key) {
            (SecretRef::NodeKey, None) => {
                return fail(
                    PeerField::PublicKey,
                    "required when secretRef is node-key".into(),
                );
            }
            (SecretRef::NodeKey, Some(key)) => {
                // The one strict parser: a small-order key is refused here, before a link
                // could ever be checked with it.
                if let Err(problem) = node_identity::PublicKey::from_base64(key) {
                    return fail(PeerField::PublicKey, problem.to_string());
                }
            }
            (_, Some(_)) => {
                return fail(
                    PeerField::PublicKey,
                    "only used with secretRef node-key".into(),
                );
            }
            (_, None) => {}
        }
        // Only a child asks us for its address (RFC 31): on any other relation the setting
        // would never be used, and a silently ignored setting misleads whoever wrote it.
        if self.ilp_address.is_some() && self.relation != Relation::Child {
            return fail(
                PeerField::IlpAddress,
                format!(
                    "only used with relation child (the address ILDCP gives it); this peer is a {}",
                    self.relation.as_str()
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerConfig {
        PeerConfig {
            url: Some("ws://127.0.0.1:3000".into()),
            ..PeerConfig::new("b", SecretRef::Env("B".into()))
        }
    }

    /// Standard base64 with padding, written out so the test does not share the code it checks.
    fn base64_of(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn each_rule_names_its_field() {
        assert!(peer().validate().is_ok());
        let key = node_identity::NodeKey::from_bytes(&[1; 32]).public_key_base64();
        let keyed = PeerConfig {
            secret_ref: SecretRef::NodeKey,
            public_key: Some(key),
            ..peer()
        };
        assert!(keyed.validate().is_ok());
        let mut cases: Vec<(PeerConfig, PeerField)> = vec![
            (
                PeerConfig {
                    id: "".into(),
                    ..peer()
                },
                PeerField::Id,
            ),
            (
                PeerConfig {
                    id: "a b".into(),
                    ..peer()
                },
                PeerField::Id,
            ),
            (
                PeerConfig {
                    url: Some("http://x".into()),
                    ..peer()
                },
                PeerField::Url,
            ),
            (
                PeerConfig {
                    asset_code: "".into(),
                    ..peer()
                },
                PeerField::AssetCode,
            ),
            (
                PeerConfig {
                    asset_code: "U$D".into(),
                    ..peer()
                },
                PeerField::AssetCode,
            ),
            (
                PeerConfig {
                    max_packet_amount: Some(0),
                    ..peer()
                },
                PeerField::MaxPacketAmount,
            ),
            (
                PeerConfig {
                    auth_username: Some("".into()),
                    ..peer()
                },
                PeerField::AuthUsername,
            ),
        ];
        // A small-order key (the identity point) is not a node key.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        let weak: String = base64_of(&weak);
        cases.push((
            PeerConfig {
                secret_ref: SecretRef::NodeKey,
                public_key: Some(weak),
                ..peer()
            },
            PeerField::PublicKey,
        ));
        let child_address = Some(proto::Address::new("g.a.kid").unwrap());
        assert!(
            PeerConfig {
                relation: Relation::Child,
                ilp_address: child_address.clone(),
                ..peer()
            }
            .validate()
            .is_ok()
        );
        cases.push((
            PeerConfig {
                ilp_address: child_address,
                ..peer()
            },
            PeerField::IlpAddress,
        ));
        for (peer, field) in cases {
            assert_eq!(peer.validate().unwrap_err().field, field, "{peer:?}");
        }
        assert_eq!(PeerField::AssetCode.proto_name(), "asset_code");
        assert_eq!(PeerField::AssetCode.yaml_name(), "assetCode");
    }
}
