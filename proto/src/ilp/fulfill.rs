//! ILP Fulfill (type 13).

use std::fmt;

use bytes::Bytes;

use super::{TYPE_FULFILL, check_data_on_decode, check_data_on_encode, envelope};
use crate::error::{DecodeError, EncodeError};
use crate::hex_debug::Hex;
use crate::oer::{self, Reader};

/// The preimage of a Prepare's condition, plus optional end-to-end data.
#[derive(Clone)]
pub struct Fulfill {
    wire: Bytes,
    fulfillment: [u8; 32],
    /// A slice of `wire`.
    data: Bytes,
}

pub struct FulfillBuilder<'a> {
    pub fulfillment: &'a [u8; 32],
    pub data: &'a [u8],
}

impl FulfillBuilder<'_> {
    /// Fails only if `data` is longer than 32767 bytes.
    pub fn build(&self) -> Result<Fulfill, EncodeError> {
        check_data_on_encode(self.data.len(), "Fulfill.data")?;
        let contents_len = 32 + oer::var_octets_len(self.data.len());
        let mut out = envelope::start(TYPE_FULFILL, contents_len);
        out.extend_from_slice(self.fulfillment);
        oer::write_var_octets(&mut out, self.data);
        let wire = Bytes::from(out);
        let data = wire.slice(wire.len().saturating_sub(self.data.len())..);
        Ok(Fulfill {
            wire,
            fulfillment: *self.fulfillment,
            data,
        })
    }
}

impl Fulfill {
    pub fn fulfillment(&self) -> &[u8; 32] {
        &self.fulfillment
    }

    /// Zero-copy: a slice of the buffer the packet was decoded from (or built into).
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Decodes a Fulfill envelope at the start of `buf`; bytes after the envelope are ignored.
    pub fn decode(buf: Bytes) -> Result<Fulfill, DecodeError> {
        let env = envelope::read(&buf, TYPE_FULFILL, "Fulfill envelope")?;
        let mut r = Reader::new(&buf, env.contents_start, env.end);
        let fulfillment = r.read_array::<32>("Fulfill.fulfillment")?;
        let data = r.read_var_octets("Fulfill.data")?;
        check_data_on_decode(data.len(), "Fulfill.data")?;
        r.finish("Fulfill")?;
        let wire = buf.slice(..env.end);
        let data = wire.slice(data);
        Ok(Fulfill {
            wire,
            fulfillment,
            data,
        })
    }

    /// The canonical encoding. O(1): returns the stored envelope bytes.
    pub fn encode(&self) -> Bytes {
        self.wire.clone()
    }
}

impl PartialEq for Fulfill {
    /// Canonical encoding is a bijection, so equal bytes ⇔ equal fields.
    fn eq(&self, other: &Self) -> bool {
        self.wire == other.wire
    }
}

impl Eq for Fulfill {}

impl fmt::Debug for Fulfill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fulfill")
            .field("fulfillment", &Hex(&self.fulfillment))
            .field("data", &Hex(&self.data))
            .finish()
    }
}
