//! The questions, on the terminal (rendered on stderr, so stdout stays for the summary).
//! An invalid answer is refused with its rule and asked again.

use dialoguer::console::Term;
use dialoguer::theme::SimpleTheme;
use dialoguer::{Confirm, Input, Select};

use super::{
    Answers, Args, KeyBackend, LogLevel, Settlement, SetupError, default_node_id,
    implied_settlement, key_backend_warning, rules,
};

fn failed(error: dialoguer::Error) -> SetupError {
    SetupError::Prompt(error.to_string())
}

struct Asker {
    term: Term,
    theme: SimpleTheme,
}

impl Asker {
    /// A line of text, re-asked until `check` accepts it.
    fn text(
        &self,
        prompt: &str,
        default: Option<String>,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Result<String, SetupError> {
        let mut input = Input::<String>::with_theme(&self.theme)
            .with_prompt(prompt)
            .validate_with(move |text: &String| check(text.trim()));
        input = match default {
            Some(default) => input.default(default),
            None => input,
        };
        input
            .interact_text_on(&self.term)
            .map(|text| text.trim().to_string())
            .map_err(failed)
    }

    fn optional_text(
        &self,
        prompt: &str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Result<String, SetupError> {
        Input::<String>::with_theme(&self.theme)
            .with_prompt(prompt)
            .allow_empty(true)
            .validate_with(move |text: &String| check(text.trim()))
            .interact_text_on(&self.term)
            .map(|text| text.trim().to_string())
            .map_err(failed)
    }

    fn choose(&self, prompt: &str, items: &[&str], default: usize) -> Result<usize, SetupError> {
        Select::with_theme(&self.theme)
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact_on(&self.term)
            .map_err(failed)
    }

    fn confirm(&self, prompt: &str) -> Result<bool, SetupError> {
        // Waiting for Enter, so a typed-ahead newline cannot answer the next question.
        Confirm::with_theme(&self.theme)
            .with_prompt(prompt)
            .default(false)
            .wait_for_newline(true)
            .interact_on(&self.term)
            .map_err(failed)
    }

    /// A port that must differ from `other` (the other port, and what it is called).
    fn port(
        &self,
        prompt: &str,
        default: u16,
        other: (Option<u16>, &str),
    ) -> Result<u16, SetupError> {
        let text = self.text(prompt, Some(default.to_string()), |text| {
            let port = rules::port(text)?;
            if Some(port) == other.0 {
                return Err(format!("{port} is already the {}", other.1));
            }
            Ok(())
        })?;
        rules::port(&text).map_err(|p| SetupError::Prompt(p.to_string()))
    }
}

/// Asks every question whose flag was not given (flags are already checked).
pub fn ask(args: &Args) -> Result<Answers, SetupError> {
    let asker = Asker {
        term: Term::stderr(),
        theme: SimpleTheme,
    };
    let node_id = match &args.node_id {
        Some(id) => id.clone(),
        None => asker.text("Node id", Some(default_node_id()), rules::node_id)?,
    };
    let ilp_address = match &args.ilp_address {
        Some(address) => address.clone(),
        None => asker.text(
            "ILP address",
            Some(format!("g.{node_id}")),
            rules::ilp_address,
        )?,
    };
    let settlement = match args.settlement {
        Some(settlement) => settlement,
        None => {
            let choices = [Settlement::Evm, Settlement::Xrp, Settlement::Both];
            let default = choices
                .iter()
                .position(|s| *s == implied_settlement(args))
                .unwrap_or(0);
            let names: Vec<&str> = choices.iter().map(|s| s.as_str()).collect();
            choices[asker.choose("Settlement", &names, default)?]
        }
    };
    let evm_address = match settlement {
        Settlement::Xrp => None,
        Settlement::Evm | Settlement::Both => Some(match &args.evm_address {
            Some(address) => address.clone(),
            None => asker.text("EVM settlement address", None, rules::evm_address)?,
        }),
    };
    let xrp_address = match settlement {
        Settlement::Evm => None,
        Settlement::Xrp | Settlement::Both => Some(match &args.xrp_address {
            Some(address) => address.clone(),
            None => asker.text("XRP settlement address", None, rules::xrp_address)?,
        }),
    };
    let key_backend = match args.key_backend {
        Some(backend) => backend,
        None => {
            let choices = [
                KeyBackend::Env,
                KeyBackend::AwsKms,
                KeyBackend::GcpKms,
                KeyBackend::AzureKv,
            ];
            let names = ["env (development only)", "aws-kms", "gcp-kms", "azure-kv"];
            choices[asker.choose("Key backend", &names, 0)?]
        }
    };
    let _ = asker.term.write_line(key_backend_warning(key_backend));
    let key_id = match key_backend {
        KeyBackend::Env => None,
        backend => Some(match &args.key_id {
            Some(id) => id.clone(),
            None => asker.text(backend.key_id_name(), None, rules::key_id)?,
        }),
    };
    let monitoring = match args.monitoring {
        Some(on) => on,
        None => asker.confirm("Enable monitoring (Prometheus, Grafana)?")?,
    };
    let tracing = match args.tracing {
        Some(on) => on,
        None => asker.confirm("Enable tracing (Jaeger)?")?,
    };
    let btp_port = match args.btp_port {
        Some(port) => port,
        None => asker.port("BTP port", 3000, (args.health_port, "health port"))?,
    };
    let health_port = match args.health_port {
        Some(port) => port,
        None => asker.port("Health port", 8080, (Some(btp_port), "BTP port"))?,
    };
    let log_level = match args.log_level {
        Some(level) => level,
        None => {
            let choices = [
                LogLevel::Trace,
                LogLevel::Debug,
                LogLevel::Info,
                LogLevel::Warn,
                LogLevel::Error,
            ];
            let names: Vec<&str> = choices.iter().map(|l| l.as_str()).collect();
            choices[asker.choose("Log level", &names, 2)?]
        }
    };
    let discovery_endpoints = match &args.discovery_endpoints {
        Some(text) => rules::discovery_endpoints(text).map_err(SetupError::Prompt)?,
        None => {
            let text = asker.optional_text(
                "Discovery endpoints (comma-separated http(s) URLs, empty for none)",
                |text| rules::discovery_endpoints(text).map(|_| ()),
            )?;
            rules::discovery_endpoints(&text).map_err(SetupError::Prompt)?
        }
    };
    Ok(Answers {
        node_id,
        ilp_address,
        settlement,
        evm_address,
        xrp_address,
        key_backend,
        key_id,
        monitoring,
        tracing,
        btp_port,
        health_port,
        log_level,
        discovery_endpoints,
    })
}
