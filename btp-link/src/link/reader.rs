//! The reader task: reads the peer's frames, serves its Prepares, notices a silent peer, and
//! ends the link when a peer breaks the protocol too often.

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::{FuturesUnordered, SplitStream};
use proto::btp::EntriesKind;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::frames::{Serving, ilp_frame, on_frame, send};
use super::shared::{Shared, wait_closed};
use crate::{IncomingHandler, LinkSettings, Violation};

struct ViolationCounter {
    window_start: Instant,
    count: u32,
}

pub(super) async fn read_loop<S, H>(
    mut stream: SplitStream<WebSocketStream<S>>,
    shared: Arc<Shared>,
    settings: Arc<LinkSettings>,
    handler: Arc<H>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: IncomingHandler,
{
    // One long-lived wait, polled again on every frame: a fresh `wait_for` per frame would
    // take the watch's lock and register with its notifier each time.
    let mut closed_rx = shared.closed.subscribe();
    let closed_signal = async move { wait_closed(&mut closed_rx).await };
    tokio::pin!(closed_signal);
    // Incoming Prepares are served inside this task rather than one spawned task each: no
    // cross-thread hand-off per packet, and answers finishing together are queued for the
    // writer together, so it flushes them with one write.
    let mut serving: Serving = FuturesUnordered::new();
    let mut violations = ViolationCounter {
        window_start: Instant::now(),
        count: 0,
    };
    // Idleness is sampled by one timer ticking four times per idle timeout: resetting a timer
    // (or reading the clock) per frame would cost more than the frame. A peer is declared silent
    // between one and one and a quarter idle timeouts after its last frame.
    let tick = settings.idle_timeout / 4;
    let mut frames_seen = false;
    let mut last_active = Instant::now();
    let idle = tokio::time::sleep(tick);
    tokio::pin!(idle);
    let reason = loop {
        let next = tokio::select! {
            biased;
            Some((request_id, answer)) = serving.next(), if !serving.is_empty() => {
                send(&shared, ilp_frame(EntriesKind::Response, request_id, answer, None)).await;
                continue;
            }
            next = stream.next() => next,
            () = &mut idle => {
                let now = Instant::now();
                if std::mem::take(&mut frames_seen) {
                    last_active = now;
                } else if now.duration_since(last_active) >= settings.idle_timeout {
                    break format!("peer silent for {:?}", settings.idle_timeout);
                }
                idle.as_mut().reset(now + tick);
                continue;
            }
            () = &mut closed_signal => break String::new(),
        };
        frames_seen = true;
        let message = match next {
            None => break String::from("connection closed by peer"),
            Some(Err(error)) => break format!("read failed: {error}"),
            Some(Ok(message)) => message,
        };
        let violation = match message {
            Message::Binary(frame) => {
                on_frame(frame, &shared, &settings, &handler, &mut serving).await
            }
            Message::Text(_) => Some(Violation::TextFrame),
            Message::Close(_) => break String::from("connection closed by peer"),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
        };
        if let Some(violation) = violation {
            handler.violation(violation);
            let now = Instant::now();
            if now.duration_since(violations.window_start) > settings.violation_window {
                violations = ViolationCounter {
                    window_start: now,
                    count: 0,
                };
            }
            violations.count += 1;
            if violations.count > settings.max_violations {
                break format!(
                    "protocol violation: more than {} bad frames in {:?}",
                    settings.max_violations, settings.violation_window
                );
            }
        }
    };
    if !reason.is_empty() {
        shared.finish(&reason);
    }
    // Prepares already forwarded still get their answers from downstream, and the handler
    // settles balances on them; dropping them here would forget a Fulfill we may owe for.
    if !serving.is_empty() {
        tokio::spawn(async move { while serving.next().await.is_some() {} });
    }
}
