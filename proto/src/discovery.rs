//! The discovery server's wire types and the signing scheme that ties a node id to a key
//! (feature `discovery`). The server and its clients (control planes) share this module, so the
//! bytes one side signs are exactly the bytes the other verifies.
//!
//! # Identity
//!
//! A node owns an Ed25519 key pair ([`NodeKey`]). Its public key travels as standard base64
//! (with padding) of the 32-byte verifying key; signatures as standard base64 of the 64-byte
//! signature. Verification is strict (`verify_strict`: no small-order keys, canonical `s`).
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
//! use proto::discovery::{Announcement, NodeKey, verify_announcement};
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
//! key.sign_announcement(&mut announcement);
//! assert!(verify_announcement(&announcement).is_ok());
//! announcement.btp_endpoint = "wss://evil.example:3000".into();
//! assert!(verify_announcement(&announcement).is_err());
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// First line of the bytes an announcement signs.
pub const ANNOUNCE_DOMAIN: &str = "ilp-discovery-announce-v1";
/// First line of the bytes a deregistration signs.
pub const DEREGISTER_DOMAIN: &str = "ilp-discovery-deregister-v1";

/// `POST` an [`Announcement`] here.
pub const ANNOUNCE_PATH: &str = "/api/v1/peers/announce";
/// `GET` a [`ListResponse`] here (`?capabilities=a,b`); `DELETE {PEERS_PATH}/{nodeId}`.
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
    /// When the server last accepted an announcement of this node, RFC 3339 UTC, by the
    /// server's clock.
    pub last_seen: String,
}

/// Answer to `GET /api/v1/peers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    pub peers: Vec<PeerEntry>,
    /// How many entries matched (may exceed `peers.len()` when the list was truncated).
    pub total: usize,
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

/// Why a key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("must be base64 of a 32-byte Ed25519 public key")]
    MalformedPublicKey,
    #[error("is not a usable Ed25519 public key")]
    InvalidPublicKey,
    #[error("must be base64 of a 64-byte Ed25519 signature")]
    MalformedSignature,
    #[error("does not verify")]
    DoesNotVerify,
}

/// A node's Ed25519 signing key. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct NodeKey(SigningKey);

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeKey(public {})", self.public_key_base64())
    }
}

impl NodeKey {
    /// A fresh key from the operating system's randomness. The 32-byte seed is drawn through
    /// `rand::random` rather than handing an RNG to ed25519-dalek, so the two crates' rand_core
    /// versions never have to agree.
    pub fn generate() -> NodeKey {
        let seed: [u8; 32] = rand::random();
        NodeKey::from_bytes(&seed)
    }

    /// The key whose 32-byte secret seed is `bytes` (what [`NodeKey::to_bytes`] gave).
    pub fn from_bytes(bytes: &[u8; 32]) -> NodeKey {
        NodeKey(SigningKey::from_bytes(bytes))
    }

    /// The 32-byte secret seed, to persist the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The 32-byte verifying key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The verifying key as announced: standard base64 with padding.
    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.public_key_bytes())
    }

    /// Signs arbitrary bytes (e.g. a BTP auth challenge between auto-peered nodes); the
    /// 64-byte signature.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// Signs arbitrary bytes; the signature in standard base64.
    pub fn sign_base64(&self, message: &[u8]) -> String {
        STANDARD.encode(self.sign(message))
    }

    /// Fills `public_key` and `signature` (over the other fields, `sequence` included).
    pub fn sign_announcement(&self, announcement: &mut Announcement) {
        announcement.public_key = self.public_key_base64();
        announcement.signature = self.sign_base64(&announcement.signed_bytes());
    }

    /// The `X-Discovery-Signature` value for deregistering `node_id` at `sequence`.
    pub fn sign_deregistration(&self, node_id: &str, sequence: u64) -> String {
        self.sign_base64(&deregistration_bytes(node_id, sequence))
    }
}

/// A verifying key parsed from its base64 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses standard padded base64 of 32 bytes that decode to an Ed25519 point of full
    /// order. Small-order ("weak") keys are refused: any signature would verify for them under
    /// lax rules, and `verify_strict` would refuse every signature anyway.
    pub fn from_base64(text: &str) -> Result<PublicKey, IdentityError> {
        let bytes: [u8; 32] = STANDARD
            .decode(text)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(IdentityError::MalformedPublicKey)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| IdentityError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(IdentityError::InvalidPublicKey);
        }
        Ok(PublicKey(key))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Checks `signature` (64 bytes) over `message`, strictly.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), IdentityError> {
        self.0
            .verify_strict(message, &Signature::from_bytes(signature))
            .map_err(|_| IdentityError::DoesNotVerify)
    }

    /// Checks a base64 `signature` over `message`.
    pub fn verify_base64(&self, message: &[u8], signature: &str) -> Result<(), IdentityError> {
        self.verify(message, &decode_signature(signature)?)
    }
}

/// Decodes a base64 signature to its 64 bytes, without checking it.
pub fn decode_signature(text: &str) -> Result<[u8; 64], IdentityError> {
    STANDARD
        .decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(IdentityError::MalformedSignature)
}

/// Checks a base64 `signature` over arbitrary bytes with a base64 public key.
pub fn verify(public_key: &str, message: &[u8], signature: &str) -> Result<(), IdentityError> {
    PublicKey::from_base64(public_key)?.verify_base64(message, signature)
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
        key.sign_announcement(&mut a);
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
        key.sign_announcement(&mut signed);
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
        owner.sign_announcement(&mut a);
        a.public_key = other.public_key_base64();
        assert_eq!(verify_announcement(&a), Err(IdentityError::DoesNotVerify));
        let sig = owner.sign_deregistration("node-a", 7);
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
        key.sign_announcement(&mut a);
        assert!(verify_deregistration("node-a", 42, &a.public_key, &a.signature).is_err());
    }

    #[test]
    fn malformed_keys_and_signatures() {
        assert_eq!(
            PublicKey::from_base64("not base64!"),
            Err(IdentityError::MalformedPublicKey)
        );
        assert_eq!(
            PublicKey::from_base64(&STANDARD.encode([1u8; 31])),
            Err(IdentityError::MalformedPublicKey)
        );
        // Unpadded base64 of a good key is refused: one spelling per key.
        let good = NodeKey::generate().public_key_base64();
        assert!(PublicKey::from_base64(&good).is_ok());
        assert_eq!(
            PublicKey::from_base64(good.trim_end_matches('=')),
            Err(IdentityError::MalformedPublicKey)
        );
        // The identity point has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            PublicKey::from_base64(&STANDARD.encode(identity)),
            Err(IdentityError::InvalidPublicKey)
        );
        assert_eq!(
            decode_signature(&STANDARD.encode([0u8; 63])),
            Err(IdentityError::MalformedSignature)
        );
        assert_eq!(
            verify(&good, b"x", &STANDARD.encode([0u8; 64])),
            Err(IdentityError::DoesNotVerify)
        );
    }

    #[test]
    fn arbitrary_bytes_sign_and_verify() {
        let key = NodeKey::generate();
        let sig = key.sign_base64(b"btp-auth challenge");
        verify(&key.public_key_base64(), b"btp-auth challenge", &sig).unwrap();
        assert!(verify(&key.public_key_base64(), b"btp-auth challengE", &sig).is_err());
        let restored = NodeKey::from_bytes(&key.to_bytes());
        assert_eq!(restored.public_key_bytes(), key.public_key_bytes());
        assert!(!format!("{key:?}").contains(&hex::encode(key.to_bytes())));
    }

    /// RFC 8032 section 7.1, test 1: the primitive is standard Ed25519.
    #[test]
    fn rfc8032_test_vector_1() {
        let key = NodeKey::from_bytes(&hex32(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        ));
        assert_eq!(
            hex::encode(key.public_key_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(key.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
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
        key.sign_announcement(&mut a);
        assert_eq!(a.public_key, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
        assert_eq!(a.signature, KNOWN_ANNOUNCE_SIGNATURE);
        assert_eq!(
            key.sign_deregistration("node-a", 43),
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
