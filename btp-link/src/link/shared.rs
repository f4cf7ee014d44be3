//! The state a link's handle, reader and writer share: the queue to the writer, the requests
//! awaiting an answer, and whether (and why) the link has ended.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::sync::atomic::AtomicU32;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, timeout_at};
use tokio_tungstenite::tungstenite::Message;

use crate::LinkError;

pub(super) type Reply = Result<Bytes, LinkError>;

pub(super) struct Shared {
    pub(super) out: mpsc::Sender<Message>,
    pub(super) pending:
        Mutex<HashMap<u32, oneshot::Sender<Reply>, BuildHasherDefault<RequestIdHasher>>>,
    pub(super) next_request_id: AtomicU32,
    /// `None` while the link is open; the reason it ended once it has.
    pub(super) closed: watch::Sender<Option<String>>,
}

impl Shared {
    pub(super) fn finish(&self, reason: &str) {
        let first = self.closed.send_if_modified(|state| {
            if state.is_none() {
                *state = Some(reason.to_string());
                true
            } else {
                false
            }
        });
        if first {
            let drained: Vec<_> = lock(&self.pending).drain().collect();
            for (_, tx) in drained {
                let _ = tx.send(Err(LinkError::Closed));
            }
        }
    }

    /// Queues a frame for the writer: at once when there is room (the usual case: no timer, no
    /// semaphore wait), else waiting for room, until `deadline` if there is one.
    pub(super) async fn queue(
        &self,
        frame: Bytes,
        deadline: Option<Instant>,
    ) -> Result<(), LinkError> {
        match self.out.try_send(Message::Binary(frame)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(LinkError::Closed),
            // Boxed: the waiting future is large, and every request would carry its space.
            Err(mpsc::error::TrySendError::Full(message)) => {
                Box::pin(async move {
                    let sent = self.out.send(message);
                    match deadline {
                        Some(deadline) => match timeout_at(deadline, sent).await {
                            Ok(sent) => sent.map_err(|_| LinkError::Closed),
                            Err(_) => Err(LinkError::Timeout),
                        },
                        None => sent.await.map_err(|_| LinkError::Closed),
                    }
                })
                .await
            }
        }
    }

    pub(super) fn complete(&self, request_id: u32, reply: Reply) {
        // No entry: a late or duplicate answer, which BTP says to ignore.
        if let Some(tx) = lock(&self.pending).remove(&request_id) {
            let _ = tx.send(reply);
        }
    }
}

/// Hashes the request ids of our own requests. They are ours (sequential from a random start),
/// so SipHash's protection against chosen keys buys nothing; a peer's answer can only look an
/// id up. Fibonacci multiplication spreads sequential ids over the high bits the table uses.
#[derive(Default)]
pub(super) struct RequestIdHasher(u64);

impl Hasher for RequestIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still safe to use.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Resolves once the link is marked closed. The watch guard is dropped inside, so callers'
/// futures stay `Send`.
pub(super) async fn wait_closed(closed: &mut watch::Receiver<Option<String>>) {
    let _ = closed.wait_for(Option::is_some).await.map(|_| ());
}
