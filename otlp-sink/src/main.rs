//! `otlp-sink`: an OTLP/gRPC trace receiver that prints every span it receives as one JSON line
//! on stdout. For tests of deployments (a stand-in for Jaeger's collector), not for production.

use std::net::SocketAddr;

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let address: SocketAddr = std::env::var("OTLP_SINK_ADDR")
        .unwrap_or_else(|_| String::from("0.0.0.0:4317"))
        .parse()
        .context("OTLP_SINK_ADDR must be host:port")?;
    let shutdown = service_runtime::shutdown_signal();
    let (bound, sink) = otlp_sink::start(address).await?;
    let mut feed = sink.subscribe();
    println!(
        "{}",
        serde_json::json!({ "message": "otlp_sink_started", "address": bound.to_string() })
    );
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            received = feed.recv() => match received {
                Ok(span) => println!("{}", serde_json::to_string(&span)?),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    eprintln!("otlp-sink: {missed} spans not printed (too many at once)");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}
