//! The BTP packet frame: type, requestId, length-delimited contents.

use bytes::Bytes;

use super::protocol_data::{self, ProtocolData};
use super::{BtpError, TYPE_ERROR, TYPE_MESSAGE, TYPE_RESPONSE, TYPE_TRANSFER};
use crate::error::DecodeError;
use crate::oer::{self, Reader};

/// A packet's fixed part: type, request id, where the contents are.
struct Header {
    packet_type: u8,
    /// For errors: "BTP Message", …
    name: &'static str,
    request_id: u32,
    contents: std::ops::Range<usize>,
}

fn read_header(buf: &Bytes) -> Result<Header, DecodeError> {
    let mut r = Reader::new(buf, 0, buf.len());
    let packet_type = r.read_u8("BTP type")?;
    let name = match packet_type {
        TYPE_RESPONSE => "BTP Response",
        TYPE_ERROR => "BTP Error",
        TYPE_MESSAGE => "BTP Message",
        TYPE_TRANSFER => "BTP Transfer",
        other => return Err(DecodeError::UnknownPacketType(other)),
    };
    let request_id = r.read_u32("BTP requestId")?;
    let contents = r.read_var_octets("BTP contents")?;
    if r.remaining() > 0 {
        return Err(DecodeError::TrailingBytesAfterPacket {
            field: name,
            count: r.remaining(),
        });
    }
    Ok(Header {
        packet_type,
        name,
        request_id,
        contents,
    })
}

/// Type, request id and length-prefixed contents (`contents_len` bytes, written by `contents`)
/// in one buffer of exactly the packet's size.
fn write_packet(
    packet_type: u8,
    request_id: u32,
    contents_len: usize,
    contents: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + oer::length_prefix_len(contents_len) + contents_len);
    out.push(packet_type);
    out.extend_from_slice(&request_id.to_be_bytes());
    oer::write_length(&mut out, contents_len);
    contents(&mut out);
    out
}

/// What a link needs from a Message or Response to carry ILP: the request id and the first
/// `ilp` and `traceparent` entries, read without building a [`BtpPacket`] (no entry vector, no
/// names). Accepts and refuses exactly the bytes [`BtpPacket::decode`] does.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IlpCarrier {
    /// A Message (a request) rather than a Response.
    pub is_message: bool,
    pub request_id: u32,
    /// The data of the first entry named [`super::PROTOCOL_ILP`].
    pub ilp: Option<Bytes>,
    /// The data of the first entry named [`super::PROTOCOL_TRACEPARENT`].
    pub traceparent: Option<Bytes>,
}

impl IlpCarrier {
    /// `Ok(None)` for an Error or a Transfer, which [`BtpPacket::decode`] reads.
    pub fn decode(buf: &Bytes) -> Result<Option<IlpCarrier>, DecodeError> {
        let header = read_header(buf)?;
        let is_message = match header.packet_type {
            TYPE_MESSAGE => true,
            TYPE_RESPONSE => false,
            _ => return Ok(None),
        };
        let mut r = Reader::new(buf, header.contents.start, header.contents.end);
        let (mut ilp, mut traceparent) = (None, None);
        protocol_data::visit_list(&mut r, buf, |name, _, data| {
            let slot = match name {
                super::PROTOCOL_ILP => &mut ilp,
                super::PROTOCOL_TRACEPARENT => &mut traceparent,
                _ => return,
            };
            if slot.is_none() {
                *slot = Some(data);
            }
        })?;
        r.finish(header.name)?;
        Ok(Some(IlpCarrier {
            is_message,
            request_id: header.request_id,
            ilp,
            traceparent,
        }))
    }
}

/// The two packet types that are nothing but a protocolData list, for
/// [`BtpPacket::encode_entries`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EntriesKind {
    Message,
    Response,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum BtpPacket {
    Response {
        request_id: u32,
        protocol_data: Vec<ProtocolData>,
    },
    Error {
        request_id: u32,
        error: BtpError,
    },
    Message {
        request_id: u32,
        protocol_data: Vec<ProtocolData>,
    },
    Transfer {
        request_id: u32,
        amount: u64,
        protocol_data: Vec<ProtocolData>,
    },
}

impl BtpPacket {
    /// Decodes exactly one packet: any byte left inside the contents or after the packet is an
    /// error. Types other than 1, 2, 6, 7 (including BTP/1.0's 3, 4, 5) are
    /// [`DecodeError::UnknownPacketType`].
    pub fn decode(buf: Bytes) -> Result<BtpPacket, DecodeError> {
        let Header {
            packet_type,
            name,
            request_id,
            contents,
        } = read_header(&buf)?;
        let mut r = Reader::new(&buf, contents.start, contents.end);
        let packet = match packet_type {
            TYPE_RESPONSE => BtpPacket::Response {
                request_id,
                protocol_data: protocol_data::read_list(&mut r, &buf)?,
            },
            TYPE_ERROR => BtpPacket::Error {
                request_id,
                error: BtpError::read(&mut r, &buf)?,
            },
            TYPE_MESSAGE => BtpPacket::Message {
                request_id,
                protocol_data: protocol_data::read_list(&mut r, &buf)?,
            },
            _ => BtpPacket::Transfer {
                request_id,
                amount: r.read_u64("BTP Transfer.amount")?,
                protocol_data: protocol_data::read_list(&mut r, &buf)?,
            },
        };
        r.finish(name)?;
        Ok(packet)
    }

    /// Encodes a Message or Response straight from its entries, without building a
    /// [`BtpPacket`] (and its entry vector) first: the same bytes as
    /// `BtpPacket::Message { request_id, protocol_data: entries.to_vec() }.encode()`.
    pub fn encode_entries(kind: EntriesKind, request_id: u32, entries: &[ProtocolData]) -> Vec<u8> {
        let packet_type = match kind {
            EntriesKind::Message => TYPE_MESSAGE,
            EntriesKind::Response => TYPE_RESPONSE,
        };
        let contents_len = protocol_data::list_encoded_len(entries);
        write_packet(packet_type, request_id, contents_len, |out| {
            protocol_data::write_list(out, entries)
        })
    }

    /// The canonical encoding (BTP Error `triggeredAt` always as `YYYYMMDDHHmmss.fffZ`).
    pub fn encode(&self) -> Vec<u8> {
        let contents_len = match self {
            BtpPacket::Response { protocol_data, .. }
            | BtpPacket::Message { protocol_data, .. } => {
                protocol_data::list_encoded_len(protocol_data)
            }
            BtpPacket::Error { error, .. } => error.encoded_len(),
            BtpPacket::Transfer { protocol_data, .. } => {
                8 + protocol_data::list_encoded_len(protocol_data)
            }
        };
        write_packet(
            self.packet_type(),
            self.request_id(),
            contents_len,
            |out| match self {
                BtpPacket::Response { protocol_data, .. }
                | BtpPacket::Message { protocol_data, .. } => {
                    protocol_data::write_list(out, protocol_data)
                }
                BtpPacket::Error { error, .. } => error.write(out),
                BtpPacket::Transfer {
                    amount,
                    protocol_data,
                    ..
                } => {
                    out.extend_from_slice(&amount.to_be_bytes());
                    protocol_data::write_list(out, protocol_data);
                }
            },
        )
    }

    pub fn packet_type(&self) -> u8 {
        match self {
            BtpPacket::Response { .. } => TYPE_RESPONSE,
            BtpPacket::Error { .. } => TYPE_ERROR,
            BtpPacket::Message { .. } => TYPE_MESSAGE,
            BtpPacket::Transfer { .. } => TYPE_TRANSFER,
        }
    }

    pub fn request_id(&self) -> u32 {
        match self {
            BtpPacket::Response { request_id, .. }
            | BtpPacket::Error { request_id, .. }
            | BtpPacket::Message { request_id, .. }
            | BtpPacket::Transfer { request_id, .. } => *request_id,
        }
    }

    pub fn protocol_data(&self) -> &[ProtocolData] {
        match self {
            BtpPacket::Response { protocol_data, .. }
            | BtpPacket::Message { protocol_data, .. }
            | BtpPacket::Transfer { protocol_data, .. } => protocol_data,
            BtpPacket::Error { error, .. } => &error.protocol_data,
        }
    }

    /// The first entry named `name`.
    pub fn find(&self, name: &str) -> Option<&ProtocolData> {
        self.protocol_data().iter().find(|p| p.name == name)
    }

    /// The primary (first) entry, which decides what a request asks for.
    pub fn primary(&self) -> Option<&ProtocolData> {
        self.protocol_data().first()
    }
}
