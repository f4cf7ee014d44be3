//! Decode and encode errors.
//!
//! Every decode error names the field it was found in (`"Prepare.destination"`,
//! `"BTP protocolData.name"`, …) so that a Reject or a log line can say exactly what was wrong
//! with an input without echoing the input itself.

use crate::address::AddressError;

/// Why some bytes could not be decoded.
///
/// `field` values are static names of the wire field (ASN.1 names, prefixed with the packet
/// type), never data taken from the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended (or the enclosing length-delimited block ended) inside `field`.
    #[error("unexpected end of input in {field}")]
    UnexpectedEof { field: &'static str },

    /// Length determinant `0x80` (the BER indefinite form), which OER never allows.
    #[error("indefinite length determinant (0x80) in {field}")]
    IndefiniteLength { field: &'static str },

    /// A long-form length determinant that is not the shortest encoding of its value
    /// (`81 00..7f`, or long form with a leading zero byte such as `82 00 xx`).
    #[error("non-canonical length determinant in {field}")]
    NonCanonicalLength { field: &'static str },

    /// A long-form length determinant announcing more than 8 length bytes (`len_of_len`),
    /// or a length that does not fit in `usize` on this platform.
    #[error("length determinant in {field} too large ({len_of_len} length bytes)")]
    LengthTooLarge {
        field: &'static str,
        len_of_len: usize,
    },

    /// A VarUInt with zero value bytes (`00`).
    #[error("empty VarUInt in {field}")]
    EmptyVarUInt { field: &'static str },

    /// A VarUInt with more than 8 value bytes: it cannot fit in a u64.
    #[error("VarUInt in {field} has {len} bytes, at most 8 allowed")]
    VarUIntTooLong { field: &'static str, len: usize },

    /// A VarUInt with a leading zero byte (`02 00 01`): not canonical.
    #[error("non-canonical VarUInt (leading zero byte) in {field}")]
    NonCanonicalVarUInt { field: &'static str },

    /// The packet type byte is not one this decoder knows.
    #[error("unknown packet type {0}")]
    UnknownPacketType(u8),

    /// A known packet type, but not the one the caller asked for (e.g. `Prepare::decode` on a
    /// Fulfill).
    #[error("expected packet type {expected}, found {found}")]
    UnexpectedPacketType { expected: u8, found: u8 },

    /// An ILP fixed timestamp or a BTP GeneralizedTime that is malformed or names an impossible
    /// instant. The string says what was wrong (never the raw input bytes).
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),

    /// An ILP address that breaks RFC 15.
    #[error("invalid ILP address: {0}")]
    InvalidAddress(AddressError),

    /// An ILP error code that is not `[FTR][0-9]{2}`.
    #[error("invalid ILP error code (expected [FTR][0-9][0-9])")]
    InvalidErrorCode,

    /// A variable-length field longer than the protocol allows.
    #[error("{field} is {len} bytes long, at most {max} allowed")]
    DataTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },

    /// A text field that must be UTF-8 is not.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 { field: &'static str },

    /// Bytes left inside a length-delimited contents block after its last field.
    #[error("{count} unexpected byte(s) left inside {field} after its last field")]
    TrailingBytesInContents { field: &'static str, count: usize },

    /// Bytes after a complete BTP packet (BTP decoding is strict; ILP decoding ignores these).
    #[error("{count} unexpected byte(s) after the end of the {field}")]
    TrailingBytesAfterPacket { field: &'static str, count: usize },
}

impl DecodeError {
    /// The wire field the error was found in, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DecodeError::UnexpectedEof { field }
            | DecodeError::IndefiniteLength { field }
            | DecodeError::NonCanonicalLength { field }
            | DecodeError::LengthTooLarge { field, .. }
            | DecodeError::EmptyVarUInt { field }
            | DecodeError::VarUIntTooLong { field, .. }
            | DecodeError::NonCanonicalVarUInt { field }
            | DecodeError::DataTooLong { field, .. }
            | DecodeError::InvalidUtf8 { field }
            | DecodeError::TrailingBytesInContents { field, .. }
            | DecodeError::TrailingBytesAfterPacket { field, .. } => Some(field),
            DecodeError::UnknownPacketType(_)
            | DecodeError::UnexpectedPacketType { .. }
            | DecodeError::InvalidTimestamp(_)
            | DecodeError::InvalidAddress(_)
            | DecodeError::InvalidErrorCode => None,
        }
    }
}

impl From<AddressError> for DecodeError {
    fn from(e: AddressError) -> Self {
        DecodeError::InvalidAddress(e)
    }
}

/// Why a packet could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A data field above its protocol limit (32767 bytes for ILP data).
    #[error("{field} is {len} bytes long, at most {max} allowed")]
    DataTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },

    /// A Reject message above 8191 bytes. Messages are not truncated: cutting UTF-8 text
    /// silently would hide the problem from whoever wrote it.
    #[error("Reject message is {len} bytes long, at most {max} allowed")]
    MessageTooLong { len: usize, max: usize },

    /// An address the packet needs is not one (RFC 15).
    #[error("invalid address: {0}")]
    InvalidAddress(AddressError),
}
