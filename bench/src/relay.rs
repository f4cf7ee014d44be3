//! The baseline: a bare BTP-over-WebSocket relay with no ILP logic. Two clients authenticate
//! (token `sender` or `receiver`); afterwards every binary frame from one is written, verbatim,
//! to the other. What it costs is the price of one WebSocket hop plus tokio, nothing more.
//!
//! It runs as its own process (`bench serve-relay`, with a multi-thread runtime like the data
//! plane's), so that it pays the same process boundary a node does: a relay inside the bench
//! process would share the sender's and receiver's busy worker threads and skip the wake-ups
//! of a separate process, which flattered it by ~30 % at concurrency 1.

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use proto::btp::{BtpPacket, PROTOCOL_AUTH, PROTOCOL_AUTH_TOKEN};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

pub const SENDER_TOKEN: &str = "sender";
pub const RECEIVER_TOKEN: &str = "receiver";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Sender,
    Receiver,
}

/// A running relay process; killed when this is dropped.
pub struct Relay {
    pub port: u16,
    child: Child,
}

impl Relay {
    /// Starts `bench serve-relay` and waits for the port it announces.
    pub async fn start() -> Result<Relay> {
        let exe = std::env::current_exe().context("current_exe")?;
        let mut child = Command::new(exe)
            .arg("serve-relay")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawn the relay process")?;
        let stdout = child.stdout.take().context("relay stdout")?;
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await
        .context("relay reader")?
        .context("read the relay's port")?;
        let port = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["relayPort"].as_u64())
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| anyhow!("the relay announced no port: {line:?}"))?;
        Ok(Relay { port, child })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The relay process: binds, announces `{"relayPort": N}` on stdout, relays one sender and one
/// receiver until either closes.
pub async fn serve_process() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("bind relay")?;
    let port = listener.local_addr()?.port();
    println!("{}", serde_json::json!({ "relayPort": port }));
    serve(listener).await
}

type Ws = WebSocketStream<TcpStream>;

async fn serve(listener: TcpListener) -> Result<()> {
    let mut sender = None;
    let mut receiver = None;
    while sender.is_none() || receiver.is_none() {
        let (stream, _) = listener.accept().await?;
        // Same as the data plane's server: small frames in both directions.
        stream.set_nodelay(true)?;
        let (role, ws) = match handshake(stream).await {
            Ok(ok) => ok,
            Err(e) => {
                eprintln!("relay: refused a client: {e:#}");
                continue;
            }
        };
        match role {
            Role::Sender => sender = Some(ws),
            Role::Receiver => receiver = Some(ws),
        }
    }
    let (sender, receiver) = (sender.expect("sender"), receiver.expect("receiver"));
    let (sender_tx, sender_rx) = sender.split();
    let (receiver_tx, receiver_rx) = receiver.split();
    tokio::select! {
        _ = pump(sender_rx, receiver_tx) => {}
        _ = pump(receiver_rx, sender_tx) => {}
    }
    Ok(())
}

/// Forwards binary frames from `from` to `to` until either side closes. Whatever has arrived
/// is written with one flush, as the data plane's link writer does: a relay that flushed every
/// frame alone would pay a syscall per frame the node does not, and lose under load for that
/// reason only.
async fn pump(
    from: futures_util::stream::SplitStream<Ws>,
    mut to: futures_util::stream::SplitSink<Ws, Message>,
) {
    let mut batches = from.ready_chunks(256);
    while let Some(batch) = batches.next().await {
        for message in batch {
            let forwarded = match message {
                Ok(Message::Binary(frame)) => to.feed(Message::Binary(frame)).await.is_ok(),
                Ok(Message::Close(_)) | Err(_) => false,
                // Pings are answered by tungstenite itself; nothing else matters here.
                Ok(_) => true,
            };
            if !forwarded {
                return;
            }
        }
        if to.flush().await.is_err() {
            return;
        }
    }
}

/// The server side of the BTP auth handshake, just enough of it: the first binary frame must be
/// a Message whose first entry is `auth` with an `auth_token` naming the role.
async fn handshake(stream: TcpStream) -> Result<(Role, Ws)> {
    // The node's WebSocket settings, so the comparison measures ILP work, not buffer sizes.
    let config = btp_link::LinkSettings::default().websocket_config();
    let mut ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await?;
    let frame = loop {
        match ws.next().await {
            Some(Ok(Message::Binary(frame))) => break frame,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(other)) => bail!("unexpected first frame {other:?}"),
            Some(Err(e)) => return Err(e.into()),
            None => bail!("closed before authenticating"),
        }
    };
    let packet = BtpPacket::decode(frame).map_err(|e| anyhow!("undecodable auth: {e}"))?;
    let BtpPacket::Message {
        request_id,
        protocol_data,
    } = &packet
    else {
        bail!("first packet is not a BTP Message");
    };
    if protocol_data.first().map(|p| p.name.as_ref()) != Some(PROTOCOL_AUTH) {
        bail!("first protocol data entry is not auth");
    }
    let token = packet
        .find(PROTOCOL_AUTH_TOKEN)
        .ok_or_else(|| anyhow!("no auth_token"))?;
    let role = match &token.data[..] {
        b"sender" => Role::Sender,
        b"receiver" => Role::Receiver,
        _ => bail!("unknown token"),
    };
    let ok = BtpPacket::Response {
        request_id: *request_id,
        protocol_data: Vec::new(),
    };
    ws.send(Message::Binary(Bytes::from(ok.encode()))).await?;
    Ok((role, ws))
}
