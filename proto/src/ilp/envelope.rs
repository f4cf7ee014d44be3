//! The ILP envelope shared by all three packet types: type byte, length determinant, contents.

use crate::error::DecodeError;
use crate::oer::{self, Reader};

use super::{TYPE_FULFILL, TYPE_PREPARE, TYPE_REJECT};

/// Where a packet's contents sit in the input buffer.
pub(crate) struct Envelope {
    pub(crate) contents_start: usize,
    /// One past the last byte of the envelope; bytes after it are ignored (RFC 30: readers
    /// must tolerate extra bytes at the end of a message for future extensions).
    pub(crate) end: usize,
}

/// Reads the type byte and length of an envelope that must be of `expected` type.
pub(crate) fn read(buf: &[u8], expected: u8, field: &'static str) -> Result<Envelope, DecodeError> {
    let mut r = Reader::new(buf, 0, buf.len());
    let found = r.read_u8("ILP packet type")?;
    if found != expected {
        return Err(if is_ilp_type(found) {
            DecodeError::UnexpectedPacketType { expected, found }
        } else {
            DecodeError::UnknownPacketType(found)
        });
    }
    let contents = r.read_var_octets(field)?;
    Ok(Envelope {
        contents_start: contents.start,
        end: contents.end,
    })
}

pub(crate) fn is_ilp_type(t: u8) -> bool {
    matches!(t, TYPE_PREPARE | TYPE_FULFILL | TYPE_REJECT)
}

/// A buffer sized for the whole packet with the envelope header already written.
pub(crate) fn start(packet_type: u8, contents_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + oer::length_prefix_len(contents_len) + contents_len);
    out.push(packet_type);
    oer::write_length(&mut out, contents_len);
    out
}
