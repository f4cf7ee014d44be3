//! `KEY_BACKEND`: where a node's key and its link secrets come from. `ctl setup` asks for it
//! and writes it; every service reads it at start, so a backend this build cannot use stops the
//! service with one line instead of it quietly reading keys from somewhere else.

/// The backends this build can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyBackend {
    /// The node key from its file (`NODE_KEY_FILE`), secrets from `env:` and `file:`
    /// references.
    Env,
}

/// Backends `ctl setup` offers that no service implements yet.
const PLANNED: [&str; 3] = ["aws-kms", "gcp-kms", "azure-kv"];

impl KeyBackend {
    /// Reads the setting (unset means `env`; `file`, which earlier example files wrote for
    /// the same thing, is read as `env`). The error says what is supported.
    pub fn parse(value: Option<&str>) -> Result<KeyBackend, String> {
        match value {
            None | Some("env") | Some("file") => Ok(KeyBackend::Env),
            Some(planned) if PLANNED.contains(&planned) => Err(format!(
                "{planned:?} is not supported by this build yet; the supported backend is env \
                 (the node key from NODE_KEY_FILE, secrets from env: and file: references)"
            )),
            Some(other) => Err(format!(
                "{other:?} is not a key backend; the supported backend is env"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_works_and_the_rest_is_refused_by_name() {
        assert_eq!(KeyBackend::parse(None), Ok(KeyBackend::Env));
        assert_eq!(KeyBackend::parse(Some("env")), Ok(KeyBackend::Env));
        assert_eq!(KeyBackend::parse(Some("file")), Ok(KeyBackend::Env));
        for planned in PLANNED {
            let refused = KeyBackend::parse(Some(planned)).unwrap_err();
            assert!(
                refused.contains("not supported by this build yet"),
                "{refused}"
            );
            assert!(refused.contains("env"), "{refused}");
        }
        assert!(
            KeyBackend::parse(Some("hsm"))
                .unwrap_err()
                .contains("not a key backend")
        );
    }
}
