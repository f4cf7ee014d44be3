//! The Ed25519 key pair of a node, its base64 forms, and the one (strict) verifier.
//!
//! A public key travels as standard base64 with padding of the 32-byte verifying key; a
//! signature as standard base64 of its 64 bytes. One spelling per key: unpadded base64 is
//! refused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

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

    /// The verifying key in its travelling form: standard base64 with padding.
    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.public_key_bytes())
    }

    /// The verifying key, parsed as a peer would parse it.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The 64-byte signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// The signature over `message` in standard base64.
    pub fn sign_base64(&self, message: &[u8]) -> String {
        STANDARD.encode(self.sign(message))
    }
}

/// A verifying key parsed from its base64 form: never a small-order key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses standard padded base64 of 32 bytes that decode to an Ed25519 point of full
    /// order. Small-order ("weak") keys are refused: under lax rules some signatures verify
    /// for them whatever the message, and `verify_strict` would refuse every signature anyway.
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

    /// Checks `signature` (64 bytes) over `message`, strictly (canonical `s`, no small-order
    /// components).
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

/// Checks a base64 `signature` over `message` with a base64 public key.
pub fn verify(public_key: &str, message: &[u8], signature: &str) -> Result<(), IdentityError> {
    PublicKey::from_base64(public_key)?.verify_base64(message, signature)
}

/// A small-order point (the identity, y = 1), which every parser here must refuse.
#[cfg(test)]
pub(crate) fn weak_key_base64() -> String {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    STANDARD.encode(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_and_weak_keys_and_signatures_are_refused() {
        assert_eq!(
            PublicKey::from_base64("not base64!"),
            Err(IdentityError::MalformedPublicKey)
        );
        assert_eq!(
            PublicKey::from_base64(&STANDARD.encode([1u8; 31])),
            Err(IdentityError::MalformedPublicKey)
        );
        let good = NodeKey::generate().public_key_base64();
        assert!(PublicKey::from_base64(&good).is_ok());
        assert_eq!(
            PublicKey::from_base64(good.trim_end_matches('=')),
            Err(IdentityError::MalformedPublicKey)
        );
        assert_eq!(
            PublicKey::from_base64(&weak_key_base64()),
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
        let sig = key.sign_base64(b"challenge");
        verify(&key.public_key_base64(), b"challenge", &sig).unwrap();
        assert!(verify(&key.public_key_base64(), b"challengE", &sig).is_err());
        assert_eq!(
            key.public_key(),
            PublicKey::from_base64(&key.public_key_base64()).unwrap()
        );
        let restored = NodeKey::from_bytes(&key.to_bytes());
        assert_eq!(restored.public_key_bytes(), key.public_key_bytes());
        assert!(!format!("{key:?}").contains(&hex::encode(key.to_bytes())));
    }

    /// RFC 8032 section 7.1, test 1: the primitive is standard Ed25519.
    #[test]
    fn rfc8032_test_vector_1() {
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let key = NodeKey::from_bytes(&seed);
        assert_eq!(
            hex::encode(key.public_key_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(key.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }
}
