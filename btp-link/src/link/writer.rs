//! The writer task: sends what the link queues, batched into few flushes, pings the peer, and
//! says goodbye with a close frame once the link ends.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::shared::{Shared, wait_closed};
use crate::LinkSettings;

pub(super) async fn write_loop<S>(
    mut sink: SplitSink<WebSocketStream<S>, Message>,
    mut out: mpsc::Receiver<Message>,
    shared: Arc<Shared>,
    settings: Arc<LinkSettings>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut closed = shared.closed.subscribe();
    let mut ping = tokio::time::interval(settings.ping_interval);
    ping.tick().await;
    // A write that makes no progress this long means the peer stopped reading.
    let stall = settings.idle_timeout;
    let result: Result<(), String> = async {
        loop {
            tokio::select! {
                message = out.recv() => {
                    let Some(message) = message else { return Ok(()) };
                    // One deadline for the whole batch: a clock read per frame would cost more
                    // than the frame.
                    let deadline = Instant::now() + stall;
                    guarded(sink.feed(message), &mut closed, deadline).await?;
                    // Batch whatever else is queued into one flush: fewer syscalls under load.
                    // (Yielding first to let more answers queue up cost more CPU than it saved,
                    // now that a link's answers are produced by one task in bursts.)
                    while let Ok(message) = out.try_recv() {
                        guarded(sink.feed(message), &mut closed, deadline).await?;
                    }
                    guarded(sink.flush(), &mut closed, deadline).await?;
                }
                _ = ping.tick() => {
                    let deadline = Instant::now() + stall;
                    guarded(sink.send(Message::Ping(Bytes::new())), &mut closed, deadline).await?;
                }
                _ = wait_closed(&mut closed) => return Ok(()),
            }
        }
    }
    .await;
    if let Err(error) = result {
        shared.finish(&format!("write failed: {error}"));
    }
    let reason = shared.closed.borrow().clone().unwrap_or_default();
    let close = CloseFrame {
        code: if reason.starts_with("protocol violation") {
            CloseCode::Policy
        } else {
            CloseCode::Normal
        },
        reason: truncate_reason(&reason).into(),
    };
    // Best effort: the peer may already be gone.
    let _ = timeout(
        std::time::Duration::from_secs(1),
        sink.send(Message::Close(Some(close))),
    )
    .await;
}

/// One socket write, bounded. A peer that stops reading fills the socket buffers and blocks the
/// write; unbounded, that would pin the writer (and so the socket) forever, even after the link
/// is closed. Gives up as soon as the link is closed, and fails at `deadline` (one idle timeout
/// after the batch began) if the write is still stuck.
async fn guarded(
    write: impl std::future::Future<Output = Result<(), tokio_tungstenite::tungstenite::Error>>,
    closed: &mut watch::Receiver<Option<String>>,
    deadline: Instant,
) -> Result<(), String> {
    let mut write = std::pin::pin!(write);
    // Most writes only fill tungstenite's buffer and finish at once: no timer, no watch.
    if let Some(result) = futures_util::FutureExt::now_or_never(write.as_mut()) {
        return result.map_err(|e| e.to_string());
    }
    tokio::select! {
        written = timeout_at(deadline, write) => match written {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(String::from("peer stopped reading (no progress for an idle timeout)")),
        },
        // The link is already closed, so the caller's `finish` with this error changes nothing.
        _ = wait_closed(closed) => Err(String::from("link closed")),
    }
}

fn truncate_reason(reason: &str) -> String {
    // A close frame's reason must fit in 123 bytes; cut on a char boundary.
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}
