//! `ctl status` and `ctl watch`: the NodeService calls.

use proto::grpc::v1 as api;

use super::Context;
use crate::output;
use crate::views;

pub async fn status(context: &Context) -> anyhow::Result<()> {
    let connection = &context.connection;
    let request = connection.request(api::GetStatusRequest {});
    let status = connection
        .call(connection.node().get_status(request))
        .await?;
    context.print(&output::show(
        context.format,
        &views::NodeStatus::from(status),
    )?)
}

/// `ctl balances`: the balances rows of the status, one per data plane and peer.
pub async fn balances(context: &Context, peer: Option<&str>) -> anyhow::Result<()> {
    let connection = &context.connection;
    let request = connection.request(api::GetStatusRequest {});
    let status = connection
        .call(connection.node().get_status(request))
        .await?;
    let rows = views::BalanceRow::from_status(&views::NodeStatus::from(status), peer);
    context.print(&output::list(context.format, &rows)?)
}

/// `ctl discovery list`: what discovery knows and whether each node is peered.
pub async fn discovered(context: &Context) -> anyhow::Result<()> {
    let connection = &context.connection;
    let request = connection.request(api::ListDiscoveredNodesRequest {});
    let response = connection
        .call(connection.node().list_discovered_nodes(request))
        .await?;
    let nodes: Vec<views::DiscoveredNode> = response.nodes.into_iter().map(Into::into).collect();
    context.print(&output::list(context.format, &nodes)?)
}

/// Runs until the stream ends or Ctrl-C; both are a normal end (exit 0). The deadline covers
/// only opening the stream: a quiet stream is not a failure.
pub async fn watch(context: &Context) -> anyhow::Result<()> {
    tokio::select! {
        result = follow(context) => result,
        // If the handler cannot be installed, the default SIGINT behaviour still stops us.
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

async fn follow(context: &Context) -> anyhow::Result<()> {
    let connection = &context.connection;
    // No `connection.request(…)`: its grpc-timeout would make the server end the stream.
    let mut stream = connection
        .call(connection.node().watch(api::WatchRequest {}))
        .await?;
    while let Some(event) = stream
        .message()
        .await
        .map_err(|status| connection.explain(status))?
    {
        let line = output::event(context.format, &views::WatchEvent::from(event))?;
        if !output::emit(&line)? {
            return Ok(());
        }
    }
    output::note("watch: the server ended the stream");
    Ok(())
}
