//! An authenticated BTP link: request/response correlation, the socket reader and writer tasks,
//! keepalive, and the limits that protect a node from a misbehaving peer.
//!
//! This file holds the handle ([`Link`]); the state it shares with the tasks is in `shared`, the
//! tasks in `reader` and `writer`, and the frames they send and what received ones mean in
//! `frames`.

mod frames;
mod reader;
mod shared;
mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use proto::btp::EntriesKind;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, timeout_at};
use tokio_tungstenite::WebSocketStream;

use crate::{IncomingHandler, LinkError, LinkSettings};
pub(crate) use frames::error_frame;
use frames::ilp_frame;
use reader::read_loop;
use shared::{Reply, Shared, lock};
use writer::write_loop;

/// A socket that passed the BTP auth handshake and is ready to carry ILP packets.
pub struct Authenticated<S> {
    pub(crate) ws: WebSocketStream<S>,
    pub(crate) settings: LinkSettings,
}

/// A running BTP link. Cloning is cheap; every clone talks over the same socket.
#[derive(Clone)]
pub struct Link {
    shared: Arc<Shared>,
}

impl<S> Authenticated<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Starts the reader and writer tasks. Incoming Prepares go to `handler`.
    pub fn start<H: IncomingHandler>(self, handler: Arc<H>) -> Link {
        let (out_tx, out_rx) = mpsc::channel(self.settings.send_queue.max(1));
        let (closed, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            out: out_tx,
            pending: Mutex::new(HashMap::default()),
            // Random start: request ids from a previous session of the same peer never match.
            next_request_id: AtomicU32::new(rand::random()),
            closed,
        });
        let (sink, stream) = self.ws.split();
        let settings = Arc::new(self.settings);
        tokio::spawn(write_loop(sink, out_rx, shared.clone(), settings.clone()));
        tokio::spawn(read_loop(stream, shared.clone(), settings, handler));
        Link { shared }
    }
}

impl Authenticated<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    /// Whether Nagle's algorithm is off on the underlying TCP socket (diagnostics).
    pub fn tcp_nodelay(&self) -> Option<bool> {
        match self.ws.get_ref() {
            tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.nodelay().ok(),
            _ => None,
        }
    }
}

impl Link {
    /// Sends an ILP Prepare (encoded) and waits for the Fulfill or Reject, at most until
    /// `deadline`. A late answer is dropped.
    pub async fn request(&self, prepare: Bytes, deadline: Instant) -> Reply {
        self.request_traced(prepare, deadline, None).await
    }

    /// As [`Link::request`], sending a W3C `traceparent` beside the Prepare in a
    /// [`PROTOCOL_TRACEPARENT`] protocol-data entry, after the `ilp` entry: peers that do not
    /// know the entry (or take the first entry as the packet) are unaffected.
    pub async fn request_traced(
        &self,
        prepare: Bytes,
        deadline: Instant,
        traceparent: Option<&str>,
    ) -> Reply {
        let (tx, rx) = oneshot::channel();
        let request_id = self.register(tx)?;
        let frame = ilp_frame(EntriesKind::Message, request_id, prepare, traceparent);
        if let Err(error) = self.shared.queue(frame, Some(deadline)).await {
            self.forget(request_id);
            return Err(error);
        }
        match timeout_at(deadline, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(LinkError::Closed),
            Err(_) => {
                self.forget(request_id);
                Err(LinkError::Timeout)
            }
        }
    }

    /// Closes the link; pending requests fail with [`LinkError::Closed`].
    pub fn close(&self, reason: &str) {
        self.shared.finish(reason);
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.borrow().is_some()
    }

    /// Why the link ended, once it has.
    pub fn close_reason(&self) -> Option<String> {
        self.shared.closed.borrow().clone()
    }

    /// Resolves once the link has ended, with the reason.
    pub async fn closed(&self) -> String {
        let mut rx = self.shared.closed.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            // The sender lives in `shared`, which we hold: it cannot be dropped under us.
            Err(_) => String::from("link dropped"),
        }
    }

    /// Whether two handles belong to the same session (not merely the same peer).
    pub fn same_session(&self, other: &Link) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    fn register(&self, tx: oneshot::Sender<Reply>) -> Result<u32, LinkError> {
        let mut pending = lock(&self.shared.pending);
        let mut request_id = self.shared.next_request_id.fetch_add(1, Ordering::Relaxed);
        while pending.contains_key(&request_id) {
            request_id = self.shared.next_request_id.fetch_add(1, Ordering::Relaxed);
        }
        pending.insert(request_id, tx);
        drop(pending);
        // `finish` marks the link closed before draining `pending`; checking after inserting
        // means a request racing a close is either drained or sees the mark.
        if self.is_closed() {
            self.forget(request_id);
            return Err(LinkError::Closed);
        }
        Ok(request_id)
    }

    fn forget(&self, request_id: u32) {
        lock(&self.shared.pending).remove(&request_id);
    }
}
