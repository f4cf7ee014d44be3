//! What a link does with requests and misbehaviour from the far side.

use std::future::Future;

use bytes::Bytes;

/// Receives the ILP Prepares a peer sends over a link.
pub trait IncomingHandler: Send + Sync + 'static {
    /// Answers one ILP Prepare (the raw ILP bytes) with an encoded ILP Fulfill or Reject.
    fn handle_prepare(&self, prepare: Bytes) -> impl Future<Output = Bytes> + Send;

    /// As [`IncomingHandler::handle_prepare`], with the W3C `traceparent` the peer sent beside
    /// the Prepare (the [`crate::PROTOCOL_TRACEPARENT`] entry), if any. Handlers that trace
    /// override this; the default ignores the context.
    fn handle_traced_prepare(
        &self,
        prepare: Bytes,
        traceparent: Option<Bytes>,
    ) -> impl Future<Output = Bytes> + Send {
        let _ = traceparent;
        self.handle_prepare(prepare)
    }

    /// Builds the ILP Reject sent when the peer has too many requests outstanding (T03).
    fn busy_reject(&self) -> Bytes;

    /// Told about every protocol violation, for logs and metrics; the link enforces limits itself.
    fn violation(&self, _violation: Violation) {}
}

/// Protocol violations a link counts against its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A frame that is not a decodable BTP packet.
    Undecodable,
    /// A text WebSocket frame (BTP is binary only).
    TextFrame,
    /// A BTP packet we do not serve (Transfer, a Message without `ilp`, a stray ILP answer).
    Unsupported,
    /// More requests outstanding than the link allows.
    Overloaded,
}

impl Violation {
    pub fn as_str(self) -> &'static str {
        match self {
            Violation::Undecodable => "undecodable",
            Violation::TextFrame => "text_frame",
            Violation::Unsupported => "unsupported",
            Violation::Overloaded => "overloaded",
        }
    }
}
