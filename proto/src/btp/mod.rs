//! BTP/2.0 (RFC 23): the framing ILP packets travel in over a WebSocket.
//!
//! Decoding is strict, unlike ILP decoding: a byte left inside the contents or after the
//! packet is an error. A WebSocket message holds exactly one BTP packet, so there is no later
//! extension to make room for, and leftovers mean a broken peer.

pub mod error_code;
mod error_packet;
mod packet;
mod protocol_data;

pub use error_packet::BtpError;
pub use packet::{BtpPacket, EntriesKind, IlpCarrier};
pub use protocol_data::{ContentType, ProtocolData};

pub const TYPE_RESPONSE: u8 = 1;
pub const TYPE_ERROR: u8 = 2;
pub const TYPE_MESSAGE: u8 = 6;
pub const TYPE_TRANSFER: u8 = 7;

/// Sub-protocol carrying an ILP packet (content type octet-stream).
pub const PROTOCOL_ILP: &str = "ilp";
/// Primary sub-protocol of the authentication Message.
pub const PROTOCOL_AUTH: &str = "auth";
pub const PROTOCOL_AUTH_TOKEN: &str = "auth_token";
/// Dropped from RFC 23 in draft 7 but still sent by JS ilp-plugin-btp: tolerate it.
pub const PROTOCOL_AUTH_USERNAME: &str = "auth_username";
/// A W3C trace context (`traceparent` header value, UTF-8) our nodes send beside a Prepare.
pub const PROTOCOL_TRACEPARENT: &str = "traceparent";
