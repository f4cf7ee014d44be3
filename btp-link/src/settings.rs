//! Limits and timers of a BTP link.

use std::time::Duration;

/// Limits and timers of one BTP link; the defaults suit a connector on a LAN or the internet.
#[derive(Clone, Debug)]
pub struct LinkSettings {
    /// Largest WebSocket message accepted. A Prepare with 32767 bytes of data and a 1023-byte
    /// address is just under 34 KiB once wrapped in BTP, so 64 KiB leaves room without inviting
    /// memory abuse.
    pub max_frame_bytes: usize,
    /// How long a dialled or accepted socket may take to authenticate.
    pub auth_timeout: Duration,
    /// How often we ping an idle peer.
    pub ping_interval: Duration,
    /// A peer silent this long (no frame, not even a pong) is considered gone; noticed within a
    /// quarter of this after the fact.
    pub idle_timeout: Duration,
    /// Incoming requests a peer may have outstanding at once; beyond it they are refused (T03).
    pub max_incoming_in_flight: usize,
    /// Protocol violations (garbage frames, text frames, unexpected packets) tolerated within
    /// `violation_window` before the peer is disconnected.
    pub max_violations: u32,
    pub violation_window: Duration,
    /// Outgoing frames queued for the socket writer before senders wait.
    pub send_queue: usize,
}

impl Default for LinkSettings {
    fn default() -> Self {
        LinkSettings {
            max_frame_bytes: 64 * 1024,
            auth_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(45),
            max_incoming_in_flight: 4096,
            max_violations: 16,
            violation_window: Duration::from_secs(10),
            send_queue: 4096,
        }
    }
}

/// Bytes read from the socket at most per read. tungstenite zero-fills this much of its read
/// buffer before every read (128 KiB by default), which cost ~4 % of a node's CPU when reads
/// return a few frames each. ILP frames are small; 8 KiB still takes dozens per read, and a
/// larger message grows the buffer to its own length.
const READ_CHUNK_BYTES: usize = 8 * 1024;

impl LinkSettings {
    /// The WebSocket settings of a link (also used by the benchmark's bare relay, so that both
    /// sides of a comparison read and write sockets alike).
    pub fn websocket_config(&self) -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
        let mut config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
        config.max_message_size = Some(self.max_frame_bytes);
        config.max_frame_size = Some(self.max_frame_bytes);
        config.read_buffer_size = READ_CHUNK_BYTES;
        config
    }
}
