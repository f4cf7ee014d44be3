//! ILP Reject (type 14).

use std::fmt;

use bytes::Bytes;

use super::{
    ErrorCode, MAX_MESSAGE_LEN, TYPE_REJECT, check_data_on_decode, check_data_on_encode, envelope,
};
use crate::address::Address;
use crate::error::{DecodeError, EncodeError};
use crate::hex_debug::Hex;
use crate::oer::{self, Reader};

/// A refusal of a Prepare.
#[derive(Clone)]
pub struct Reject {
    wire: Bytes,
    code: ErrorCode,
    triggered_by: Option<Address>,
    message: String,
    /// A slice of `wire`.
    data: Bytes,
}

pub struct RejectBuilder<'a> {
    pub code: ErrorCode,
    /// `None` encodes an empty triggeredBy. Accepted by JS and Java peers but refused by
    /// interledger-rs, so a connector should always name itself.
    pub triggered_by: Option<&'a Address>,
    pub message: &'a str,
    pub data: &'a [u8],
}

impl RejectBuilder<'_> {
    /// Fails if `message` is over 8191 bytes or `data` over 32767 bytes (nothing is truncated).
    pub fn build(&self) -> Result<Reject, EncodeError> {
        if self.message.len() > MAX_MESSAGE_LEN {
            return Err(EncodeError::MessageTooLong {
                len: self.message.len(),
                max: MAX_MESSAGE_LEN,
            });
        }
        check_data_on_encode(self.data.len(), "Reject.data")?;
        let triggered_by = self.triggered_by.map_or("", Address::as_str).as_bytes();
        let contents_len = 3
            + oer::var_octets_len(triggered_by.len())
            + oer::var_octets_len(self.message.len())
            + oer::var_octets_len(self.data.len());
        let mut out = envelope::start(TYPE_REJECT, contents_len);
        out.extend_from_slice(self.code.as_bytes());
        oer::write_var_octets(&mut out, triggered_by);
        oer::write_var_octets(&mut out, self.message.as_bytes());
        oer::write_var_octets(&mut out, self.data);
        let wire = Bytes::from(out);
        let data = wire.slice(wire.len().saturating_sub(self.data.len())..);
        Ok(Reject {
            wire,
            code: self.code,
            triggered_by: self.triggered_by.cloned(),
            message: self.message.to_owned(),
            data,
        })
    }
}

impl Reject {
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// `None` when the wire field was empty (accepted on input for JS/Java interop).
    pub fn triggered_by(&self) -> Option<&Address> {
        self.triggered_by.as_ref()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Zero-copy: a slice of the buffer the packet was decoded from (or built into).
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Decodes a Reject envelope at the start of `buf`; bytes after the envelope are ignored.
    pub fn decode(buf: Bytes) -> Result<Reject, DecodeError> {
        let env = envelope::read(&buf, TYPE_REJECT, "Reject envelope")?;
        let mut r = Reader::new(&buf, env.contents_start, env.end);
        let code = ErrorCode::new(r.read_array::<3>("Reject.code")?)?;
        let triggered_by = r.read_var_octets("Reject.triggeredBy")?;
        let triggered_by = match r.slice(triggered_by) {
            [] => None,
            bytes => Some(Address::from_bytes(bytes)?),
        };
        let message = r.read_var_octets("Reject.message")?;
        if message.len() > MAX_MESSAGE_LEN {
            return Err(DecodeError::DataTooLong {
                field: "Reject.message",
                len: message.len(),
                max: MAX_MESSAGE_LEN,
            });
        }
        let message = std::str::from_utf8(r.slice(message))
            .map_err(|_| DecodeError::InvalidUtf8 {
                field: "Reject.message",
            })?
            .to_owned();
        let data = r.read_var_octets("Reject.data")?;
        check_data_on_decode(data.len(), "Reject.data")?;
        r.finish("Reject")?;
        let wire = buf.slice(..env.end);
        let data = wire.slice(data);
        Ok(Reject {
            wire,
            code,
            triggered_by,
            message,
            data,
        })
    }

    /// The canonical encoding. O(1): returns the stored envelope bytes.
    pub fn encode(&self) -> Bytes {
        self.wire.clone()
    }
}

impl PartialEq for Reject {
    /// Canonical encoding is a bijection, so equal bytes ⇔ equal fields.
    fn eq(&self, other: &Self) -> bool {
        self.wire == other.wire
    }
}

impl Eq for Reject {}

impl fmt::Debug for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reject")
            .field("code", &self.code)
            .field("triggered_by", &self.triggered_by)
            .field("message", &self.message)
            .field("data", &Hex(&self.data))
            .finish()
    }
}
