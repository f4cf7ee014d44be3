//! Contents of a BTP Error (type 2).

use bytes::Bytes;

use super::protocol_data::{self, ProtocolData};
use crate::error::DecodeError;
use crate::oer::{self, Reader};
use crate::timestamp::Timestamp;

/// A BTP-level failure (transport / protocol), not an ILP Reject.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BtpError {
    /// Three IA5 characters, e.g. `*b"F00"`; see [`super::error_code`]. Not validated: peers
    /// use non-standard codes (`L13` in the JS tests) and they must survive a round trip.
    pub code: [u8; 3],
    pub name: String,
    /// Encoded as GeneralizedTime `YYYYMMDDHHmmss.fffZ`.
    pub triggered_at: Timestamp,
    /// Free-form; JS peers put `{"message": "..."}` JSON here.
    pub data: Bytes,
    pub protocol_data: Vec<ProtocolData>,
}

impl BtpError {
    pub(crate) fn read(r: &mut Reader<'_>, buf: &Bytes) -> Result<BtpError, DecodeError> {
        let code = r.read_array::<3>("BTP Error.code")?;
        let name = r.read_var_octets("BTP Error.name")?;
        let name = std::str::from_utf8(r.slice(name))
            .map_err(|_| DecodeError::InvalidUtf8 {
                field: "BTP Error.name",
            })?
            .to_owned();
        let triggered_at = r.read_var_octets("BTP Error.triggeredAt")?;
        let triggered_at = Timestamp::parse_generalized_bytes(r.slice(triggered_at))?;
        let data = buf.slice(r.read_var_octets("BTP Error.data")?);
        let protocol_data = protocol_data::read_list(r, buf)?;
        Ok(BtpError {
            code,
            name,
            triggered_at,
            data,
            protocol_data,
        })
    }

    /// Every `.fffZ` GeneralizedTime is 19 bytes.
    const TRIGGERED_AT_LEN: usize = 19;

    pub(crate) fn encoded_len(&self) -> usize {
        3 + oer::var_octets_len(self.name.len())
            + oer::var_octets_len(Self::TRIGGERED_AT_LEN)
            + oer::var_octets_len(self.data.len())
            + protocol_data::list_encoded_len(&self.protocol_data)
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.code);
        oer::write_var_octets(out, self.name.as_bytes());
        oer::write_var_octets(out, self.triggered_at.to_generalized().as_bytes());
        oer::write_var_octets(out, &self.data);
        protocol_data::write_list(out, &self.protocol_data);
    }
}
