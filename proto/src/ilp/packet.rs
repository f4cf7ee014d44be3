//! Any ILP packet, dispatched on the type byte.

use bytes::Bytes;

use super::{Fulfill, Prepare, Reject, TYPE_FULFILL, TYPE_PREPARE, TYPE_REJECT};
use crate::error::DecodeError;

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Packet {
    Prepare(Prepare),
    Fulfill(Fulfill),
    Reject(Reject),
}

impl Packet {
    /// Decodes whichever ILP packet `buf` starts with; bytes after the envelope are ignored.
    pub fn decode(buf: Bytes) -> Result<Packet, DecodeError> {
        match buf.first() {
            None => Err(DecodeError::UnexpectedEof {
                field: "ILP packet type",
            }),
            Some(&TYPE_PREPARE) => Prepare::decode(buf).map(Packet::Prepare),
            Some(&TYPE_FULFILL) => Fulfill::decode(buf).map(Packet::Fulfill),
            Some(&TYPE_REJECT) => Reject::decode(buf).map(Packet::Reject),
            Some(&other) => Err(DecodeError::UnknownPacketType(other)),
        }
    }

    pub fn encode(&self) -> Bytes {
        match self {
            Packet::Prepare(p) => p.encode(),
            Packet::Fulfill(f) => f.encode(),
            Packet::Reject(r) => r.encode(),
        }
    }

    pub fn packet_type(&self) -> u8 {
        match self {
            Packet::Prepare(_) => TYPE_PREPARE,
            Packet::Fulfill(_) => TYPE_FULFILL,
            Packet::Reject(_) => TYPE_REJECT,
        }
    }
}

impl From<Prepare> for Packet {
    fn from(p: Prepare) -> Self {
        Packet::Prepare(p)
    }
}

impl From<Fulfill> for Packet {
    fn from(f: Fulfill) -> Self {
        Packet::Fulfill(f)
    }
}

impl From<Reject> for Packet {
    fn from(r: Reject) -> Self {
        Packet::Reject(r)
    }
}
