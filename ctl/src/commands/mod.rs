//! The control plane's commands: each one is a gRPC call (or a paginated series of them), a
//! conversion into a view, and one print.

pub mod node;
pub mod peers;
pub mod routes;

use std::collections::HashSet;
use std::future::Future;

use anyhow::bail;
use clap::Subcommand;
use tonic::Status;

use crate::client::{Connection, ConnectionArgs};
use crate::exit_code;
use crate::output::{self, Format};

/// Page size for List calls: large, so a listing is a few round trips, and within the API's
/// limit of 1000.
pub const PAGE_SIZE: i32 = 500;

#[derive(Subcommand)]
pub enum Command {
    /// Create, list, show, change and delete peers.
    ///
    /// A peer is a node this node exchanges packets with over a BTP link.
    #[command(subcommand, after_help = exit_code::HELP)]
    Peers(peers::Command),
    /// Create, list and delete routes, and explain where an address goes.
    ///
    /// A route sends every address under a prefix to one peer.
    #[command(subcommand, after_help = exit_code::HELP)]
    Routes(routes::Command),
    /// Show the configuration version, counts, and every data plane's state.
    ///
    /// The node id, the current configuration version (epoch.generation), peer and route
    /// counts; per data plane: connected, applied version, the last version it refused (NACK)
    /// and why, when it was last seen, each link's state, and balances.
    #[command(after_help = exit_code::HELP)]
    Status,
    /// What each peer owes this node (negative: what this node owes it), per data plane.
    ///
    /// As the data planes last reported it from their ledger (embedded, or TigerBeetle, the
    /// truth either way): a view with the time of the report, never edited here. `--peer`
    /// shows one peer.
    #[command(after_help = exit_code::HELP)]
    Balances {
        /// Only this peer.
        #[arg(long)]
        peer: Option<String>,
    },
    /// Print changes as they happen, one line per event.
    ///
    /// Peers and routes created, updated or deleted, link state changes, and configuration
    /// versions applied or refused by data planes, until Ctrl-C or the server ends the
    /// stream. With `-o json`, one JSON object per line; with `-o yaml`, one document per
    /// event.
    #[command(after_help = exit_code::HELP)]
    Watch,
    /// What discovery servers have told this node about other nodes.
    #[command(subcommand, after_help = exit_code::HELP)]
    Discovery(DiscoveryCommand),
}

#[derive(Subcommand)]
pub enum DiscoveryCommand {
    /// Every node discovery knows: address, endpoint, capabilities, last seen, and whether it
    /// is peered with this node.
    List,
}

/// What every command needs: where to call, and how to print.
pub struct Context {
    pub connection: Connection,
    pub format: Format,
}

impl Context {
    /// Prints data to stdout; a closed pipe ends output quietly.
    pub fn print(&self, text: &str) -> anyhow::Result<()> {
        output::emit(text)?;
        Ok(())
    }

    pub fn dry_run_note(&self, dry_run: bool) {
        if dry_run {
            output::note("dry run: nothing was changed");
        }
    }
}

pub async fn run(command: Command, args: &ConnectionArgs, format: Format) -> anyhow::Result<()> {
    let context = Context {
        connection: Connection::open(args)?,
        format,
    };
    match command {
        Command::Peers(command) => peers::run(command, &context).await,
        Command::Routes(command) => routes::run(command, &context).await,
        Command::Status => node::status(&context).await,
        Command::Balances { peer } => node::balances(&context, peer.as_deref()).await,
        Command::Discovery(DiscoveryCommand::List) => node::discovered(&context).await,
        Command::Watch => node::watch(&context).await,
    }
}

/// Calls `fetch` with each page token in turn (the first is empty) and gathers every page,
/// until the server returns an empty next token. A server that hands out a token twice would
/// loop forever, so that is an error.
pub async fn all_pages<T, Fut>(mut fetch: impl FnMut(String) -> Fut) -> anyhow::Result<Vec<T>>
where
    Fut: Future<Output = Result<(Vec<T>, String), Status>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    let mut seen = HashSet::new();
    loop {
        let (page, next) = fetch(token).await?;
        items.extend(page);
        if next.is_empty() {
            return Ok(items);
        }
        if !seen.insert(next.clone()) {
            bail!("the server sent page token {next:?} twice; stopping instead of looping");
        }
        token = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_repeated_page_token_stops_the_listing() {
        let result: anyhow::Result<Vec<u8>> =
            all_pages(|_token| async { Ok((vec![1], "same".to_string())) }).await;
        assert!(result.is_err());
    }
}
