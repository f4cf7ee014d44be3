//! The discovery server's wire types and the signing scheme that ties a node id to a key
//! (feature `discovery`). The server and its clients (control planes) share this module, so the
//! bytes one side signs are exactly the bytes the other verifies.
//!
//! # Identity
//!
//! A node owns an Ed25519 key pair (`node_identity::NodeKey`). Its public key travels as
//! standard base64 (with padding) of the 32-byte verifying key; signatures as standard base64
//! of the 64-byte signature. Keys are parsed and signatures verified by `node_identity`, the
//! one strict verifier (no small-order keys, canonical `s`) shared with BTP link tokens.
//!
//! # Canonical signed bytes
//!
//! An announcement signs the UTF-8 bytes of
//!
//! ```text
//! "ilp-discovery-announce-v1\n" + nodeId + "\n" + btpEndpoint + "\n" + ilpAddress + "\n"
//!     + capabilities.join(",") + "\n" + version + "\n" + sequence (decimal)
//! ```
//!
//! and a deregistration signs
//!
//! ```text
//! "ilp-discovery-deregister-v1\n" + nodeId + "\n" + sequence (decimal)
//! ```
//!
//! `sequence` is written in decimal without sign or leading zeros (`u64::to_string`). The
//! first line separates the two purposes, so one can never be replayed as the other. The
//! server refuses fields that contain `\n` (and capabilities that contain `,`), so two
//! different announcements never share signed bytes.
//!
//! ```
//! use node_identity::NodeKey;
//! use proto::discovery::{Announcement, sign_announcement, verify_announcement};
//!
//! let key = NodeKey::from_bytes(&[7; 32]);
//! let mut announcement = Announcement {
//!     node_id: "east".into(),
//!     btp_endpoint: "wss://east.example:3000".into(),
//!     ilp_address: "g.acme.east".into(),
//!     capabilities: vec!["settlement-xrp".into()],
//!     version: "0.1.0".into(),
//!     public_key: String::new(),
//!     sequence: 1,
//!     signature: String::new(),
//! };
//! sign_announcement(&key, &mut announcement);
//! assert!(verify_announcement(&announcement).is_ok());
//! announcement.btp_endpoint = "wss://evil.example:3000".into();
//! assert!(verify_announcement(&announcement).is_err());
//! ```

pub use node_identity::IdentityError;
use node_identity::{NodeKey, verify};
use serde::{Deserialize, Serialize};

/// First line of the bytes an announcement signs.
pub const ANNOUNCE_DOMAIN: &str = "ilp-discovery-announce-v1";
/// First line of the bytes a deregistration signs.
pub const DEREGISTER_DOMAIN: &str = "ilp-discovery-deregister-v1";

/// `POST` an [`Announcement`] here.
pub const ANNOUNCE_PATH: &str = "/api/v1/peers/announce";
/// `GET` a [`ListResponse`] here (`?capabilities=a,b&limit=N&after=<nextCursor>`);
/// `DELETE {PEERS_PATH}/{nodeId}`.
pub const PEERS_PATH: &str = "/api/v1/peers";
/// Header of a `DELETE`: the deregistration's sequence number (decimal u64).
pub const SEQUENCE_HEADER: &str = "x-discovery-sequence";
/// Header of a `DELETE`: base64 of the signature over [`deregistration_bytes`].
pub const SIGNATURE_HEADER: &str = "x-discovery-signature";

/// What a node announces about itself, signed with its [`NodeKey`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Announcement {
    pub node_id: String,
    /// `ws://` or `wss://` URL where the node's data plane accepts BTP peers.
    pub btp_endpoint: String,
    pub ilp_address: String,
    pub capabilities: Vec<String>,
    pub version: String,
    /// Base64 of the 32-byte Ed25519 verifying key.
    pub public_key: String,
    /// Must be greater than every sequence the server has seen for this node id.
    pub sequence: u64,
    /// Base64 of the 64-byte signature over [`Announcement::signed_bytes`].
    pub signature: String,
}

impl Announcement {
    /// The canonical bytes the signature covers (see the module documentation).
    pub fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "{ANNOUNCE_DOMAIN}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.node_id,
            self.btp_endpoint,
            self.ilp_address,
            self.capabilities.join(","),
            self.version,
            self.sequence
        )
        .into_bytes()
    }
}

/// The canonical bytes a deregistration of `node_id` at `sequence` signs.
pub fn deregistration_bytes(node_id: &str, sequence: u64) -> Vec<u8> {
    format!("{DEREGISTER_DOMAIN}\n{node_id}\n{sequence}").into_bytes()
}

/// A registered node as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerEntry {
    pub node_id: String,
    pub btp_endpoint: String,
    pub ilp_address: String,
    pub capabilities: Vec<String>,
    pub version: String,
    pub public_key: String,
    /// When the server last accepted an announcement of this node: Unix time in seconds, by
    /// the server's clock (the seed stories' `PeerInfo.lastSeen: number`). Servers before this
    /// sent an RFC 3339 string; it is still read.
    #[serde(deserialize_with = "last_seen_seconds")]
    pub last_seen: u64,
    /// Whether the entry was announced signed, proving `publicKey`. False for the seed stories'
    /// unsigned announcements (whose `publicKey` is empty). Servers before this field listed
    /// signed entries only, so its absence reads as true.
    #[serde(default = "listed_before_unsigned_entries")]
    pub verified: bool,
}

fn listed_before_unsigned_entries() -> bool {
    true
}

/// `lastSeen` as a number of seconds, or as the RFC 3339 UTC string older servers sent
/// (`2026-11-24T05:02:27.355Z`: its whole seconds).
fn last_seen_seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Seconds(u64),
        Text(String),
    }
    match Either::deserialize(deserializer)? {
        Either::Seconds(seconds) => Ok(seconds),
        Either::Text(text) => rfc3339_seconds(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "lastSeen {text:?} is neither Unix seconds nor an RFC 3339 UTC time"
            ))
        }),
    }
}

fn rfc3339_seconds(text: &str) -> Option<u64> {
    // YYYY-MM-DDTHH:MM:SS, then optional fraction, then Z: the digits of the first 19
    // characters are the ILP timestamp's first 14.
    let head = text.get(..19)?;
    if !text.ends_with('Z') {
        return None;
    }
    let digits: String = head.chars().filter(char::is_ascii_digit).collect();
    let millis = format!("{digits:0<17}");
    let at = crate::Timestamp::parse_ilp(millis.as_bytes()).ok()?;
    u64::try_from(at.unix_ms().div_euclid(1000)).ok()
}

/// Answer to `GET /api/v1/peers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    pub peers: Vec<PeerEntry>,
    /// How many entries matched in all (the same on every page).
    pub total: usize,
    /// Present when more entries follow: pass it as `after` to get the next page. Pages are in
    /// node id order, so a node announced while a client pages is seen at most once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Answer to an accepted announcement: re-announce well within `ttl` seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnnounceResponse {
    pub success: bool,
    pub ttl: u64,
}

/// Answer to an accepted deregistration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeregisterResponse {
    pub success: bool,
}

/// Every refused request: `success` is false and `error` starts with the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    pub success: bool,
    pub error: String,
}

/// Fills `public_key` and `signature` (over the other fields, `sequence` included).
pub fn sign_announcement(key: &NodeKey, announcement: &mut Announcement) {
    announcement.public_key = key.public_key_base64();
    announcement.signature = key.sign_base64(&announcement.signed_bytes());
}

/// The `X-Discovery-Signature` value for deregistering `node_id` at `sequence`.
pub fn sign_deregistration(key: &NodeKey, node_id: &str, sequence: u64) -> String {
    key.sign_base64(&deregistration_bytes(node_id, sequence))
}

/// Checks that `announcement.signature` was made by `announcement.public_key` over its
/// canonical bytes. Says nothing about whether that key owns the node id: the server decides.
pub fn verify_announcement(announcement: &Announcement) -> Result<(), IdentityError> {
    verify(
        &announcement.public_key,
        &announcement.signed_bytes(),
        &announcement.signature,
    )
}

/// Checks a deregistration's signature with the key bound to `node_id`.
pub fn verify_deregistration(
    node_id: &str,
    sequence: u64,
    public_key: &str,
    signature: &str,
) -> Result<(), IdentityError> {
    verify(
        public_key,
        &deregistration_bytes(node_id, sequence),
        signature,
    )
}

#[cfg(test)]
mod tests {
    use node_identity::NodeKey;

    use super::*;

    fn sample() -> Announcement {
        Announcement {
            node_id: "node-a".into(),
            btp_endpoint: "wss://a.example:3000/btp".into(),
            ilp_address: "g.acme.a".into(),
            capabilities: vec!["peering".into(), "usd".into()],
            version: "0.1.0".into(),
            public_key: String::new(),
            sequence: 42,
            signature: String::new(),
        }
    }

    fn hex32(text: &str) -> [u8; 32] {
        hex::decode(text).unwrap().try_into().unwrap()
    }

    #[test]
    fn announcement_round_trip() {
        let key = NodeKey::generate();
        let mut a = sample();
        sign_announcement(&key, &mut a);
        assert_eq!(a.public_key, key.public_key_base64());
        verify_announcement(&a).unwrap();
        // And through JSON, as it travels.
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("\"nodeId\":\"node-a\""), "{json}");
        assert!(json.contains("\"btpEndpoint\""), "{json}");
        let back: Announcement = serde_json::from_str(&json).unwrap();
        verify_announcement(&back).unwrap();
    }

    #[test]
    fn every_tampered_field_fails() {
        let key = NodeKey::generate();
        let mut signed = sample();
        sign_announcement(&key, &mut signed);
        type Tamper = Box<dyn Fn(&mut Announcement)>;
        let tampers: Vec<(&str, Tamper)> = vec![
            ("nodeId", Box::new(|a| a.node_id.push('x'))),
            (
                "btpEndpoint",
                Box::new(|a| a.btp_endpoint = "wss://evil:1".into()),
            ),
            ("ilpAddress", Box::new(|a| a.ilp_address = "g.evil".into())),
            (
                "capabilities",
                Box::new(|a| {
                    a.capabilities.pop();
                }),
            ),
            ("capabilities order", Box::new(|a| a.capabilities.reverse())),
            ("version", Box::new(|a| a.version = "0.1.1".into())),
            ("sequence", Box::new(|a| a.sequence += 1)),
        ];
        for (what, tamper) in tampers {
            let mut a = signed.clone();
            tamper(&mut a);
            assert_eq!(
                verify_announcement(&a),
                Err(IdentityError::DoesNotVerify),
                "{what}"
            );
        }
    }

    #[test]
    fn wrong_key_fails() {
        let owner = NodeKey::generate();
        let other = NodeKey::generate();
        let mut a = sample();
        sign_announcement(&owner, &mut a);
        a.public_key = other.public_key_base64();
        assert_eq!(verify_announcement(&a), Err(IdentityError::DoesNotVerify));
        let sig = sign_deregistration(&owner, "node-a", 7);
        verify_deregistration("node-a", 7, &owner.public_key_base64(), &sig).unwrap();
        assert_eq!(
            verify_deregistration("node-a", 7, &other.public_key_base64(), &sig),
            Err(IdentityError::DoesNotVerify)
        );
        assert_eq!(
            verify_deregistration("node-a", 8, &owner.public_key_base64(), &sig),
            Err(IdentityError::DoesNotVerify)
        );
        assert_eq!(
            verify_deregistration("node-b", 7, &owner.public_key_base64(), &sig),
            Err(IdentityError::DoesNotVerify)
        );
    }

    #[test]
    fn an_announcement_signature_is_not_a_deregistration() {
        // The domain line keeps one purpose's signature from serving the other.
        let key = NodeKey::generate();
        let mut a = sample();
        sign_announcement(&key, &mut a);
        assert!(verify_deregistration("node-a", 42, &a.public_key, &a.signature).is_err());
    }

    /// A small-order key is refused by the one strict parser, so no announcement can be made
    /// under one (lax verification would accept forged signatures for some of them).
    #[test]
    fn an_announcement_under_a_weak_key_is_refused() {
        let mut a = sample();
        sign_announcement(&NodeKey::generate(), &mut a);
        let mut identity = [0u8; 32];
        identity[0] = 1;
        use base64::Engine as _;
        a.public_key = base64::engine::general_purpose::STANDARD.encode(identity);
        assert_eq!(
            verify_announcement(&a),
            Err(IdentityError::InvalidPublicKey)
        );
    }

    #[test]
    fn last_seen_is_unix_seconds_and_old_servers_strings_are_still_read() {
        let entry = |last_seen: &str| {
            serde_json::from_str::<PeerEntry>(&format!(
                r#"{{"nodeId":"a","btpEndpoint":"ws://a:1","ilpAddress":"g.a","capabilities":[],
                    "version":"1","publicKey":"k","lastSeen":{last_seen}}}"#
            ))
            .map(|e| e.last_seen)
        };
        assert_eq!(entry("1764561747").unwrap(), 1_764_561_747);
        assert_eq!(
            entry(r#""2025-12-01T04:02:27.355Z""#).unwrap(),
            1_764_561_747
        );
        assert_eq!(entry(r#""2025-12-01T04:02:27Z""#).unwrap(), 1_764_561_747);
        assert!(entry(r#""yesterday""#).is_err());
        assert!(entry("-1").is_err());
        let shown = serde_json::to_string(&PeerEntry {
            node_id: "a".into(),
            btp_endpoint: "ws://a:1".into(),
            ilp_address: "g.a".into(),
            capabilities: vec![],
            version: "1".into(),
            public_key: "k".into(),
            last_seen: 1_764_561_747,
            verified: true,
        })
        .unwrap();
        assert!(shown.contains(r#""lastSeen":1764561747"#), "{shown}");
        assert!(shown.contains(r#""verified":true"#), "{shown}");
        let unsigned = r#"{"nodeId":"a","btpEndpoint":"ws://a:1","ilpAddress":"g.a","capabilities":[],
                          "version":"1","publicKey":"","lastSeen":1,"verified":false}"#;
        let entry: PeerEntry = serde_json::from_str(unsigned).unwrap();
        assert!(!entry.verified);
    }

    /// Pins the canonical bytes and the resulting signature for a fixed key, so a change to the
    /// scheme (which would break every deployed client) cannot go unnoticed.
    #[test]
    fn known_answer_for_a_fixed_key() {
        let key = NodeKey::from_bytes(&hex32(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        ));
        let mut a = sample();
        assert_eq!(
            String::from_utf8(a.signed_bytes()).unwrap(),
            "ilp-discovery-announce-v1\nnode-a\nwss://a.example:3000/btp\ng.acme.a\npeering,usd\n0.1.0\n42"
        );
        assert_eq!(
            deregistration_bytes("node-a", 43),
            b"ilp-discovery-deregister-v1\nnode-a\n43"
        );
        sign_announcement(&key, &mut a);
        assert_eq!(a.public_key, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
        assert_eq!(a.signature, KNOWN_ANNOUNCE_SIGNATURE);
        assert_eq!(
            sign_deregistration(&key, "node-a", 43),
            KNOWN_DEREGISTER_SIGNATURE
        );
        verify_announcement(&a).unwrap();
    }

    // Computed independently (Python `cryptography`, Ed25519PrivateKey.sign) over the bytes
    // asserted above.
    const KNOWN_ANNOUNCE_SIGNATURE: &str =
        "P+Dl7LXvzeVw5JfqwNNLdYiYqJ2dH4WpH7k8d22MVf87HDH2U2J9sjdWv3g82CRIIZleDV5bsrlrOPWySAe/Dg==";
    const KNOWN_DEREGISTER_SIGNATURE: &str =
        "pYQirVtOw6NPbjh1AxT/XfM3RSZJminQTgfLueo5LRp96eNdIzYiSjCdnlXKTZvGnPj4GtlZVjxhr2IJQXdhBw==";
}
