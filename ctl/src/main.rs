//! `ctl`: the operator's command line. Wiring only.
//!
//! `ctl localnet` runs a local network; the other commands are the control plane's gRPC
//! client (peers, routes, status, watch).

mod client;
mod commands;
mod exit_code;
mod http;
mod localnet;
mod output;
mod views;

use std::process::ExitCode;

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
    /// Output format: data goes to stdout, errors and notes to stderr.
    #[arg(
        short,
        long,
        global = true,
        value_enum,
        default_value_t = output::Format::Table
    )]
    output: output::Format,
    #[command(flatten)]
    connection: client::ConnectionArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Start a local network of nodes in a line on this machine, send a test payment through
    /// it, print every node's endpoints, and run until Ctrl-C.
    Localnet(localnet::Args),
    #[command(flatten)]
    ControlPlane(commands::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ctl: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Localnet(args) => runtime.block_on(localnet::run(args)),
        Command::ControlPlane(command) => {
            runtime.block_on(commands::run(command, &cli.connection, cli.output))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", output::error_text(cli.output, &error));
            exit_code::exit_code(&error)
        }
    }
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
        assert_eq!(cli.output, output::Format::Json);
        assert_eq!(cli.connection.server, "http://cp:1");
        assert_eq!(cli.connection.timeout, 3);
    }
}
