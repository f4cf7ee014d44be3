//! The control plane's settings, from the environment. Errors name the variable.

use std::collections::BTreeMap;
use std::path::PathBuf;

use config_model::settlement::Settlement;
use config_model::{Secret, SecretRef};
use service_runtime::LogSettings;
use service_runtime::env::{Env, EnvError};

pub const DEFAULT_GRPC_PORT: u16 = 50051;
pub const DEFAULT_HTTP_PORT: u16 = 8081;

/// A refused setting, naming the variable.
pub type SettingsError = EnvError;

pub(crate) fn error(variable: &str, problem: impl Into<String>) -> SettingsError {
    EnvError::new(variable, problem)
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
    /// How the node settles (`ctl setup`'s answers): recorded in the store at every start (the
    /// status reads it from there), announced as capabilities with discovery.
    pub settlement: Settlement,
    /// `CONFIG_FILE`: peers and routes applied at every start, already read and checked.
    pub config_file: Option<crate::seed::ConfigFile>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Settings {
    pub fn from_env_map(map: &BTreeMap<String, String>) -> Result<Settings, SettingsError> {
        let env = Env::new(map);
        let get = |name: &str| env.get(name);
        let node_id = get("NODE_ID").unwrap_or_else(|| "node".into());
        config_model::check_identifier(&node_id).map_err(|p| error("NODE_ID", p))?;
        let grpc_host = get("GRPC_HOST").unwrap_or_else(|| "0.0.0.0".into());
        let grpc_port = env.port("GRPC_PORT")?.unwrap_or(DEFAULT_GRPC_PORT);
        let http_host = get("HTTP_HOST").unwrap_or_else(|| grpc_host.clone());
        let http_port = env.port("HTTP_PORT")?.unwrap_or(DEFAULT_HTTP_PORT);
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = env.database_url("controlplane.db")?;
        let token_ref = env.required(
            "API_TOKEN_REF",
            "a secret reference (env:NAME or file:/path) to the bearer token clients must present",
        )?;
        let api_token = SecretRef::parse(&token_ref)
            .map_err(|p| error("API_TOKEN_REF", p))?
            .resolve()
            .map_err(|p| error("API_TOKEN_REF", p))?;
        let log = env.log()?;
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
        node_identity::KeyBackend::parse(get("KEY_BACKEND").as_deref())
            .map_err(|p| error("KEY_BACKEND", p))?;
        let node_key_file = get("NODE_KEY_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("node.key"));
        let settlement = Settlement::parse(
            get("SETTLEMENT").as_deref(),
            get("SETTLEMENT_EVM_ADDRESS").as_deref(),
            get("SETTLEMENT_XRP_ADDRESS").as_deref(),
        )
        .map_err(|(variable, problem)| error(variable, problem))?;
        let discovery =
            crate::discovery::DiscoverySettings::from_env(env, &settlement.capabilities)?;
        let config_file = get("CONFIG_FILE")
            .map(|path| crate::seed::ConfigFile::load(std::path::Path::new(&path)))
            .transpose()
            .map_err(|e| error("CONFIG_FILE", e.to_string()))?;
        Ok(Settings {
            settlement,
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
