//! `ctl`: the operator's command line. Wiring only.
//!
//! `ctl localnet` runs a local network, `ctl setup` writes a node's `.env`, `ctl health` checks
//! a node's health endpoints; the other commands are the control plane's gRPC client (peers,
//! routes, status, watch).

mod client;
mod commands;
mod exit_code;
mod health;
mod localnet;
mod output;
mod setup;
mod views;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::{EnumValueParser, TypedValueParser};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "Operate ILP connector nodes",
    after_help = exit_code::HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Output format: data goes to stdout, errors and notes to stderr [default: table].
    #[arg(
        short,
        long,
        global = true,
        value_name = "FORMAT",
        value_parser = EnumValueParser::<output::Format>::new().map(OutputOption::Format)
    )]
    output: Option<OutputOption>,
    #[command(flatten)]
    connection: client::ConnectionArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Start a local network of nodes in a line on this machine, send a test payment through
    /// it, print every node's endpoints, and run until Ctrl-C.
    Localnet(localnet::Args),
    /// Write a node's .env for the Compose files in deploy/, asking for each setting.
    ///
    /// Node id, ILP address, settlement addresses, key backend, monitoring and tracing, ports,
    /// log level and discovery servers; a fresh API token is generated into the file (mode
    /// 0600) and never printed. Each question has a flag; with --non-interactive, or when
    /// stdin is not a terminal, only flags and defaults are used.
    #[command(after_help = setup::HELP)]
    Setup(setup::Args),
    /// Check a node's health endpoints and print what they say.
    ///
    /// The data plane's /health/live, /health/ready and /health, and the control plane's
    /// /health: each one's state, HTTP status, readiness, links up, and configuration version.
    #[command(after_help = health::HELP)]
    Health(health::Args),
    #[command(flatten)]
    ControlPlane(commands::Command),
}

/// The value of `--output`. `ctl setup` has its own `--output` (the path of the file it
/// writes); clap lets a subcommand keep its own argument of the same id instead of the global
/// one, but still copies values between the two, so both must be of this one type, and each
/// side reads only its own variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputOption {
    Format(output::Format),
    Path(PathBuf),
}

impl Cli {
    fn format(&self) -> output::Format {
        match self.output {
            Some(OutputOption::Format(format)) => format,
            _ => output::Format::Table,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.format();
    let result = match cli.command {
        // Setup and health need no async runtime, and have exit codes of their own.
        Command::Setup(args) => {
            return match setup::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    let code = error.exit_code();
                    let error = anyhow::Error::new(error);
                    eprintln!("{}", output::error_text(output::Format::Table, &error));
                    ExitCode::from(code)
                }
            };
        }
        Command::Health(args) => {
            let timeout = Duration::from_secs(cli.connection.timeout);
            health::run(&args, format, timeout).map(ExitCode::from)
        }
        Command::Localnet(args) => block_on(localnet::run(args)),
        Command::ControlPlane(command) => block_on(commands::run(command, &cli.connection, format)),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{}", output::error_text(format, &error));
            exit_code::exit_code(&error)
        }
    }
}

fn block_on(
    work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(work)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "ctl",
            "peers",
            "list",
            "-o",
            "json",
            "--server",
            "http://cp:1",
            "--timeout",
            "3",
        ]);
        let Ok(cli) = cli else {
            panic!("did not parse");
        };
        assert_eq!(cli.format(), output::Format::Json);
        assert_eq!(cli.connection.server, "http://cp:1");
        assert_eq!(cli.connection.timeout, 3);
    }

    #[test]
    fn setup_keeps_its_own_output_path_and_refuses_a_format() {
        let Ok(cli) = Cli::try_parse_from(["ctl", "setup", "--output", "/tmp/x.env"]) else {
            panic!("did not parse");
        };
        let Command::Setup(args) = cli.command else {
            panic!("not setup");
        };
        assert_eq!(
            args.output,
            Some(OutputOption::Path(PathBuf::from("/tmp/x.env")))
        );

        // A format given before the subcommand reaches setup as a format, which it refuses.
        let Ok(cli) = Cli::try_parse_from(["ctl", "-o", "json", "setup"]) else {
            panic!("did not parse");
        };
        let Command::Setup(args) = cli.command else {
            panic!("not setup");
        };
        assert_eq!(
            args.output,
            Some(OutputOption::Format(output::Format::Json))
        );
        assert!(Cli::try_parse_from(["ctl", "setup", "-o", "json"]).is_err());
        assert!(Cli::try_parse_from(["ctl", "peers", "list", "-o", "xml"]).is_err());
        let Ok(cli) = Cli::try_parse_from(["ctl", "health", "-o", "json"]) else {
            panic!("did not parse");
        };
        assert_eq!(cli.format(), output::Format::Json);
    }
}
