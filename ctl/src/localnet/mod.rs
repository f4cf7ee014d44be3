//! `ctl localnet`: N nodes in a line (n1—n2—…—nN) on this machine, each a control plane (its
//! state in SQLite) and a data plane fed by it, all under one directory; a receiver behind the
//! last node and a sender in front of the first; one test payment end to end; then run until
//! Ctrl-C.
//!
//! Peers and routes are created through each control plane's gRPC API, as an operator would.
//! Link secrets are generated per run and handed to the data planes through their environment;
//! nothing on disk holds a secret except each control plane's API token file (mode 0600), which
//! `ctl` needs to talk to it.
//!
//! [`nodes`] starts and configures the line, [`payment`] sends the test payment, [`endpoints`]
//! prints where everything listens.

mod endpoints;
mod nodes;
mod payment;

use std::path::PathBuf;

use anyhow::{Context, bail};

#[derive(clap::Args)]
pub struct Args {
    /// Number of nodes in the line (at least 3).
    #[arg(long, default_value_t = 3)]
    nodes: u16,
    /// Directory for state, configuration and logs (recreated on each run).
    #[arg(long, default_value = ".localnet")]
    dir: PathBuf,
    /// BTP port of the first node; the others follow.
    #[arg(long, default_value_t = 3000)]
    btp_base_port: u16,
    /// Health/metrics port of the first node; the others follow.
    #[arg(long, default_value_t = 8080)]
    health_base_port: u16,
    /// gRPC port of the first node's control plane; the others follow.
    #[arg(long, default_value_t = 50051)]
    grpc_base_port: u16,
    /// Health/metrics port of the first node's control plane; the others follow.
    #[arg(long, default_value_t = 9080)]
    controlplane_http_base_port: u16,
    /// Directory holding the `dataplane` and `controlplane` binaries (default: next to this
    /// `ctl`, then PATH).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Start, send the test payment, print, and stop (for scripts and CI).
    #[arg(long)]
    once: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.nodes < 3 {
        bail!("--nodes must be at least 3");
    }
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)
            .with_context(|| format!("clearing {}", args.dir.display()))?;
    }
    std::fs::create_dir_all(&args.dir)?;
    let dir = args.dir.canonicalize()?;

    let line = nodes::start_line(&args, &dir).await?;
    let sent = payment::send(&line).await?;
    endpoints::print(&args, &dir, &line.nodes)?;
    endpoints::print_payment(&sent, args.nodes)?;
    if !args.once {
        println!("Running until Ctrl-C.");
        tokio::signal::ctrl_c().await?;
        println!("Stopping…");
    }
    let (receiver, sender) = &sent.peers;
    receiver.close();
    sender.close();
    drop(line);
    Ok(())
}
