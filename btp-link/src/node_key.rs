//! Authenticating a link with node keys instead of a shared secret, for peers that found each
//! other through discovery and never exchanged one.
//!
//! Each node holds an Ed25519 key (a file of 64 hex characters: the 32-byte seed). The dialling
//! node presents, as its BTP `auth_token`:
//!
//! ```text
//! nodekey:<dialer node id>:<unix ms>:<base64 signature>
//! ```
//!
//! where the signature covers the UTF-8 bytes of
//! `"ilp-btp-auth-v1\n" + dialer + "\n" + target + "\n" + unix_ms`. The accepting node (the
//! target) checks the signature with the public key it knows for that peer, that the target is
//! itself, and that the time is within a window of its own clock. Node ids cannot contain `:`.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};

pub const TOKEN_PREFIX: &str = "nodekey:";
/// How far a token's time may be from ours: bounds replay of a captured token.
pub const WINDOW_MS: i64 = 5 * 60 * 1000;

fn message(dialer: &str, target: &str, unix_ms: i64) -> Vec<u8> {
    format!("ilp-btp-auth-v1\n{dialer}\n{target}\n{unix_ms}").into_bytes()
}

/// A node's private key; it never prints. One type for the whole project: the discovery
/// identity and the link credential are the same key.
pub use proto::discovery::NodeKey;

/// Reads a key file (64 hex characters, surrounding whitespace ignored).
pub fn load(path: &Path) -> Result<NodeKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{}: a node key is 64 hex characters",
            path.display()
        ));
    }
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(NodeKey::from_bytes(&seed))
}

/// Loads the key at `path`, or creates one there (mode 0600) if there is none yet.
pub fn load_or_create(path: &Path) -> Result<NodeKey, String> {
    if path.exists() {
        return load(path);
    }
    let key = NodeKey::generate();
    let hex: String = key.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    match write_private(path, &format!("{hex}\n")) {
        Ok(()) => Ok(key),
        // Another process (the node's control plane or data plane) created it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load(path),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The `auth_token` for dialling `target`, signed with `key`.
pub fn token(key: &NodeKey, dialer: &str, target: &str, unix_ms: i64) -> String {
    let signature = key.sign(&message(dialer, target, unix_ms));
    format!(
        "{TOKEN_PREFIX}{dialer}:{unix_ms}:{}",
        STANDARD.encode(signature)
    )
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

/// A public key in base64, checked.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| "not base64".to_string())?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| "not 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an Ed25519 public key".to_string())
}

/// A presented `nodekey:` token, parsed but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeKeyToken {
    pub dialer: String,
    pub unix_ms: i64,
    signature: [u8; 64],
}

impl NodeKeyToken {
    /// `None` if `token` is not in the `nodekey:` form (then it is a shared-secret token).
    pub fn parse(token: &[u8]) -> Option<NodeKeyToken> {
        let text = std::str::from_utf8(token)
            .ok()?
            .strip_prefix(TOKEN_PREFIX)?;
        let mut parts = text.splitn(3, ':');
        let dialer = parts.next()?.to_string();
        let unix_ms = parts.next()?.parse().ok()?;
        let signature: [u8; 64] = STANDARD.decode(parts.next()?).ok()?.try_into().ok()?;
        Some(NodeKeyToken {
            dialer,
            unix_ms,
            signature,
        })
    }

    /// Checks the signature with `public_key`, that we are the `target`, and the time window.
    pub fn verify(
        &self,
        public_key: &VerifyingKey,
        target: &str,
        now_ms: i64,
    ) -> Result<(), String> {
        if (now_ms - self.unix_ms).abs() > WINDOW_MS {
            return Err("token time is outside the accepted window (check the clocks)".into());
        }
        let signature = Signature::from_bytes(&self.signature);
        public_key
            .verify(&message(&self.dialer, target, self.unix_ms), &signature)
            .map_err(|_| "signature does not verify".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_key_target_and_time() {
        let key = NodeKey::from_bytes(&[7; 32]);
        let public = parse_public_key(&key.public_key_base64()).unwrap();
        let token = token(&key, "a", "b", 1_000_000);
        let parsed = NodeKeyToken::parse(token.as_bytes()).unwrap();
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
        let other = parse_public_key(&NodeKey::from_bytes(&[8; 32]).public_key_base64()).unwrap();
        assert!(
            parsed.verify(&other, "b", 1_000_000).is_err(),
            "another key"
        );
        assert_eq!(NodeKeyToken::parse(b"a plain shared secret"), None);
        assert_eq!(NodeKeyToken::parse(b"nodekey:a:notanumber:AAAA"), None);
    }

    #[test]
    fn key_files_are_created_private_and_reloaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("node-key-{}", std::process::id()));
        let path = dir.join("node.key");
        let _ = std::fs::remove_file(&path);
        let created = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = load_or_create(&path).unwrap();
        assert_eq!(created.to_bytes(), loaded.to_bytes());
        std::fs::write(&path, "zz").unwrap();
        assert!(load(&path).unwrap_err().contains("64 hex"));
    }
}
