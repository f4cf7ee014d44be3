//! ILP Prepare (type 12).

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::{TYPE_PREPARE, check_data_on_decode, check_data_on_encode, envelope};
use crate::address::Address;
use crate::error::{DecodeError, EncodeError};
use crate::hex_debug::Hex;
use crate::oer::{self, Reader};
use crate::timestamp::Timestamp;

/// Fixed part of the contents: amount (8) + expiresAt (17) + executionCondition (32).
const FIXED_LEN: usize = 8 + 17 + 32;
/// Offsets inside the contents of the two fields a connector rewrites.
const AMOUNT_OFFSET: usize = 0;
const EXPIRES_AT_OFFSET: usize = 8;

/// A conditional payment offer. Immutable except for amount and expiry, the only two fields a
/// connector may change.
#[derive(Clone)]
pub struct Prepare {
    /// The canonical envelope bytes; every other field is a view of these.
    wire: Bytes,
    contents_start: usize,
    amount: u64,
    expires_at: Timestamp,
    execution_condition: [u8; 32],
    destination: Address,
    /// A slice of `wire` (and so of the decoded input).
    data: Bytes,
}

/// Field values for a new Prepare; `build` checks and encodes them.
pub struct PrepareBuilder<'a> {
    pub amount: u64,
    pub expires_at: Timestamp,
    pub execution_condition: &'a [u8; 32],
    pub destination: &'a Address,
    pub data: &'a [u8],
}

impl PrepareBuilder<'_> {
    /// Fails only if `data` is longer than 32767 bytes.
    pub fn build(&self) -> Result<Prepare, EncodeError> {
        check_data_on_encode(self.data.len(), "Prepare.data")?;
        let destination = self.destination.as_str().as_bytes();
        let contents_len = FIXED_LEN
            + oer::var_octets_len(destination.len())
            + oer::var_octets_len(self.data.len());
        let mut out = envelope::start(TYPE_PREPARE, contents_len);
        let contents_start = out.len();
        out.extend_from_slice(&self.amount.to_be_bytes());
        out.extend_from_slice(&self.expires_at.to_ilp());
        out.extend_from_slice(self.execution_condition);
        oer::write_var_octets(&mut out, destination);
        oer::write_var_octets(&mut out, self.data);
        let wire = Bytes::from(out);
        let data = data_tail(&wire, self.data.len());
        Ok(Prepare {
            wire,
            contents_start,
            amount: self.amount,
            expires_at: self.expires_at,
            execution_condition: *self.execution_condition,
            destination: self.destination.clone(),
            data,
        })
    }
}

/// The last `len` bytes of `wire`: where the data field sits, as it is the last field and
/// nothing may follow it inside the envelope.
fn data_tail(wire: &Bytes, len: usize) -> Bytes {
    wire.slice(wire.len().saturating_sub(len)..)
}

impl Prepare {
    pub fn amount(&self) -> u64 {
        self.amount
    }

    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    pub fn execution_condition(&self) -> &[u8; 32] {
        &self.execution_condition
    }

    pub fn destination(&self) -> &Address {
        &self.destination
    }

    /// Zero-copy: a slice of the buffer the packet was decoded from (or built into).
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Decodes a Prepare envelope at the start of `buf`; bytes after the envelope are ignored.
    pub fn decode(buf: Bytes) -> Result<Prepare, DecodeError> {
        let env = envelope::read(&buf, TYPE_PREPARE, "Prepare envelope")?;
        let mut r = Reader::new(&buf, env.contents_start, env.end);
        let amount = r.read_u64("Prepare.amount")?;
        let expires_at = Timestamp::parse_ilp(&r.read_array::<17>("Prepare.expiresAt")?)?;
        let execution_condition = r.read_array::<32>("Prepare.executionCondition")?;
        let destination = r.read_var_octets("Prepare.destination")?;
        let destination = Address::from_bytes(r.slice(destination))?;
        let data = r.read_var_octets("Prepare.data")?;
        check_data_on_decode(data.len(), "Prepare.data")?;
        r.finish("Prepare")?;
        let wire = buf.slice(..env.end);
        let data = wire.slice(data);
        Ok(Prepare {
            wire,
            contents_start: env.contents_start,
            amount,
            expires_at,
            execution_condition,
            destination,
            data,
        })
    }

    /// The canonical encoding. O(1): returns the stored envelope bytes.
    pub fn encode(&self) -> Bytes {
        self.wire.clone()
    }

    /// Rewrites the amount in place in a copy of the bytes; all other bytes stay as received.
    pub fn set_amount(&mut self, amount: u64) {
        self.amount = amount;
        self.patch(AMOUNT_OFFSET, &amount.to_be_bytes());
    }

    pub fn set_expires_at(&mut self, t: Timestamp) {
        self.expires_at = t;
        self.patch(EXPIRES_AT_OFFSET, &t.to_ilp());
    }

    /// Sets both rewritable fields with a single copy of the packet bytes.
    pub fn set_amount_and_expires_at(&mut self, amount: u64, t: Timestamp) {
        self.amount = amount;
        self.expires_at = t;
        let mut fixed = [0u8; 25];
        fixed[..8].copy_from_slice(&amount.to_be_bytes());
        fixed[8..].copy_from_slice(&t.to_ilp());
        self.patch(AMOUNT_OFFSET, &fixed);
    }

    fn patch(&mut self, offset_in_contents: usize, bytes: &[u8]) {
        let mut wire = BytesMut::from(&self.wire[..]);
        let start = self.contents_start + offset_in_contents;
        // The fixed fields always lie inside the envelope; `get_mut` only guards the invariant.
        if let Some(dst) = wire.get_mut(start..start + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.wire = wire.freeze();
        self.data = data_tail(&self.wire, self.data.len());
    }
}

impl PartialEq for Prepare {
    /// Canonical encoding is a bijection, so equal bytes ⇔ equal fields.
    fn eq(&self, other: &Self) -> bool {
        self.wire == other.wire
    }
}

impl Eq for Prepare {}

impl fmt::Debug for Prepare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepare")
            .field("amount", &self.amount)
            .field("expires_at", &self.expires_at)
            .field("execution_condition", &Hex(&self.execution_condition))
            .field("destination", &self.destination)
            .field("data", &Hex(&self.data))
            .finish()
    }
}
