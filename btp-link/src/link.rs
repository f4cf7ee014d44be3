//! An authenticated BTP link: request/response correlation, the socket reader and writer tasks,
//! keepalive, and the limits that protect a node from a misbehaving peer.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use proto::Timestamp;
use proto::btp::{
    BtpError, BtpPacket, ContentType, EntriesKind, IlpCarrier, PROTOCOL_ILP, PROTOCOL_TRACEPARENT,
    ProtocolData, error_code,
};
use proto::ilp::{TYPE_FULFILL, TYPE_PREPARE, TYPE_REJECT};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::{IncomingHandler, LinkError, LinkSettings, Violation};

type Reply = Result<Bytes, LinkError>;

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

struct Shared {
    out: mpsc::Sender<Message>,
    pending: Mutex<HashMap<u32, oneshot::Sender<Reply>, BuildHasherDefault<RequestIdHasher>>>,
    next_request_id: AtomicU32,
    /// `None` while the link is open; the reason it ended once it has.
    closed: watch::Sender<Option<String>>,
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

impl Shared {
    fn finish(&self, reason: &str) {
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
    async fn queue(&self, frame: Bytes, deadline: Option<Instant>) -> Result<(), LinkError> {
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

    fn complete(&self, request_id: u32, reply: Reply) {
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
struct RequestIdHasher(u64);

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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still safe to use.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn ilp_frame(kind: EntriesKind, request_id: u32, ilp: Bytes, traceparent: Option<&str>) -> Bytes {
    let ilp = ProtocolData {
        name: Cow::Borrowed(PROTOCOL_ILP),
        content_type: ContentType::OCTET_STREAM,
        data: ilp,
    };
    let encoded = match traceparent {
        None => BtpPacket::encode_entries(kind, request_id, &[ilp]),
        Some(traceparent) => {
            let traceparent = ProtocolData {
                name: Cow::Borrowed(PROTOCOL_TRACEPARENT),
                content_type: ContentType::TEXT_PLAIN_UTF8,
                data: Bytes::copy_from_slice(traceparent.as_bytes()),
            };
            BtpPacket::encode_entries(kind, request_id, &[ilp, traceparent])
        }
    };
    Bytes::from(encoded)
}

pub(crate) fn error_frame(request_id: u32, code: [u8; 3], name: &str, message: &str) -> Bytes {
    let packet = BtpPacket::Error {
        request_id,
        error: BtpError {
            code,
            name: name.to_string(),
            triggered_at: Timestamp::now(),
            data: Bytes::copy_from_slice(message.as_bytes()),
            protocol_data: Vec::new(),
        },
    };
    Bytes::from(packet.encode())
}

async fn write_loop<S>(
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

struct ViolationCounter {
    window_start: Instant,
    count: u32,
}

/// Prepares being served on one link: each yields its request id and the encoded answer.
type Serving = FuturesUnordered<Pin<Box<dyn Future<Output = (u32, Bytes)> + Send>>>;

async fn read_loop<S, H>(
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

/// Handles one binary frame; returns the violation it represents, if any.
async fn on_frame<H: IncomingHandler>(
    frame: Bytes,
    shared: &Arc<Shared>,
    settings: &LinkSettings,
    handler: &Arc<H>,
    serving: &mut Serving,
) -> Option<Violation> {
    // Messages and Responses (every ILP packet) are read without building a `BtpPacket`;
    // Errors and Transfers, rare, get the full decoder.
    let decoded = match IlpCarrier::decode(&frame) {
        Ok(Some(carrier)) => {
            return on_carrier(carrier, shared, settings, handler, serving).await;
        }
        Ok(None) => BtpPacket::decode(frame.clone()),
        Err(error) => Err(error),
    };
    let packet = match decoded {
        Ok(packet) => packet,
        Err(error) => {
            // Answer only what looks like a request: answering a broken response could start
            // an error ping-pong between two confused peers.
            if let (Some(&kind), Some(id)) = (frame.first(), frame.get(1..5))
                && (kind == proto::btp::TYPE_MESSAGE || kind == proto::btp::TYPE_TRANSFER)
            {
                let request_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
                send_error(
                    shared,
                    request_id,
                    error_code::F01_INVALID_FIELDS,
                    "InvalidFieldsError",
                    &format!("undecodable BTP packet: {error}"),
                )
                .await;
            }
            return Some(Violation::Undecodable);
        }
    };
    let request_id = packet.request_id();
    match &packet {
        // Never reached: `IlpCarrier::decode` took every Message and Response above.
        BtpPacket::Message { .. } | BtpPacket::Response { .. } => None,
        BtpPacket::Error { error, .. } => {
            let message = String::from_utf8_lossy(&error.data).into_owned();
            shared.complete(
                request_id,
                Err(LinkError::Remote {
                    code: String::from_utf8_lossy(&error.code).into_owned(),
                    name: error.name.clone(),
                    message,
                }),
            );
            None
        }
        BtpPacket::Transfer { .. } => {
            send_error(
                shared,
                request_id,
                error_code::F00_NOT_ACCEPTED,
                "NotAcceptedError",
                "BTP transfers are not supported on this link",
            )
            .await;
            Some(Violation::Unsupported)
        }
    }
}

/// A Message or Response: an ILP request for us, or the answer to one of ours.
async fn on_carrier<H: IncomingHandler>(
    carrier: IlpCarrier,
    shared: &Arc<Shared>,
    settings: &LinkSettings,
    handler: &Arc<H>,
    serving: &mut Serving,
) -> Option<Violation> {
    let IlpCarrier {
        is_message,
        request_id,
        ilp,
        traceparent,
    } = carrier;
    let Some(ilp) = ilp else {
        if is_message {
            send_error(
                shared,
                request_id,
                error_code::F00_NOT_ACCEPTED,
                "NotAcceptedError",
                "unsupported sub-protocol: only ilp is served on this link",
            )
            .await;
            return Some(Violation::Unsupported);
        }
        shared.complete(request_id, Err(LinkError::NoIlpPacket));
        return None;
    };
    // Decide by the ILP type byte, not the BTP wrapper: interledger-rs sends Prepares in
    // Responses and answers in Messages.
    match ilp.first().copied() {
        Some(TYPE_PREPARE) => {
            on_prepare(
                request_id,
                (ilp, traceparent),
                shared,
                settings,
                handler,
                serving,
            )
            .await
        }
        Some(TYPE_FULFILL) | Some(TYPE_REJECT) => {
            // A late answer (we already timed out) finds no entry: normal, nothing to do.
            shared.complete(request_id, Ok(ilp));
            None
        }
        _ => {
            if is_message {
                send_error(
                    shared,
                    request_id,
                    error_code::F01_INVALID_FIELDS,
                    "InvalidFieldsError",
                    "ilp entry holds no ILPv4 packet",
                )
                .await;
            }
            Some(Violation::Unsupported)
        }
    }
}

async fn on_prepare<H: IncomingHandler>(
    request_id: u32,
    (prepare, traceparent): (Bytes, Option<Bytes>),
    shared: &Arc<Shared>,
    settings: &LinkSettings,
    handler: &Arc<H>,
    serving: &mut Serving,
) -> Option<Violation> {
    if serving.len() >= settings.max_incoming_in_flight {
        let reply = ilp_frame(
            EntriesKind::Response,
            request_id,
            handler.busy_reject(),
            None,
        );
        send(shared, reply).await;
        return Some(Violation::Overloaded);
    }
    let handler = handler.clone();
    serving.push(Box::pin(async move {
        let answer = handler.handle_traced_prepare(prepare, traceparent).await;
        (request_id, answer)
    }));
    None
}

/// Resolves once the link is marked closed. The watch guard is dropped inside, so callers'
/// futures stay `Send`.
async fn wait_closed(closed: &mut watch::Receiver<Option<String>>) {
    let _ = closed.wait_for(Option::is_some).await.map(|_| ());
}

async fn send(shared: &Shared, frame: Bytes) {
    // If the writer is gone the link is closing; the peer will not get this answer either way.
    let _ = shared.queue(frame, None).await;
}

/// Answers request `request_id` with a BTP Error.
async fn send_error(shared: &Shared, request_id: u32, code: [u8; 3], name: &str, message: &str) {
    send(shared, error_frame(request_id, code, name, message)).await;
}
