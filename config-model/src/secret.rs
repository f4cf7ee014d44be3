//! Secret references (`env:NAME`, `file:/path`) and the secrets they resolve to.
//!
//! Configuration only ever holds references; the value is read at the edge, when a peer is
//! set up, and lives in a [`Secret`] that never prints itself.

use std::fmt;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
    /// No shared secret: the link is authenticated with node keys (the peer's public key is in
    /// its configuration). Used for peers found through discovery.
    NodeKey,
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
            SecretRef::NodeKey => f.write_str("node-key"),
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl SecretRef {
    /// Parses a reference. Anything that is not `env:NAME` or `file:/absolute/path` is refused,
    /// which is also what keeps literal secrets out of configuration files.
    pub fn parse(text: &str) -> Result<SecretRef, String> {
        if text == "node-key" {
            return Ok(SecretRef::NodeKey);
        }
        if let Some(name) = text.strip_prefix("env:") {
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(
                    "env: must name an environment variable ([A-Za-z_][A-Za-z0-9_]*)".into(),
                );
            }
            return Ok(SecretRef::Env(name.to_string()));
        }
        if let Some(path) = text.strip_prefix("file:") {
            if !path.starts_with('/') {
                return Err("file: must be an absolute path".into());
            }
            return Ok(SecretRef::File(PathBuf::from(path)));
        }
        Err(
            "must be a secret reference (env:NAME or file:/path); literal secrets are refused"
                .into(),
        )
    }

    /// Reads the secret. Errors name the reference, never the value.
    pub fn resolve(&self) -> Result<Secret, String> {
        let value = match self {
            SecretRef::Env(name) => std::env::var(name).map_err(|e| match e {
                std::env::VarError::NotPresent => {
                    format!("{self}: environment variable is not set")
                }
                std::env::VarError::NotUnicode(_) => format!("{self}: value is not UTF-8"),
            })?,
            SecretRef::File(path) => {
                let raw = std::fs::read_to_string(path).map_err(|e| format!("{self}: {e}"))?;
                // Files written by `echo` or editors end with a newline that is not part of it.
                raw.trim_end_matches(['\n', '\r']).to_string()
            }
            SecretRef::NodeKey => {
                return Err(format!(
                    "{self}: this link has no shared secret; it uses node keys"
                ));
            }
        };
        if value.is_empty() {
            return Err(format!("{self}: secret is empty"));
        }
        Ok(Secret(value))
    }
}

/// A resolved secret. It does not print, and it compares in constant time.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        // Digests have a fixed length, so the comparison does not leak lengths either.
        self.digest().ct_eq(&other.digest()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_and_literals_are_refused() {
        assert_eq!(
            SecretRef::parse("env:PEER_B").unwrap(),
            SecretRef::Env("PEER_B".into())
        );
        assert_eq!(
            SecretRef::parse("file:/run/secrets/b").unwrap(),
            SecretRef::File("/run/secrets/b".into())
        );
        assert!(
            SecretRef::parse("hunter2")
                .unwrap_err()
                .contains("literal secrets are refused")
        );
        assert!(SecretRef::parse("env:").is_err());
        assert!(SecretRef::parse("env:1ABC").is_err());
        assert!(SecretRef::parse("file:relative/path").is_err());
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret("hunter2".into());
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(secret, Secret("hunter2".into()));
        assert_ne!(secret, Secret("hunter3".into()));
    }

    #[test]
    fn file_secrets_lose_their_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("secret-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "abc\n").unwrap();
        let secret = SecretRef::File(path.clone()).resolve().unwrap();
        assert_eq!(secret.expose(), "abc");
        std::fs::write(&path, "\n").unwrap();
        assert!(
            SecretRef::File(path)
                .resolve()
                .unwrap_err()
                .contains("empty")
        );
        let missing = SecretRef::Env("DATAPLANE_TEST_SURELY_UNSET_VAR".into()).resolve();
        assert!(missing.unwrap_err().contains("not set"));
    }
}
