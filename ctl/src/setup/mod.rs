//! `ctl setup`: the onboarding wizard. It asks what a node needs (or takes it from flags) and
//! writes the `.env` file the Compose files in deploy/ read.
//!
//! Every question has a flag; a question whose flag is given is not asked. With
//! `--non-interactive`, or when stdin or stderr is not a terminal, nothing is asked: flags and
//! defaults only, and a missing answer without a default is a usage error.

mod env_file;
mod prompt;
pub mod rules;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::ValueEnum;
use clap::builder::TypedValueParser;

use crate::OutputOption;
use crate::exit_code::{self, UsageError};
use crate::output;

pub const HELP: &str = "\
Exit codes:
  0  the file was written
  1  other errors (e.g. the directory is not writable)
  2  usage errors (an invalid or missing answer in non-interactive mode)
  5  the file already exists (pass --force to replace it)";

/// Exit status when the output file exists and --force was not given (ALREADY_EXISTS).
pub const EXISTS: u8 = 5;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The node's id [default: node- and 8 random hex digits].
    #[arg(long, value_name = "ID")]
    pub node_id: Option<String>,
    /// The node's ILP address [default: g.<node id>].
    #[arg(long, value_name = "ADDRESS")]
    pub ilp_address: Option<String>,
    /// How this node settles [default: from the addresses given, else evm].
    #[arg(long, value_enum)]
    pub settlement: Option<Settlement>,
    /// The EVM settlement address: 0x and 40 hex digits (with --settlement evm or both).
    #[arg(long, value_name = "0x…")]
    pub evm_address: Option<String>,
    /// The XRP settlement address: r and 24 to 34 base58 characters (with --settlement xrp or
    /// both).
    #[arg(long, value_name = "r…")]
    pub xrp_address: Option<String>,
    /// Where the node's signing key lives [default: env, which is for development only].
    #[arg(long, value_enum)]
    pub key_backend: Option<KeyBackend>,
    /// The key's id: an AWS KMS key id or ARN, a GCP KMS key resource name, or an Azure Key
    /// Vault key URL (with a KMS key backend).
    #[arg(long, value_name = "ID")]
    pub key_id: Option<String>,
    /// Run Prometheus and Grafana (the `monitoring` Compose profile) [default: off].
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    pub monitoring: Option<bool>,
    /// Run Jaeger and export traces (the `tracing` Compose profile) [default: off].
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    pub tracing: Option<bool>,
    /// The port peers connect to over BTP [default: 3000].
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub btp_port: Option<u16>,
    /// The data plane's health and metrics port [default: 8080].
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub health_port: Option<u16>,
    /// [default: info]
    #[arg(long, value_enum)]
    pub log_level: Option<LogLevel>,
    /// Discovery servers: comma-separated http(s) URLs; empty for none [default: none].
    #[arg(long, value_name = "URLS")]
    pub discovery_endpoints: Option<String>,
    /// Where to write the file [default: ./.env].
    #[arg(long, value_name = "PATH", value_parser = clap::builder::PathBufValueParser::new().map(OutputOption::Path))]
    pub output: Option<OutputOption>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Never ask: use the flags and the defaults (also the case when stdin is not a terminal).
    #[arg(long)]
    pub non_interactive: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    Evm,
    Xrp,
    Both,
}

impl Settlement {
    pub fn as_str(self) -> &'static str {
        match self {
            Settlement::Evm => "evm",
            Settlement::Xrp => "xrp",
            Settlement::Both => "both",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyBackend {
    /// A key in an environment variable: development only.
    Env,
    AwsKms,
    GcpKms,
    AzureKv,
}

impl KeyBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyBackend::Env => "env",
            KeyBackend::AwsKms => "aws-kms",
            KeyBackend::GcpKms => "gcp-kms",
            KeyBackend::AzureKv => "azure-kv",
        }
    }

    /// What the key id is called for this backend.
    fn key_id_name(self) -> &'static str {
        match self {
            KeyBackend::Env => "key id",
            KeyBackend::AwsKms => "AWS KMS key id or ARN",
            KeyBackend::GcpKms => "GCP KMS key resource name",
            KeyBackend::AzureKv => "Azure Key Vault key URL",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

pub const ENV_KEY_WARNING: &str = "warning: the env key backend keeps the node's signing key in \
                                   an environment variable; use it for development only";

/// Said when a KMS backend is chosen: the services read `KEY_BACKEND` and refuse to start with
/// one they cannot use, so the operator hears it here first.
pub const KMS_KEY_WARNING: &str = "warning: this build's services support only the env key \
                                   backend; with a KMS backend they refuse to start until a \
                                   release supports it";

/// What an operator must know about the chosen key backend.
pub fn key_backend_warning(backend: KeyBackend) -> &'static str {
    match backend {
        KeyBackend::Env => ENV_KEY_WARNING,
        _ => KMS_KEY_WARNING,
    }
}

/// Everything the file is written from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    pub node_id: String,
    pub ilp_address: String,
    pub settlement: Settlement,
    pub evm_address: Option<String>,
    pub xrp_address: Option<String>,
    pub key_backend: KeyBackend,
    pub key_id: Option<String>,
    pub monitoring: bool,
    pub tracing: bool,
    pub btp_port: u16,
    pub health_port: u16,
    pub log_level: LogLevel,
    pub discovery_endpoints: Vec<String>,
}

impl Answers {
    pub fn compose_profiles(&self) -> Vec<&'static str> {
        let mut profiles = Vec::new();
        if self.monitoring {
            profiles.push("monitoring");
        }
        if self.tracing {
            profiles.push("tracing");
        }
        profiles
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Write(#[from] env_file::WriteError),
    #[error("asking: {0}")]
    Prompt(String),
    #[error("printing the summary: {0}")]
    Output(#[from] std::io::Error),
}

impl SetupError {
    pub fn exit_code(&self) -> u8 {
        match self {
            SetupError::Usage(_) => exit_code::USAGE,
            SetupError::Write(env_file::WriteError::Exists(_)) => EXISTS,
            SetupError::Write(_) | SetupError::Prompt(_) | SetupError::Output(_) => {
                exit_code::OTHER
            }
        }
    }
}

fn usage(flag: &str, value: &str, problem: impl std::fmt::Display) -> SetupError {
    SetupError::Usage(UsageError(format!("--{flag} {value:?}: {problem}")))
}

pub fn run(args: Args) -> Result<(), SetupError> {
    let path = match &args.output {
        None => PathBuf::from(".env"),
        Some(OutputOption::Path(path)) => path.clone(),
        Some(OutputOption::Format(_)) => {
            return Err(UsageError(
                "ctl setup prints no data, so it takes no output format (-o); its --output is the \
                 path of the .env file"
                    .into(),
            )
            .into());
        }
    };
    // Before any question: nobody should answer everything to then hear the file exists.
    if !args.force && std::fs::symlink_metadata(&path).is_ok() {
        return Err(env_file::WriteError::Exists(path).into());
    }
    check_flags(&args)?;
    let interactive =
        !args.non_interactive && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let answers = if interactive {
        prompt::ask(&args)?
    } else {
        from_flags(&args)?
    };
    let generated = env_file::Generated {
        api_token: env_file::hex_random(32),
        grafana_admin_password: answers.monitoring.then(|| env_file::hex_random(16)),
    };
    let absolute = env_file::absolute(&path).map_err(|source| env_file::WriteError::Io {
        path: path.clone(),
        source,
    })?;
    env_file::write(
        &path,
        &env_file::render(&answers, &generated, &absolute),
        args.force,
    )?;
    output::emit(&summary(&answers, &path))?;
    // Interactive runs showed these when the backend was chosen.
    if !interactive {
        output::note(key_backend_warning(answers.key_backend));
    }
    Ok(())
}

/// Every flag that was given, checked, so that a bad one fails before any question.
fn check_flags(args: &Args) -> Result<(), SetupError> {
    if let Some(id) = &args.node_id {
        rules::node_id(id).map_err(|p| usage("node-id", id, p))?;
    }
    if let Some(address) = &args.ilp_address {
        rules::ilp_address(address).map_err(|p| usage("ilp-address", address, p))?;
    }
    if let Some(address) = &args.evm_address {
        rules::evm_address(address).map_err(|p| usage("evm-address", address, p))?;
    }
    if let Some(address) = &args.xrp_address {
        rules::xrp_address(address).map_err(|p| usage("xrp-address", address, p))?;
    }
    if let Some(id) = &args.key_id {
        rules::key_id(id).map_err(|p| usage("key-id", id, p))?;
    }
    if let Some(endpoints) = &args.discovery_endpoints {
        rules::discovery_endpoints(endpoints)
            .map_err(|p| usage("discovery-endpoints", endpoints, p))?;
    }
    match (args.settlement, &args.evm_address, &args.xrp_address) {
        (Some(Settlement::Xrp), Some(address), _) => {
            return Err(usage(
                "evm-address",
                address,
                "only used with --settlement evm or both",
            ));
        }
        (Some(Settlement::Evm), _, Some(address)) => {
            return Err(usage(
                "xrp-address",
                address,
                "only used with --settlement xrp or both",
            ));
        }
        _ => {}
    }
    if let (Some(KeyBackend::Env), Some(id)) = (args.key_backend, &args.key_id) {
        return Err(usage("key-id", id, "only used with a KMS --key-backend"));
    }
    if let (Some(btp), Some(health)) = (args.btp_port, args.health_port)
        && btp == health
    {
        return Err(usage(
            "health-port",
            &health.to_string(),
            "must differ from --btp-port",
        ));
    }
    Ok(())
}

pub fn default_node_id() -> String {
    format!("node-{}", env_file::hex_random(4))
}

/// The settlement the addresses given imply, when --settlement is not.
fn implied_settlement(args: &Args) -> Settlement {
    match (&args.evm_address, &args.xrp_address) {
        (Some(_), Some(_)) => Settlement::Both,
        (None, Some(_)) => Settlement::Xrp,
        _ => Settlement::Evm,
    }
}

/// Non-interactive: flags (already checked) and defaults; a required answer that is missing is
/// a usage error naming its flag.
fn from_flags(args: &Args) -> Result<Answers, SetupError> {
    let missing = |flag: &str, why: &str| {
        SetupError::Usage(UsageError(format!("--{flag} is required {why}")))
    };
    let node_id = args.node_id.clone().unwrap_or_else(default_node_id);
    let ilp_address = match &args.ilp_address {
        Some(address) => address.clone(),
        None => {
            let address = format!("g.{node_id}");
            rules::ilp_address(&address).map_err(|p| {
                usage(
                    "node-id",
                    &node_id,
                    format!("g.<node id> is {p}; give --ilp-address"),
                )
            })?;
            address
        }
    };
    let settlement = args.settlement.unwrap_or_else(|| implied_settlement(args));
    let evm_address = match settlement {
        Settlement::Evm | Settlement::Both => Some(args.evm_address.clone().ok_or_else(|| {
            missing(
                "evm-address",
                &format!("with --settlement {}", settlement.as_str()),
            )
        })?),
        Settlement::Xrp => None,
    };
    let xrp_address = match settlement {
        Settlement::Xrp | Settlement::Both => Some(args.xrp_address.clone().ok_or_else(|| {
            missing(
                "xrp-address",
                &format!("with --settlement {}", settlement.as_str()),
            )
        })?),
        Settlement::Evm => None,
    };
    let key_backend = args.key_backend.unwrap_or(KeyBackend::Env);
    let key_id = match key_backend {
        KeyBackend::Env => None,
        backend => Some(args.key_id.clone().ok_or_else(|| {
            missing(
                "key-id",
                &format!(
                    "with --key-backend {} (the {})",
                    backend.as_str(),
                    backend.key_id_name()
                ),
            )
        })?),
    };
    let btp_port = args.btp_port.unwrap_or(3000);
    let health_port = args.health_port.unwrap_or(8080);
    if btp_port == health_port {
        return Err(usage(
            "health-port",
            &health_port.to_string(),
            "must differ from --btp-port",
        ));
    }
    Ok(Answers {
        node_id,
        ilp_address,
        settlement,
        evm_address,
        xrp_address,
        key_backend,
        key_id,
        monitoring: args.monitoring.unwrap_or(false),
        tracing: args.tracing.unwrap_or(false),
        btp_port,
        health_port,
        log_level: args.log_level.unwrap_or(LogLevel::Info),
        discovery_endpoints: match &args.discovery_endpoints {
            Some(text) => rules::discovery_endpoints(text)
                .map_err(|p| usage("discovery-endpoints", text, p))?,
            None => Vec::new(),
        },
    })
}

/// What was written and what to do next. The token is never shown.
fn summary(answers: &Answers, path: &std::path::Path) -> String {
    let none = |v: String| if v.is_empty() { "-".to_string() } else { v };
    let mut rows = vec![
        ("NODE_ID", answers.node_id.clone()),
        ("ILP_ADDRESS", answers.ilp_address.clone()),
        ("SETTLEMENT", answers.settlement.as_str().to_string()),
    ];
    if let Some(address) = &answers.evm_address {
        rows.push(("SETTLEMENT_EVM_ADDRESS", address.clone()));
    }
    if let Some(address) = &answers.xrp_address {
        rows.push(("SETTLEMENT_XRP_ADDRESS", address.clone()));
    }
    rows.push(("KEY_BACKEND", answers.key_backend.as_str().to_string()));
    if let Some(id) = &answers.key_id {
        rows.push(("KEY_ID", id.clone()));
    }
    rows.extend([
        ("BTP_PORT", answers.btp_port.to_string()),
        ("HEALTH_PORT", answers.health_port.to_string()),
        ("LOG_LEVEL", answers.log_level.as_str().to_string()),
        (
            "PEER_DISCOVERY_ENDPOINTS",
            none(answers.discovery_endpoints.join(",")),
        ),
        (
            "COMPOSE_PROFILES",
            none(answers.compose_profiles().join(",")),
        ),
        (
            "API_TOKEN",
            "(generated; only in the file, never printed)".to_string(),
        ),
    ]);
    let table = output::table(
        &["VARIABLE", "VALUE"],
        rows.into_iter()
            .map(|(name, value)| vec![name.to_string(), value])
            .collect(),
    );
    let stack = if answers.monitoring || answers.tracing {
        "deploy/stack"
    } else {
        "deploy/single-node"
    };
    let env = path.display();
    format!(
        "Wrote {env} (mode 0600; it holds the API token, keep it private).\n\n{table}\n\
         Next steps:\n\
         \x20 1. Declare the node's peers and routes in the control plane's CONFIG_FILE (the YAML\n\
         \x20    under {stack}/config/).\n\
         \x20 2. docker-compose --env-file {env} -f {stack}/docker-compose.yml up -d\n\
         \x20 3. ctl health   # once the containers are up\n"
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: Args,
    }

    fn args(flags: &[&str]) -> Args {
        let mut argv = vec!["setup"];
        argv.extend_from_slice(flags);
        match Wrapper::try_parse_from(argv) {
            Ok(w) => w.args,
            Err(e) => panic!("{e}"),
        }
    }

    const EVM: &str = "0x52908400098527886E0F7030069857D2E4169EE7";
    const XRP: &str = "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh";

    #[test]
    fn defaults_fill_everything_but_the_settlement_address() {
        let answers = from_flags(&args(&["--evm-address", EVM])).unwrap_or_else(|e| panic!("{e}"));
        assert!(answers.node_id.starts_with("node-") && answers.node_id.len() == 13);
        assert_eq!(answers.ilp_address, format!("g.{}", answers.node_id));
        assert_eq!(answers.settlement, Settlement::Evm);
        assert_eq!(answers.key_backend, KeyBackend::Env);
        assert_eq!((answers.btp_port, answers.health_port), (3000, 8080));
        assert_eq!(answers.log_level, LogLevel::Info);
        assert!(answers.compose_profiles().is_empty());

        let missing = from_flags(&args(&[])).err().map(|e| e.to_string());
        assert_eq!(
            missing.as_deref(),
            Some("--evm-address is required with --settlement evm")
        );
        let both = from_flags(&args(&["--evm-address", EVM, "--xrp-address", XRP]));
        assert_eq!(both.map(|a| a.settlement).ok(), Some(Settlement::Both));
    }

    #[test]
    fn contradictory_flags_are_usage_errors() {
        for flags in [
            &["--settlement", "xrp", "--evm-address", EVM][..],
            &["--settlement", "evm", "--xrp-address", XRP],
            &["--key-backend", "env", "--key-id", "k"],
            &["--btp-port", "8080", "--health-port", "8080"],
            &["--evm-address", "0x1234"],
        ] {
            let error = check_flags(&args(flags)).err();
            assert_eq!(
                error.as_ref().map(SetupError::exit_code),
                Some(exit_code::USAGE),
                "{flags:?}"
            );
        }
        let kms = from_flags(&args(&["--evm-address", EVM, "--key-backend", "aws-kms"]));
        assert!(
            kms.err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .starts_with("--key-id is required with --key-backend aws-kms")
        );
    }

    #[test]
    fn the_file_has_every_contract_variable_and_only_the_relevant_ones() {
        let answers = from_flags(&args(&[
            "--node-id",
            "east",
            "--settlement",
            "both",
            "--evm-address",
            EVM,
            "--xrp-address",
            XRP,
            "--key-backend",
            "gcp-kms",
            "--key-id",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k",
            "--monitoring",
            "on",
            "--tracing",
            "off",
            "--discovery-endpoints",
            "http://d1:8090,https://d2",
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let generated = env_file::Generated {
            api_token: "ab".repeat(32),
            grafana_admin_password: Some("cd".repeat(16)),
        };
        let text = env_file::render(&answers, &generated, std::path::Path::new("/x/.env"));
        let variables: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .collect();
        assert_eq!(
            variables,
            [
                "NODE_ID",
                "ILP_ADDRESS",
                "SETTLEMENT",
                "SETTLEMENT_EVM_ADDRESS",
                "SETTLEMENT_XRP_ADDRESS",
                "KEY_BACKEND",
                "KEY_ID",
                "BTP_PORT",
                "HEALTH_PORT",
                "LOG_LEVEL",
                "PEER_DISCOVERY_ENDPOINTS",
                "COMPOSE_PROFILES",
                "API_TOKEN",
                "GRAFANA_ADMIN_PASSWORD",
                "ENV_FILE"
            ]
        );
        assert!(text.contains("\nILP_ADDRESS=g.east\n"), "{text}");
        assert!(text.contains("\nCOMPOSE_PROFILES=monitoring\n"), "{text}");
        assert!(text.contains("\nPEER_DISCOVERY_ENDPOINTS=http://d1:8090,https://d2\n"));

        assert!(text.contains("\nENV_FILE=/x/.env\n"), "{text}");
        assert!(
            !text.contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
            "tracing is off: {text}"
        );
        let summary = summary(&answers, std::path::Path::new("/x/.env"));
        assert!(!summary.contains(&"ab".repeat(32)), "{summary}");
        assert!(!summary.contains(&"cd".repeat(16)), "{summary}");
        assert!(
            summary.contains("deploy/stack/docker-compose.yml"),
            "{summary}"
        );
    }
}
