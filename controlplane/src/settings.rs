//! The control plane's settings, from the environment. Errors name the variable.

use std::collections::BTreeMap;
use std::path::PathBuf;

use config_model::{Secret, SecretRef};
use service_runtime::LogSettings;

pub const DEFAULT_GRPC_PORT: u16 = 50051;
pub const DEFAULT_HTTP_PORT: u16 = 8081;

#[derive(Debug, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct SettingsError {
    pub field: String,
    pub problem: String,
}

fn error(field: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        field: field.to_string(),
        problem: problem.into(),
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub node_id: String,
    pub grpc_host: String,
    pub grpc_port: u16,
    /// `/health` and `/metrics`.
    pub http_host: String,
    pub http_port: u16,
    pub database_url: String,
    /// The bearer token every API call (and every data plane) must present.
    pub api_token: Secret,
    pub log: LogSettings,
    /// PEM certificate chain and key: serve gRPC over TLS. Both or neither.
    pub tls: Option<TlsFiles>,
    /// The node's Ed25519 key (created if missing): its identity with discovery servers and on
    /// links to discovered peers. The node's data plane reads the same file.
    pub node_key_file: PathBuf,
    pub discovery: Option<crate::discovery::DiscoverySettings>,
    /// `CONFIG_FILE`: peers and routes applied at every start, already read and checked.
    pub config_file: Option<crate::seed::ConfigFile>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Settings {
    pub fn from_env_map(env: &BTreeMap<String, String>) -> Result<Settings, SettingsError> {
        let get = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
        let node_id = get("NODE_ID").unwrap_or_else(|| "node".into());
        config_model::check_identifier(&node_id).map_err(|p| error("NODE_ID", p))?;
        let grpc_host = get("GRPC_HOST").unwrap_or_else(|| "0.0.0.0".into());
        let grpc_port = match get("GRPC_PORT") {
            Some(text) => text.parse::<u16>().map_err(|_| {
                error(
                    "GRPC_PORT",
                    format!("{text:?} is not a port number (0..=65535)"),
                )
            })?,
            None => DEFAULT_GRPC_PORT,
        };
        let http_host = get("HTTP_HOST").unwrap_or_else(|| grpc_host.clone());
        let http_port = match get("HTTP_PORT") {
            Some(text) => text.parse::<u16>().map_err(|_| {
                error(
                    "HTTP_PORT",
                    format!("{text:?} is not a port number (0..=65535)"),
                )
            })?,
            None => DEFAULT_HTTP_PORT,
        };
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = match get("DATABASE_URL") {
            Some(url) => url,
            None => {
                std::fs::create_dir_all(&data_dir).map_err(|e| {
                    error(
                        "DATA_DIR",
                        format!("cannot create {}: {e}", data_dir.display()),
                    )
                })?;
                format!("sqlite://{}", data_dir.join("controlplane.db").display())
            }
        };
        let token_ref = get("API_TOKEN_REF").ok_or_else(|| {
            error(
                "API_TOKEN_REF",
                "required: a secret reference (env:NAME or file:/path) to the bearer token clients must present",
            )
        })?;
        let api_token = SecretRef::parse(&token_ref)
            .map_err(|p| error("API_TOKEN_REF", p))?
            .resolve()
            .map_err(|p| error("API_TOKEN_REF", p))?;
        let log =
            LogSettings::from_env(get).map_err(|(variable, problem)| error(variable, problem))?;
        let tls = match (get("TLS_CERT_FILE"), get("TLS_KEY_FILE")) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
            }),
            (Some(_), None) => {
                return Err(error("TLS_KEY_FILE", "required when TLS_CERT_FILE is set"));
            }
            (None, Some(_)) => {
                return Err(error("TLS_CERT_FILE", "required when TLS_KEY_FILE is set"));
            }
        };
        let node_key_file = get("NODE_KEY_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("node.key"));
        let discovery = crate::discovery::DiscoverySettings::from_env_map(env)?;
        let config_file = get("CONFIG_FILE")
            .map(|path| crate::seed::ConfigFile::load(std::path::Path::new(&path)))
            .transpose()
            .map_err(|e| error("CONFIG_FILE", e.to_string()))?;
        Ok(Settings {
            config_file,
            http_host,
            http_port,
            node_key_file,
            discovery,
            tls,
            node_id,
            grpc_host,
            grpc_port,
            database_url,
            api_token,
            log,
        })
    }
}
