//! The `.env` file: its text, and writing it so that it is never readable by anyone but its
//! owner, not even for a moment.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{Answers, KeyBackend, Settlement};

/// Secrets generated for the file (never printed).
pub struct Generated {
    pub api_token: String,
    /// Only when monitoring (Grafana) is on.
    pub grafana_admin_password: Option<String>,
}

/// The Jaeger collector of deploy/stack, where traces go when tracing is on.
pub const STACK_OTLP_ENDPOINT: &str = "http://jaeger:4317";

/// The variables in the order they are written: the contract with the Compose files in
/// deploy/. `env_path` is where the file will live, as an absolute path: the stack's data
/// plane reads its environment from `ENV_FILE`, which must name this file wherever it is.
pub fn render(answers: &Answers, generated: &Generated, env_path: &Path) -> String {
    let mut text = format!(
        "# Written by `ctl setup` (ctl {}). Used by the Compose files in deploy/:\n\
         #   docker-compose --env-file {} -f deploy/... up -d\n\
         # This file holds secrets (API_TOKEN, the control plane's API bearer token, and\n\
         # GRAFANA_ADMIN_PASSWORD when monitoring is on): keep it mode 0600 and out of version\n\
         # control.\n",
        env!("CARGO_PKG_VERSION"),
        env_path.display()
    );
    let mut set = |name: &str, value: &str| {
        text.push_str(name);
        text.push('=');
        text.push_str(value);
        text.push('\n');
    };
    set("NODE_ID", &answers.node_id);
    set("ILP_ADDRESS", &answers.ilp_address);
    set("SETTLEMENT", answers.settlement.as_str());
    if matches!(answers.settlement, Settlement::Evm | Settlement::Both) {
        set(
            "SETTLEMENT_EVM_ADDRESS",
            answers.evm_address.as_deref().unwrap_or_default(),
        );
    }
    if matches!(answers.settlement, Settlement::Xrp | Settlement::Both) {
        set(
            "SETTLEMENT_XRP_ADDRESS",
            answers.xrp_address.as_deref().unwrap_or_default(),
        );
    }
    set("KEY_BACKEND", answers.key_backend.as_str());
    if answers.key_backend != KeyBackend::Env {
        set("KEY_ID", answers.key_id.as_deref().unwrap_or_default());
    }
    set("BTP_PORT", &answers.btp_port.to_string());
    set("HEALTH_PORT", &answers.health_port.to_string());
    set("LOG_LEVEL", answers.log_level.as_str());
    set(
        "PEER_DISCOVERY_ENDPOINTS",
        &answers.discovery_endpoints.join(","),
    );
    set("COMPOSE_PROFILES", &answers.compose_profiles().join(","));
    if answers.tracing {
        set("OTEL_EXPORTER_OTLP_ENDPOINT", STACK_OTLP_ENDPOINT);
    }
    set("API_TOKEN", &generated.api_token);
    if let Some(password) = &generated.grafana_admin_password {
        set("GRAFANA_ADMIN_PASSWORD", password);
    }
    set("ENV_FILE", &env_path.display().to_string());
    text
}

/// `path` made absolute without requiring it to exist (its directory must).
pub fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the output path has no file name",
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.canonicalize()?,
        _ => std::env::current_dir()?,
    };
    Ok(dir.join(name))
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{} already exists; pass --force to replace it", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes `text` to `path` with mode 0600. Without `force` an existing file is refused (and
/// the check is the create itself, so nothing can slip in between). With `force` the text
/// goes to a new 0600 file beside it that then replaces it, so even an old world-readable
/// file never holds the new secret.
pub fn write(path: &Path, text: &str, force: bool) -> Result<(), WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !force {
        let file = create_private(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => WriteError::Exists(path.to_path_buf()),
            _ => io(e),
        })?;
        return fill(file, text).map_err(io);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".env".into());
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", hex_random(6)));
    let written = create_private(&temporary)
        .and_then(|file| fill(file, text))
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(io(error));
    }
    Ok(())
}

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    // The umask can only take bits away; this makes it exactly 0600 in case it took ours.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

fn fill(mut file: std::fs::File, text: &str) -> std::io::Result<()> {
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

pub fn hex_random(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ctl-setup-env-{}-{}",
            std::process::id(),
            hex_random(4)
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn a_new_file_is_0600_and_an_existing_one_needs_force() {
        let dir = dir();
        let path = dir.join(".env");
        assert!(write(&path, "A=1\n", false).is_ok());
        assert_eq!(mode(&path), 0o600);
        assert!(matches!(
            write(&path, "A=2\n", false),
            Err(WriteError::Exists(_))
        ));
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some("A=1\n")
        );

        // A replaced world-readable file ends up 0600 too, with nothing left beside it.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(write(&path, "A=3\n", true).is_ok());
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some("A=3\n")
        );
        let entries = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert_eq!(entries, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tokens_are_hex_of_the_requested_length() {
        let token = hex_random(32);
        assert_eq!(token.len(), 64);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(token, hex_random(32));
    }
}
