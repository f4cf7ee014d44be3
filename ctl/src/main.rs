//! `ctl`: the operator's command line. Wiring only.
//!
//! Today it runs a local network (`ctl localnet`). The control plane's gRPC client (peers,
//! routes, status, watch) lands with the control plane.

mod http;
mod localnet;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Operate ILP connector nodes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a local network of nodes in a line on this machine, send a test payment through
    /// it, print every node's endpoints, and run until Ctrl-C.
    Localnet(localnet::Args),
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ctl: {error:#}");
            ExitCode::FAILURE
        }
    }
}
