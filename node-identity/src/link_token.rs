//! The `nodekey:` BTP `auth_token`: how a node that found a peer through discovery (and never
//! exchanged a shared secret with it) authenticates a link with its node key.
//!
//! The dialling node presents
//!
//! ```text
//! nodekey:<dialer node id>:<unix ms>:<base64 signature>
//! ```
//!
//! where the signature covers the UTF-8 bytes of
//! `"ilp-btp-auth-v1\n" + dialer + "\n" + target + "\n" + unix_ms`. The accepting node (the
//! target) checks the signature with the public key it knows for that peer (strictly, like
//! every signature in this crate), that the target is itself, and that the time is within a
//! window of its own clock. Node ids cannot contain `:`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{NodeKey, PublicKey};

pub const TOKEN_PREFIX: &str = "nodekey:";
/// How far a token's time may be from ours: bounds replay of a captured token.
pub const WINDOW_MS: i64 = 5 * 60 * 1000;

fn message(dialer: &str, target: &str, unix_ms: i64) -> Vec<u8> {
    format!("ilp-btp-auth-v1\n{dialer}\n{target}\n{unix_ms}").into_bytes()
}

/// The `auth_token` for dialling `target`, signed with `key`.
pub fn token(key: &NodeKey, dialer: &str, target: &str, unix_ms: i64) -> String {
    let signature = key.sign(&message(dialer, target, unix_ms));
    format!(
        "{TOKEN_PREFIX}{dialer}:{unix_ms}:{}",
        STANDARD.encode(signature)
    )
}

/// A presented `nodekey:` token, parsed but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkToken {
    pub dialer: String,
    pub unix_ms: i64,
    signature: [u8; 64],
}

impl LinkToken {
    /// `None` if `token` is not in the `nodekey:` form (then it is a shared-secret token).
    pub fn parse(token: &[u8]) -> Option<LinkToken> {
        let text = std::str::from_utf8(token)
            .ok()?
            .strip_prefix(TOKEN_PREFIX)?;
        let mut parts = text.splitn(3, ':');
        let dialer = parts.next()?.to_string();
        let unix_ms = parts.next()?.parse().ok()?;
        let signature: [u8; 64] = STANDARD.decode(parts.next()?).ok()?.try_into().ok()?;
        Some(LinkToken {
            dialer,
            unix_ms,
            signature,
        })
    }

    /// Checks the time window, then the signature with `public_key` (strictly) for `target`.
    pub fn verify(&self, public_key: &PublicKey, target: &str, now_ms: i64) -> Result<(), String> {
        if (now_ms - self.unix_ms).abs() > WINDOW_MS {
            return Err("token time is outside the accepted window (check the clocks)".into());
        }
        public_key
            .verify(
                &message(&self.dialer, target, self.unix_ms),
                &self.signature,
            )
            .map_err(|_| "signature does not verify".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_key_target_and_time() {
        let key = NodeKey::from_bytes(&[7; 32]);
        let public = PublicKey::from_base64(&key.public_key_base64()).unwrap();
        let token = token(&key, "a", "b", 1_000_000);
        let parsed = LinkToken::parse(token.as_bytes()).unwrap();
        assert_eq!(parsed.dialer, "a");
        assert!(parsed.verify(&public, "b", 1_000_000 + 1000).is_ok());
        assert!(
            parsed.verify(&public, "c", 1_000_000).is_err(),
            "another target"
        );
        assert!(
            parsed
                .verify(&public, "b", 1_000_000 + WINDOW_MS + 1)
                .is_err(),
            "too old"
        );
        let other = NodeKey::from_bytes(&[8; 32]).public_key();
        assert!(
            parsed.verify(&other, "b", 1_000_000).is_err(),
            "another key"
        );
        assert_eq!(LinkToken::parse(b"a plain shared secret"), None);
        assert_eq!(LinkToken::parse(b"nodekey:a:notanumber:AAAA"), None);
    }

    /// A peer configured with a small-order key can never be the key a link token is checked
    /// with: the only way to a `PublicKey` is the strict parser.
    #[test]
    fn a_weak_key_cannot_authenticate_a_link() {
        assert!(PublicKey::from_base64(&crate::key::weak_key_base64()).is_err());
    }
}
