//! What `ctl localnet` prints once the line is up: where each node listens, how to reach it
//! with `ctl`, and how the test payment went.

use std::path::Path;

use anyhow::{Context, bail};

use super::Args;
use super::nodes::Node;
use super::payment::Sent;

/// The table of endpoints and a `ctl` command to try.
pub(super) fn print(args: &Args, dir: &Path, nodes: &[Node]) -> anyhow::Result<()> {
    let first = nodes.first().context("no nodes")?;
    println!(
        "Local network: {} nodes in a line, state and logs under {}",
        args.nodes,
        dir.display()
    );
    println!();
    println!(
        "{:<6} {:<24} {:<24} {:<34} metrics",
        "node", "gRPC (ctl --server)", "BTP", "health"
    );
    for node in nodes {
        let grpc = format!("http://127.0.0.1:{}", node.grpc_port);
        let btp = format!("ws://127.0.0.1:{}", node.btp_port);
        let health = format!("http://127.0.0.1:{}/health", node.health_port);
        println!(
            "{:<6} {grpc:<24} {btp:<24} {health:<34} http://127.0.0.1:{}/metrics",
            node.name, node.health_port
        );
    }
    println!(
        "Control plane health and metrics: http://127.0.0.1:{}/metrics (n1) and the next ports",
        args.controlplane_http_base_port
    );
    println!();
    println!(
        "Try: ctl --server http://127.0.0.1:{} --token \"$(cat {})\" peers list",
        first.grpc_port,
        first.token_file.display()
    );
    println!();
    Ok(())
}

/// The payment's outcome; a rejection is an error (the network does not work).
pub(super) fn print_payment(sent: &Sent, nodes: u16) -> anyhow::Result<()> {
    let (outcome, took) = &sent.result;
    match outcome {
        testpeer::Outcome::Fulfilled { .. } => {
            println!(
                "Test payment: 1000 units test.n1.sender → {} across {nodes} nodes: fulfilled in {:?}",
                sent.payment.destination, took
            );
            Ok(())
        }
        testpeer::Outcome::Rejected {
            code,
            triggered_by,
            message,
            ..
        } => bail!("test payment rejected: {code} by {triggered_by:?}: {message}"),
    }
}
