//! ILPv4 packets (RFC 27): Prepare, Fulfill, Reject, in canonical OER.
//!
//! Decoding is zero-copy for the `data` fields (they are `Bytes::slice`s of the input) and
//! keeps the envelope's bytes, so `encode()` of a decoded packet returns the very bytes that
//! were received (minus anything after the envelope). That is only sound because decoding
//! accepts canonical input only: a decoded packet's bytes are exactly what its encoder would
//! produce.
//!
//! Validation follows field order, so the error reported is the first problem in the packet.
//! After the last field, leftover bytes inside the envelope are an error
//! ([`DecodeError::TrailingBytesInContents`](crate::DecodeError::TrailingBytesInContents));
//! bytes after the envelope are ignored (RFC 30).

mod amount_too_large;
mod condition;
mod envelope;
mod error_code;
mod fulfill;
mod packet;
mod prepare;
mod reject;

pub use amount_too_large::AmountTooLarge;
pub use condition::{
    PEER_PROTOCOL_CONDITION, PEER_PROTOCOL_FULFILLMENT, condition_for, fulfillment_matches,
};
pub use error_code::{ErrorClass, ErrorCode};
pub use fulfill::{Fulfill, FulfillBuilder};
pub use packet::Packet;
pub use prepare::{Prepare, PrepareBuilder};
pub use reject::{Reject, RejectBuilder};

/// Largest `data` field of any ILP packet (RFC 27 ASN.1 `SIZE (0..32767)`).
pub const MAX_DATA_LEN: usize = 32767;
/// Largest Reject `message` (RFC 27 ASN.1 `SIZE (0..8191)`).
pub const MAX_MESSAGE_LEN: usize = 8191;

pub const TYPE_PREPARE: u8 = 12;
pub const TYPE_FULFILL: u8 = 13;
pub const TYPE_REJECT: u8 = 14;

use crate::error::{DecodeError, EncodeError};

fn check_data_on_decode(len: usize, field: &'static str) -> Result<(), DecodeError> {
    if len > MAX_DATA_LEN {
        return Err(DecodeError::DataTooLong {
            field,
            len,
            max: MAX_DATA_LEN,
        });
    }
    Ok(())
}

fn check_data_on_encode(len: usize, field: &'static str) -> Result<(), EncodeError> {
    if len > MAX_DATA_LEN {
        return Err(EncodeError::DataTooLong {
            field,
            len,
            max: MAX_DATA_LEN,
        });
    }
    Ok(())
}
