//! The protocolData list every BTP packet ends with.

use std::borrow::Cow;

use bytes::Bytes;

use crate::error::DecodeError;
use crate::oer::{self, Reader};

/// MIME type of a protocolData entry. Values other than the three RFC 23 defines are kept as
/// they are so that packets re-encode unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ContentType(pub u8);

impl ContentType {
    pub const OCTET_STREAM: ContentType = ContentType(0);
    pub const TEXT_PLAIN_UTF8: ContentType = ContentType(1);
    pub const APPLICATION_JSON: ContentType = ContentType(2);
}

/// One sub-protocol entry: name, content type, payload.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProtocolData {
    /// Borrowed for the names this crate knows (see [`KNOWN_NAMES`]), so decoding the
    /// entries of an ordinary ILP or auth frame allocates no string.
    pub name: Cow<'static, str>,
    pub content_type: ContentType,
    /// A zero-copy slice of the decoded packet.
    pub data: Bytes,
}

impl ProtocolData {
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        content_type: ContentType,
        data: impl Into<Bytes>,
    ) -> Self {
        ProtocolData {
            name: name.into(),
            content_type,
            data: data.into(),
        }
    }

    fn encoded_len(&self) -> usize {
        oer::var_octets_len(self.name.len()) + 1 + oer::var_octets_len(self.data.len())
    }
}

/// Names decoded without allocating.
const KNOWN_NAMES: [&str; 5] = [
    super::PROTOCOL_ILP,
    super::PROTOCOL_AUTH,
    super::PROTOCOL_AUTH_TOKEN,
    super::PROTOCOL_AUTH_USERNAME,
    super::PROTOCOL_TRACEPARENT,
];

fn intern(name: &str) -> Cow<'static, str> {
    match KNOWN_NAMES.iter().find(|known| **known == name) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(name.to_owned()),
    }
}

/// Smallest possible entry: empty name (1), content type (1), empty data (1).
const MIN_ENTRY_LEN: usize = 3;

pub(crate) fn read_list(r: &mut Reader<'_>, buf: &Bytes) -> Result<Vec<ProtocolData>, DecodeError> {
    let count = r.read_var_uint("BTP protocolData count")?;
    // The count comes from the wire: never reserve more entries than the bytes left can hold.
    let capacity = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(r.remaining() / MIN_ENTRY_LEN);
    let mut list = Vec::with_capacity(capacity);
    read_entries(r, buf, count, |name, content_type, data| {
        list.push(ProtocolData {
            name: intern(name),
            content_type,
            data,
        })
    })?;
    Ok(list)
}

/// Reads the list, handing each entry to `entry` as it goes (nothing is collected).
pub(crate) fn visit_list(
    r: &mut Reader<'_>,
    buf: &Bytes,
    entry: impl FnMut(&str, ContentType, Bytes),
) -> Result<(), DecodeError> {
    let count = r.read_var_uint("BTP protocolData count")?;
    read_entries(r, buf, count, entry)
}

fn read_entries(
    r: &mut Reader<'_>,
    buf: &Bytes,
    count: u64,
    mut entry: impl FnMut(&str, ContentType, Bytes),
) -> Result<(), DecodeError> {
    for _ in 0..count {
        let name = r.read_var_octets("BTP protocolData.name")?;
        let name = std::str::from_utf8(r.slice(name)).map_err(|_| DecodeError::InvalidUtf8 {
            field: "BTP protocolData.name",
        })?;
        let content_type = ContentType(r.read_u8("BTP protocolData.contentType")?);
        let data = buf.slice(r.read_var_octets("BTP protocolData.data")?);
        entry(name, content_type, data);
    }
    Ok(())
}

pub(crate) fn list_encoded_len(list: &[ProtocolData]) -> usize {
    oer::var_uint_len(list.len() as u64) + list.iter().map(ProtocolData::encoded_len).sum::<usize>()
}

/// Writes the list; the caller reserved [`list_encoded_len`] bytes.
pub(crate) fn write_list(out: &mut Vec<u8>, list: &[ProtocolData]) {
    oer::write_var_uint(out, list.len() as u64);
    for entry in list {
        oer::write_var_octets(out, entry.name.as_bytes());
        out.push(entry.content_type.0);
        oer::write_var_octets(out, &entry.data);
    }
}
