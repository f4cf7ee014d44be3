//! The `main` of every service binary: the `run` (default) and `healthcheck` subcommands, the
//! environment read once, exit code 2 for a bad configuration (before anything starts, or
//! when the service itself refuses it at start), 1 for any other failure, and the runtime with
//! logs and traces around the service.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use clap::{Arg, Command, value_parser};

use crate::telemetry::{Identity, run_service};

/// What differs between the binaries.
pub struct Service {
    /// The binary's name: the prefix of its stderr lines and its default `service.name`.
    pub name: &'static str,
    pub version: &'static str,
    /// `--help` text: what it is and which variables configure it.
    pub about: &'static str,
    /// The variable that holds the port `healthcheck` probes, and its default.
    pub health_port_env: &'static str,
    pub health_port: u16,
    /// The path `healthcheck` probes by default.
    pub health_path: &'static str,
    /// The log event of a failed run.
    pub failed_event: &'static str,
}

/// A service's failure at run time; `is_config` makes it exit 2 like a configuration that
/// could not even be read.
pub trait Failure: Display {
    fn is_config(&self) -> bool {
        false
    }
}

/// Parses the command line and does what it asks. `load` reads the settings from the
/// environment (its error is printed after "invalid configuration: "), `identity` says who
/// the service is for logs and traces, and `run` serves until the shutdown signal it is given.
pub fn main<S, E, F>(
    service: &Service,
    load: impl FnOnce(&BTreeMap<String, String>) -> Result<S, String>,
    identity: impl FnOnce(&S) -> Identity,
    run: impl FnOnce(S, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> F,
) -> ExitCode
where
    F: Future<Output = Result<(), E>>,
    E: Failure,
{
    let matches = command(service).get_matches();
    if let Some(("healthcheck", args)) = matches.subcommand() {
        let (host, port, path) = probe_target(service, args);
        return crate::healthcheck::command(service.name, &host, port, &path);
    }
    let env = environment();
    let settings = match load(&env) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{}: invalid configuration: {error}", service.name);
            return ExitCode::from(2);
        }
    };
    let identity = identity(&settings);
    let served = run_service(&identity, async {
        // The handlers are registered before the service starts: a SIGTERM sent as soon as
        // start-up is visible stops it gracefully instead of killing it.
        let shutdown = crate::shutdown_signal();
        run(settings, Box::pin(shutdown)).await
    });
    match served {
        Err(error) => {
            eprintln!("{}: cannot start the async runtime: {error}", service.name);
            ExitCode::FAILURE
        }
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            tracing::error!(error = %error, "{}", service.failed_event);
            eprintln!("{}: {error}", service.name);
            if error.is_config() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn command(service: &Service) -> Command {
    Command::new(service.name)
        .version(service.version)
        .about(service.about)
        .subcommand(Command::new("run").about(format!("Run the {} (the default)", service.name)))
        .subcommand(
            Command::new("healthcheck")
                .about(
                    "Probe the running service's health endpoint; exit 0 if it answers 200, else 1",
                )
                .arg(
                    Arg::new("port")
                        .long("port")
                        .env(service.health_port_env)
                        .help(format!("Port to probe [default: {}]", service.health_port))
                        .value_parser(value_parser!(u16)),
                )
                .arg(Arg::new("host").long("host").default_value("127.0.0.1"))
                .arg(
                    Arg::new("path")
                        .long("path")
                        .default_value(service.health_path),
                ),
        )
}

/// Where `healthcheck` probes: the flags, else the service's defaults.
fn probe_target(service: &Service, args: &clap::ArgMatches) -> (String, u16, String) {
    let port = args.get_one::<u16>("port").copied();
    let text = |name: &str| args.get_one::<String>(name).cloned();
    (
        text("host").unwrap_or_else(|| "127.0.0.1".into()),
        port.unwrap_or(service.health_port),
        text("path").unwrap_or_else(|| service.health_path.into()),
    )
}

/// The environment, less variables whose name or value is not UTF-8 (none of ours are).
fn environment() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: Service = Service {
        name: "svc",
        version: "1.2.3",
        about: "A service.",
        health_port_env: "SVC_TEST_HEALTH_PORT_UNSET",
        health_port: 8123,
        health_path: "/health",
        failed_event: "svc_failed",
    };

    #[test]
    fn the_command_line_has_run_and_healthcheck_with_defaults() {
        let matches = command(&SERVICE)
            .try_get_matches_from(["svc", "healthcheck"])
            .unwrap();
        let Some(("healthcheck", args)) = matches.subcommand() else {
            panic!("no healthcheck");
        };
        assert_eq!(
            probe_target(&SERVICE, args),
            ("127.0.0.1".into(), 8123, "/health".into())
        );
        let matches = command(&SERVICE)
            .try_get_matches_from(["svc", "healthcheck", "--port", "9", "--path", "/x"])
            .unwrap();
        let Some((_, args)) = matches.subcommand() else {
            panic!("no subcommand");
        };
        assert_eq!(
            probe_target(&SERVICE, args),
            ("127.0.0.1".into(), 9, "/x".into())
        );
        assert!(
            command(&SERVICE)
                .try_get_matches_from(["svc", "run"])
                .is_ok()
        );
        assert!(command(&SERVICE).try_get_matches_from(["svc"]).is_ok());
        assert!(
            command(&SERVICE)
                .try_get_matches_from(["svc", "healthcheck", "--port", "x"])
                .is_err()
        );
        assert!(
            command(&SERVICE)
                .try_get_matches_from(["svc", "bogus"])
                .is_err()
        );
    }
}
