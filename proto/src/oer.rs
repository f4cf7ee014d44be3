//! Canonical OER primitives (RFC 30): length determinants, VarUInts, var-octet-strings.
//!
//! Writers always produce the canonical (shortest) form. Readers accept only the canonical
//! form: RFC 27 lets a reader accept non-canonical input, but accepting it would mean two byte
//! strings decode to the same packet, and then re-encoding a relayed packet would change its
//! bytes.

use std::ops::Range;

use crate::error::DecodeError;

/// RFC 30 lets readers cap the number of long-form length bytes at 8 (lengths fit a u64).
pub const MAX_LENGTH_OF_LENGTH: usize = 8;

/// Reads a length determinant at the start of `buf`: `(length, bytes consumed)`.
///
/// Errors: `80` → [`DecodeError::IndefiniteLength`]; `81 00..7f` or a leading zero length byte
/// → [`DecodeError::NonCanonicalLength`]; more than 8 length bytes →
/// [`DecodeError::LengthTooLarge`]; too few bytes → [`DecodeError::UnexpectedEof`].
pub fn read_length(buf: &[u8]) -> Result<(usize, usize), DecodeError> {
    read_length_in(buf, "length determinant")
}

pub(crate) fn read_length_in(
    buf: &[u8],
    field: &'static str,
) -> Result<(usize, usize), DecodeError> {
    let Some(&first) = buf.first() else {
        return Err(DecodeError::UnexpectedEof { field });
    };
    if first < 0x80 {
        return Ok((usize::from(first), 1));
    }
    let len_of_len = usize::from(first & 0x7f);
    if len_of_len == 0 {
        return Err(DecodeError::IndefiniteLength { field });
    }
    if len_of_len > MAX_LENGTH_OF_LENGTH {
        return Err(DecodeError::LengthTooLarge { field, len_of_len });
    }
    let Some(len_bytes) = buf.get(1..1 + len_of_len) else {
        return Err(DecodeError::UnexpectedEof { field });
    };
    if len_bytes.first() == Some(&0) {
        return Err(DecodeError::NonCanonicalLength { field });
    }
    let value = len_bytes
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if value < 0x80 {
        return Err(DecodeError::NonCanonicalLength { field });
    }
    let len =
        usize::try_from(value).map_err(|_| DecodeError::LengthTooLarge { field, len_of_len })?;
    Ok((len, 1 + len_of_len))
}

/// Appends the canonical length determinant for `len`.
pub fn write_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        // `len < 0x80` so the cast cannot truncate.
        out.push(len as u8);
        return;
    }
    let be = (len as u64).to_be_bytes();
    let n = significant_bytes(len as u64);
    out.push(0x80 | n as u8);
    out.extend_from_slice(&be[be.len() - n..]);
}

/// Size in bytes of the canonical length determinant for `len`.
pub fn length_prefix_len(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + significant_bytes(len as u64)
    }
}

/// Reads a VarUInt (length determinant + big-endian value bytes): `(value, bytes consumed)`.
pub fn read_var_uint(buf: &[u8]) -> Result<(u64, usize), DecodeError> {
    read_var_uint_in(buf, "VarUInt")
}

pub(crate) fn read_var_uint_in(
    buf: &[u8],
    field: &'static str,
) -> Result<(u64, usize), DecodeError> {
    let (len, prefix) = read_length_in(buf, field)?;
    if len == 0 {
        return Err(DecodeError::EmptyVarUInt { field });
    }
    // Checked before the bounds check so a huge claimed length is reported as what it is.
    if len > 8 {
        return Err(DecodeError::VarUIntTooLong { field, len });
    }
    let Some(value_bytes) = buf.get(prefix..prefix + len) else {
        return Err(DecodeError::UnexpectedEof { field });
    };
    // Leading zeros (`02 00 01`) are rejected: the count would re-encode differently, and a
    // strict reader is what every other OER field here gets. (Lenient readers such as
    // interledger-rs' default build accept them; no known peer emits them.)
    if len > 1 && value_bytes.first() == Some(&0) {
        return Err(DecodeError::NonCanonicalVarUInt { field });
    }
    let value = value_bytes
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    Ok((value, prefix + len))
}

/// Appends the canonical VarUInt for `value` (at least one value byte, no leading zeros).
pub fn write_var_uint(out: &mut Vec<u8>, value: u64) {
    let n = significant_bytes(value).max(1);
    write_length(out, n);
    let be = value.to_be_bytes();
    out.extend_from_slice(&be[be.len() - n..]);
}

/// Size in bytes of the canonical VarUInt for `value`.
pub fn var_uint_len(value: u64) -> usize {
    let n = significant_bytes(value).max(1);
    length_prefix_len(n) + n
}

/// Appends a var-octet-string (length determinant + bytes).
pub fn write_var_octets(out: &mut Vec<u8>, bytes: &[u8]) {
    write_length(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Size in bytes of `bytes` encoded as a var-octet-string.
pub fn var_octets_len(len: usize) -> usize {
    length_prefix_len(len) + len
}

fn significant_bytes(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).div_ceil(8)
}

/// Cursor over a byte buffer that hands out positions rather than copies, so that decoders can
/// turn variable fields into zero-copy `Bytes::slice`s of the input.
///
/// `end` bounds every read: a decoder of length-delimited contents sets it to the end of the
/// contents so that no field can run past its enclosing block.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf[pos..end]`; positions it returns are indexes into `buf`.
    /// Callers must pass `pos <= end <= buf.len()`; anything else is clamped so that a reader
    /// can never index out of bounds.
    pub(crate) fn new(buf: &'a [u8], pos: usize, end: usize) -> Self {
        let end = end.min(buf.len());
        Reader {
            buf,
            pos: pos.min(end),
            end,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    fn rest(&self) -> &'a [u8] {
        // pos <= end <= buf.len() is kept by every method.
        self.buf.get(self.pos..self.end).unwrap_or(&[])
    }

    /// The bytes at a range previously returned by this reader.
    pub(crate) fn slice(&self, range: Range<usize>) -> &'a [u8] {
        self.buf.get(range).unwrap_or(&[])
    }

    pub(crate) fn take(
        &mut self,
        n: usize,
        field: &'static str,
    ) -> Result<Range<usize>, DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::UnexpectedEof { field });
        }
        let start = self.pos;
        self.pos += n;
        Ok(start..self.pos)
    }

    pub(crate) fn read_array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let range = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(range));
        Ok(out)
    }

    pub(crate) fn read_u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let [b] = self.read_array::<1>(field)?;
        Ok(b)
    }

    pub(crate) fn read_u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.read_array(field)?))
    }

    pub(crate) fn read_u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.read_array(field)?))
    }

    pub(crate) fn read_length(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let (len, used) = read_length_in(self.rest(), field)?;
        self.pos += used;
        Ok(len)
    }

    /// A var-octet-string; returns the range of its contents (the length was checked against
    /// the bytes actually present before anything is sliced or allocated).
    pub(crate) fn read_var_octets(
        &mut self,
        field: &'static str,
    ) -> Result<Range<usize>, DecodeError> {
        let len = self.read_length(field)?;
        self.take(len, field)
    }

    pub(crate) fn read_var_uint(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let (value, used) = read_var_uint_in(self.rest(), field)?;
        self.pos += used;
        Ok(value)
    }

    /// Fails if anything is left before `end`.
    pub(crate) fn finish(&self, field: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytesInContents { field, count }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_boundaries_round_trip() {
        for len in [
            0usize,
            1,
            127,
            128,
            255,
            256,
            65535,
            65536,
            1 << 24,
            usize::MAX,
        ] {
            let mut out = Vec::new();
            write_length(&mut out, len);
            assert_eq!(out.len(), length_prefix_len(len), "len {len}");
            assert_eq!(read_length(&out), Ok((len, out.len())), "len {len}");
        }
    }

    #[test]
    fn var_uint_boundaries_round_trip() {
        for v in [0u64, 1, 255, 256, 65535, 1 << 32, u64::MAX] {
            let mut out = Vec::new();
            write_var_uint(&mut out, v);
            assert_eq!(out.len(), var_uint_len(v));
            assert_eq!(read_var_uint(&out), Ok((v, out.len())), "value {v}");
        }
    }

    #[test]
    fn reader_never_reads_past_end() {
        let buf = [0x05, 1, 2, 3, 4, 5, 6];
        let mut r = Reader::new(&buf, 0, 4);
        assert_eq!(
            r.read_var_octets("x"),
            Err(DecodeError::UnexpectedEof { field: "x" })
        );
        let r = Reader::new(&buf, 10, 99);
        assert_eq!(r.remaining(), 0);
    }
}
