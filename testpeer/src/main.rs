//! `testpeer`: send test packets into a node, or stay connected and fulfill what arrives.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use proto::Address;
use testpeer::{Options, Payment, TestPeer};

#[derive(Parser)]
#[command(
    version,
    about = "A BTP test peer: sends Prepares into a node and fulfills the ones it receives"
)]
struct Cli {
    /// BTP URL of the node to connect to.
    #[arg(
        long,
        env = "TESTPEER_URL",
        global = true,
        default_value = "ws://127.0.0.1:3000"
    )]
    url: String,
    /// The token this peer authenticates with (the node's secret for this peer).
    #[arg(
        long,
        env = "TESTPEER_TOKEN",
        global = true,
        hide_env_values = true,
        default_value = ""
    )]
    token: String,
    /// Our ILP address (used in our own Rejects).
    #[arg(
        long,
        env = "TESTPEER_ADDRESS",
        global = true,
        default_value = "private.testpeer"
    )]
    address: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send Prepares and print a JSON summary; exits 0 only if every one was fulfilled.
    Send {
        #[arg(long)]
        destination: String,
        #[arg(long, default_value_t = 1)]
        amount: u64,
        #[arg(long, default_value_t = 1)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        concurrency: u64,
        /// Data for each packet (a counter is appended so fulfillments differ).
        #[arg(long, default_value = "testpeer")]
        data: String,
        #[arg(long, default_value_t = 30_000)]
        expires_in_ms: u64,
    },
    /// Stay connected and fulfill incoming Prepares until Ctrl-C.
    Receive,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("testpeer: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("testpeer: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let address = Address::new(&cli.address).map_err(|e| anyhow::anyhow!("--address: {e}"))?;
    let peer = TestPeer::connect(&cli.url, &cli.token, Options::new(address))
        .await
        .with_context(|| format!("connecting to {}", cli.url))?;
    match cli.command {
        Command::Receive => {
            eprintln!(
                "testpeer: connected to {}; fulfilling until Ctrl-C",
                cli.url
            );
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                reason = peer.link().closed() => anyhow::bail!("link closed: {reason}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Send {
            destination,
            amount,
            count,
            concurrency,
            data,
            expires_in_ms,
        } => {
            let destination =
                Address::new(&destination).map_err(|e| anyhow::anyhow!("--destination: {e}"))?;
            let peer = Arc::new(peer);
            let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let mut workers = tokio::task::JoinSet::new();
            for _ in 0..concurrency.clamp(1, 10_000) {
                let (peer, next, destination, data) = (
                    peer.clone(),
                    next.clone(),
                    destination.clone(),
                    data.clone(),
                );
                workers.spawn(async move {
                    let mut results: BTreeMap<String, u64> = BTreeMap::new();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if index >= count {
                            return results;
                        }
                        let payment = Payment {
                            destination: destination.clone(),
                            amount,
                            data: format!("{data}-{index}").into_bytes(),
                            expires_in: Duration::from_millis(expires_in_ms),
                        };
                        let key = match peer.send(&payment).await {
                            Ok(outcome) => outcome
                                .code()
                                .map_or("fulfilled".to_string(), |c| c.to_string()),
                            Err(error) => format!("error: {error}"),
                        };
                        *results.entry(key).or_default() += 1;
                    }
                });
            }
            let mut totals: BTreeMap<String, u64> = BTreeMap::new();
            while let Some(joined) = workers.join_next().await {
                for (key, n) in joined.context("sender task failed")? {
                    *totals.entry(key).or_default() += n;
                }
            }
            let fulfilled = totals.get("fulfilled").copied().unwrap_or(0);
            println!(
                "{}",
                serde_json::json!({ "sent": count, "fulfilled": fulfilled, "results": totals })
            );
            Ok(if fulfilled == count {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
