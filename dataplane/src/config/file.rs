//! The YAML schema of `CONFIG_FILE`, as written by operators. Its `peers:` and `routes:`
//! sections are config-model's, shared with the control plane's seed file.

pub use config_model::sections::{PeerSection, RouteSection};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileConfig {
    pub ilp_address: Option<String>,
    /// The node id.
    pub name: Option<String>,
    pub btp_server: Option<BtpServerSection>,
    pub health: Option<HealthSection>,
    pub asset: Option<AssetSection>,
    #[serde(default)]
    pub peers: Vec<PeerSection>,
    #[serde(default)]
    pub routes: Vec<RouteSection>,
    pub logging: Option<LoggingSection>,
    pub forwarding: Option<ForwardingSection>,
    pub ledger: Option<LedgerSection>,
}

/// Where balances are kept (`LEDGER`, `LEDGER_FLUSH_INTERVAL_MS`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LedgerSection {
    pub kind: Option<String>,
    pub flush_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BtpServerSection {
    pub host: Option<String>,
    pub port: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthSection {
    pub host: Option<String>,
    pub port: Option<u16>,
}

/// Defaults for peers that do not state their asset.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssetSection {
    pub code: Option<String>,
    pub scale: Option<u8>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoggingSection {
    pub level: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForwardingSection {
    pub expiry_margin_ms: Option<u64>,
    pub max_hold_time_ms: Option<u64>,
    pub shutdown_timeout_ms: Option<u64>,
    pub track_balances: Option<bool>,
}
