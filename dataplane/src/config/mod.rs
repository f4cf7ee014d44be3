//! Node configuration: the YAML file (`CONFIG_FILE`) overlaid with environment variables, checked
//! field by field. Every error names the field and says what is wrong.

mod env;
mod file;

use std::collections::BTreeMap;
use std::time::Duration;

use proto::Address;
use service_runtime::env::{Env, EnvError};
use service_runtime::log_settings::{LogSettings, LogSettingsError};

pub use config_model::{PeerConfig, Relation, RouteConfig, Secret, SecretRef};

pub use crate::ledger::LedgerConfig;

pub const DEFAULT_BTP_PORT: u16 = 3000;
pub const DEFAULT_HEALTH_PORT: u16 = 8080;
pub use config_model::{DEFAULT_ASSET_CODE, DEFAULT_ASSET_SCALE};

/// A configuration problem: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    pub field: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardingConfig {
    /// Taken off each Prepare's expiry before forwarding; also the least time a forwarded
    /// Prepare must have left (else R02).
    pub expiry_margin: Duration,
    /// No forwarded Prepare expires later than now + this.
    pub max_hold_time: Duration,
    /// How long SIGTERM waits for in-flight Prepares.
    pub shutdown_timeout: Duration,
    /// Keep per-peer balances (and enforce credit limits). Off only for measuring its cost.
    pub track_balances: bool,
}

impl Default for ForwardingConfig {
    fn default() -> Self {
        ForwardingConfig {
            expiry_margin: Duration::from_millis(1000),
            max_hold_time: Duration::from_millis(30_000),
            shutdown_timeout: Duration::from_millis(30_000),
            track_balances: true,
        }
    }
}

/// Managed mode: where the control plane is and how to authenticate to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPlaneConfig {
    pub url: String,
    pub token_ref: SecretRef,
    /// PEM CA certificate that signed the control plane's certificate (https:// URLs).
    pub ca_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    pub node_id: String,
    /// `ILP_ADDRESS`. `None`: learned from the parent peer by ILDCP (RFC 31) once its link is
    /// up; allowed only with a parent (or in managed mode, where the control plane names it).
    pub ilp_address: Option<Address>,
    pub btp_host: String,
    pub btp_port: u16,
    pub health_host: String,
    pub health_port: u16,
    pub log: LogSettings,
    pub forwarding: ForwardingConfig,
    /// `DATA_DIR`: the embedded ledger's files and, in managed mode, the last applied snapshot.
    pub data_dir: std::path::PathBuf,
    pub ledger: LedgerConfig,
    /// Standalone mode: the peers and routes served. Ignored in managed mode.
    pub peers: Vec<PeerConfig>,
    pub routes: Vec<RouteConfig>,
    /// Set (by `CONTROLPLANE_URL`) in managed mode.
    pub control_plane: Option<ControlPlaneConfig>,
    /// The node's Ed25519 key (`NODE_KEY_FILE`), for links authenticated with node keys.
    pub node_key_file: Option<std::path::PathBuf>,
}

impl NodeConfig {
    /// Loads the configuration from `CONFIG_FILE` (if set) and the environment; the
    /// environment wins.
    pub fn from_env_map(env: &BTreeMap<String, String>) -> Result<NodeConfig, ConfigError> {
        let file = match env.get("CONFIG_FILE").filter(|path| !path.is_empty()) {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::new("CONFIG_FILE", format!("cannot read {path}: {e}"))
                })?;
                if is_json_path(path) {
                    parse_json(&text)?
                } else {
                    parse_yaml(&text)?
                }
            }
            None => file::FileConfig::default(),
        };
        build(file, env)
    }

    /// Parses YAML text with no environment overlay (used by tests and tools).
    pub fn from_yaml(text: &str) -> Result<NodeConfig, ConfigError> {
        build(parse_yaml(text)?, &BTreeMap::new())
    }
}

/// A `.json` file is read as JSON: the same fields, parsed several times faster than YAML,
/// which matters for generated files with a hundred thousand routes.
fn is_json_path(path: &str) -> bool {
    std::path::Path::new(path)
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
}

fn parse_json(text: &str) -> Result<file::FileConfig, ConfigError> {
    serde_json::from_str(text).map_err(|e| ConfigError::new("CONFIG_FILE", e.to_string()))
}

fn parse_yaml(text: &str) -> Result<file::FileConfig, ConfigError> {
    yaml_serde::from_str(text).map_err(|e| {
        // One line for the operator: serde's message already names the path (peers[1].foo).
        let message = e.to_string().replace('\n', " ");
        ConfigError::new("CONFIG_FILE", message)
    })
}

fn build(
    file: file::FileConfig,
    env: &BTreeMap<String, String>,
) -> Result<NodeConfig, ConfigError> {
    let vars = Env::new(env);
    let get = |name: &str| vars.get(name);

    let ilp_address = match get("ILP_ADDRESS").or(file.ilp_address) {
        None => None,
        Some(text) => Some(Address::new(&text).map_err(|e| {
            ConfigError::new("ilpAddress", format!("{text:?} is not an ILP address: {e}"))
        })?),
    };
    let node_id = match (get("NODE_ID").or(file.name), &ilp_address) {
        (Some(id), _) => id,
        (None, Some(address)) => address
            .as_str()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_string(),
        (None, None) => {
            return Err(ConfigError::new(
                "NODE_ID",
                "required when ILP_ADDRESS is not set (the node id is otherwise the address's last segment)",
            ));
        }
    };
    check_identifier("name", &node_id)?;

    let btp = file.btp_server.unwrap_or_default();
    let btp_host = get("BTP_SERVER_HOST")
        .or(btp.host)
        .unwrap_or_else(|| "0.0.0.0".into());
    let btp_port = vars
        .port("BTP_SERVER_PORT")?
        .or(btp.port)
        .unwrap_or(DEFAULT_BTP_PORT);
    let health = file.health.unwrap_or_default();
    let health_host = get("HEALTH_CHECK_HOST")
        .or(health.host)
        .unwrap_or_else(|| "0.0.0.0".into());
    let health_port = vars
        .port("HEALTH_CHECK_PORT")?
        .or(health.port)
        .unwrap_or(DEFAULT_HEALTH_PORT);

    let logging = file.logging.unwrap_or_default();
    let log = LogSettings::parse(
        get("LOG_LEVEL").or(logging.level).as_deref(),
        get("LOG_FORMAT").or(logging.format).as_deref(),
    )
    .map_err(|error| match error {
        LogSettingsError::Level(problem) => ConfigError::new("logging.level", problem),
        LogSettingsError::Format(problem) => ConfigError::new("logging.format", problem),
    })?;

    let forwarding = forwarding_config(file.forwarding.unwrap_or_default(), vars)?;

    let asset = file.asset.unwrap_or_default();
    let default_asset_code = get("ASSET_CODE")
        .or(asset.code)
        .unwrap_or_else(|| DEFAULT_ASSET_CODE.into());
    let default_asset_scale = match get("ASSET_SCALE") {
        Some(text) => text.parse::<u8>().map_err(|_| {
            ConfigError::new("ASSET_SCALE", format!("{text:?} is not an integer 0..=255"))
        })?,
        None => asset.scale.unwrap_or(DEFAULT_ASSET_SCALE),
    };

    let assets = config_model::sections::AssetDefaults {
        code: default_asset_code.clone(),
        scale: default_asset_scale,
    };
    let mut peers = Vec::with_capacity(file.peers.len());
    for (index, section) in file.peers.into_iter().enumerate() {
        // The id names the BTP_PEER_{ID}_SECRET seed, so it is checked before it is used.
        check_identifier(&format!("peers[{index}].id"), &section.id)?;
        let seeded = env::seeded_secret(env, &section.id);
        peers.push(
            section
                .into_config(index, &assets, seeded)
                .map_err(|e| ConfigError::new(e.field, e.problem))?,
        );
    }
    let mut routes: Vec<RouteConfig> = file.routes.into_iter().map(Into::into).collect();

    env::apply_peer_seeds(
        env,
        &mut peers,
        &mut routes,
        &default_asset_code,
        default_asset_scale,
    )?;

    node_identity::KeyBackend::parse(get("KEY_BACKEND").as_deref())
        .map_err(|p| ConfigError::new("KEY_BACKEND", p))?;

    let control_plane = match get("CONTROLPLANE_URL") {
        None => None,
        Some(url) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "CONTROLPLANE_URL",
                    format!("{url:?} must start with http:// or https://"),
                ));
            }
            let token_ref =
                get("CONTROLPLANE_TOKEN_REF").unwrap_or_else(|| "env:CONTROLPLANE_TOKEN".into());
            let token_ref = SecretRef::parse(&token_ref)
                .map_err(|p| ConfigError::new("CONTROLPLANE_TOKEN_REF", p))?;
            let ca_file = get("CONTROLPLANE_CA_FILE").map(Into::into);
            if url.starts_with("https://") && ca_file.is_none() {
                return Err(ConfigError::new(
                    "CONTROLPLANE_CA_FILE",
                    "required for an https:// CONTROLPLANE_URL: the CA certificate (PEM) to trust",
                ));
            }
            Some(ControlPlaneConfig {
                url,
                token_ref,
                ca_file,
            })
        }
    };

    let ledger = ledger_config(
        file.ledger.unwrap_or_default(),
        vars,
        forwarding.track_balances,
    )?;

    let config = NodeConfig {
        node_id,
        ilp_address,
        btp_host,
        btp_port,
        health_host,
        health_port,
        log,
        forwarding,
        data_dir: get("DATA_DIR").unwrap_or_else(|| "./data".into()).into(),
        ledger,
        peers,
        routes,
        control_plane,
        node_key_file: get("NODE_KEY_FILE").map(Into::into),
    };
    validate(&config)?;
    Ok(config)
}

fn forwarding_config(
    section: file::ForwardingSection,
    vars: Env<'_>,
) -> Result<ForwardingConfig, ConfigError> {
    let defaults = ForwardingConfig::default();
    let millis = |env_name: &str,
                  file_value: Option<u64>,
                  default: Duration|
     -> Result<Duration, ConfigError> {
        let from_file = file_value.map(Duration::from_millis);
        Ok(vars.millis(env_name)?.or(from_file).unwrap_or(default))
    };
    let config = ForwardingConfig {
        expiry_margin: millis(
            "EXPIRY_MARGIN_MS",
            section.expiry_margin_ms,
            defaults.expiry_margin,
        )?,
        max_hold_time: millis(
            "MAX_HOLD_TIME_MS",
            section.max_hold_time_ms,
            defaults.max_hold_time,
        )?,
        shutdown_timeout: millis(
            "SHUTDOWN_TIMEOUT_MS",
            section.shutdown_timeout_ms,
            defaults.shutdown_timeout,
        )?,
        track_balances: vars
            .flag("TRACK_BALANCES")?
            .or(section.track_balances)
            .unwrap_or(defaults.track_balances),
    };
    if config.expiry_margin.is_zero() {
        return Err(ConfigError::new(
            "forwarding.expiryMarginMs",
            "must be greater than 0",
        ));
    }
    if config.max_hold_time < config.expiry_margin * 2 {
        return Err(ConfigError::new(
            "forwarding.maxHoldTimeMs",
            "must be at least twice forwarding.expiryMarginMs, or nothing could be forwarded",
        ));
    }
    Ok(config)
}

fn ledger_config(
    section: file::LedgerSection,
    vars: Env<'_>,
    track_balances: bool,
) -> Result<LedgerConfig, ConfigError> {
    let kind = vars.get("LEDGER").or(section.kind);
    if !track_balances {
        // Nothing to keep: the default follows, a contradiction is refused.
        return match kind.as_deref() {
            None | Some("memory") => Ok(LedgerConfig::Memory),
            Some(_) => Err(ConfigError::new(
                "LEDGER",
                "TRACK_BALANCES=false keeps no balances; leave LEDGER unset or set it to memory",
            )),
        };
    }
    let interval = vars.integer("LEDGER_FLUSH_INTERVAL_MS", 1..=1000)?;
    let interval = match (interval, section.flush_interval_ms) {
        (Some(ms), _) => Duration::from_millis(ms),
        (None, Some(ms)) if (1..=1000).contains(&ms) => Duration::from_millis(ms),
        (None, Some(ms)) => {
            return Err(ConfigError::new(
                "ledger.flushIntervalMs",
                format!("{ms} is not in 1..=1000"),
            ));
        }
        (None, None) => crate::ledger::DEFAULT_FLUSH_INTERVAL,
    };
    match kind.as_deref() {
        None | Some("embedded") => Ok(LedgerConfig::Embedded {
            flush_interval: interval,
        }),
        Some("memory") => Ok(LedgerConfig::Memory),
        Some("tigerbeetle") => tigerbeetle_config(vars),
        Some(other) => Err(ConfigError::new(
            "LEDGER",
            format!(
                "{other:?} is not a ledger this data plane has: embedded (balances journaled in DATA_DIR, the default), tigerbeetle (a TigerBeetle cluster, TIGERBEETLE_ADDRESSES) or memory (lost on restart)"
            ),
        )),
    }
}

fn tigerbeetle_config(vars: Env<'_>) -> Result<LedgerConfig, ConfigError> {
    let addresses = vars.required(
        "TIGERBEETLE_ADDRESSES",
        "the replicas of the TigerBeetle cluster (LEDGER=tigerbeetle), e.g. 127.0.0.1:3000",
    )?;
    if addresses.split(',').any(|a| a.trim().is_empty()) {
        return Err(ConfigError::new(
            "TIGERBEETLE_ADDRESSES",
            format!("{addresses:?}: an empty address in the list"),
        ));
    }
    let cluster_id = match vars.get("TIGERBEETLE_CLUSTER_ID") {
        None => 0,
        Some(text) => text.parse::<u128>().map_err(|_| {
            ConfigError::new(
                "TIGERBEETLE_CLUSTER_ID",
                format!("{text:?} is not a cluster id (a decimal integer)"),
            )
        })?,
    };
    let timeout = vars
        .millis("TIGERBEETLE_TIMEOUT_MS")?
        .unwrap_or(crate::ledger::DEFAULT_TIGERBEETLE_TIMEOUT);
    let max_batch = vars
        .integer("TIGERBEETLE_MAX_BATCH", 2..=8189)?
        .map_or(crate::ledger::DEFAULT_TIGERBEETLE_MAX_BATCH, |n| n as usize);
    Ok(LedgerConfig::TigerBeetle(
        crate::ledger::TigerBeetleConfig {
            cluster_id,
            addresses,
            timeout,
            max_batch,
        },
    ))
}

fn validate(config: &NodeConfig) -> Result<(), ConfigError> {
    config_model::validate_table(&config.peers, &config.routes)
        .map_err(|e| ConfigError::new(e.field, e.problem))?;
    // Without an address the node asks its parent (ILDCP). Standalone, the table is known now,
    // so a node with nobody to ask is refused here; in managed mode the control plane's
    // snapshot brings the parent, and the node stays unready (`awaiting_address`) until then.
    let has_parent = config.peers.iter().any(|p| p.relation == Relation::Parent);
    if config.ilp_address.is_none() && config.control_plane.is_none() && !has_parent {
        return Err(ConfigError::new(
            "ILP_ADDRESS",
            "required (or ilpAddress in CONFIG_FILE) unless a peer has relation: parent, from which the address is learned by ILDCP",
        ));
    }
    Ok(())
}

fn check_identifier(field: &str, id: &str) -> Result<(), ConfigError> {
    config_model::check_identifier(id).map_err(|problem| ConfigError::new(field, problem))
}

/// A variable the environment overlay refused: the variable is the field.
impl From<EnvError> for ConfigError {
    fn from(error: EnvError) -> ConfigError {
        ConfigError::new(error.variable, error.problem)
    }
}

#[cfg(test)]
mod tests;
