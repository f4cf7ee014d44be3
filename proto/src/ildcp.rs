//! ILDCP (RFC 31): how a child learns its address and asset from its parent. The child sends
//! a Prepare to `peer.config` (amount 0, empty data, the peer-protocol condition); the parent
//! answers with a Fulfill (32 zero bytes) whose data is this response.

use crate::error::{DecodeError, EncodeError};
use crate::ilp::{PEER_PROTOCOL_CONDITION, Prepare, PrepareBuilder};
use crate::oer::{read_length, write_var_octets};
use crate::{Address, Timestamp};

/// The destination of an ILDCP request.
pub const DESTINATION: &str = "peer.config";

/// How long after it is sent an ILDCP request expires, as JS and RS set it for peer protocols.
pub const REQUEST_EXPIRY_MS: i64 = 60_000;

/// The child's request, sent at `now`: a Prepare to `peer.config`, amount 0, empty data, the
/// peer-protocol condition, expiring [`REQUEST_EXPIRY_MS`] later. The answer is a Fulfill with
/// the zero fulfillment and an [`IldcpResponse`] as data, or a Reject.
pub fn request(now: Timestamp) -> Result<Prepare, EncodeError> {
    let destination = Address::new(DESTINATION).map_err(EncodeError::InvalidAddress)?;
    PrepareBuilder {
        amount: 0,
        expires_at: now.checked_add_ms(REQUEST_EXPIRY_MS).unwrap_or(now),
        execution_condition: &PEER_PROTOCOL_CONDITION,
        destination: &destination,
        data: &[],
    }
    .build()
}

/// What the parent tells the child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IldcpResponse {
    pub client_address: Address,
    pub asset_scale: u8,
    pub asset_code: String,
}

impl IldcpResponse {
    /// `clientAddress` (var-octet-string, ASCII), `assetScale` (UInt8), `assetCode`
    /// (var-octet-string, UTF-8).
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(self.client_address.as_str().len() + self.asset_code.len() + 8);
        write_var_octets(&mut out, self.client_address.as_str().as_bytes());
        out.push(self.asset_scale);
        write_var_octets(&mut out, self.asset_code.as_bytes());
        out
    }

    pub fn decode(data: &[u8]) -> Result<IldcpResponse, DecodeError> {
        let (address, rest) = var_octets(data, "clientAddress")?;
        let address = std::str::from_utf8(address).map_err(|_| DecodeError::InvalidUtf8 {
            field: "clientAddress",
        })?;
        let client_address = Address::new(address).map_err(DecodeError::InvalidAddress)?;
        let (&asset_scale, rest) = rest.split_first().ok_or(DecodeError::UnexpectedEof {
            field: "assetScale",
        })?;
        let (code, rest) = var_octets(rest, "assetCode")?;
        let asset_code = std::str::from_utf8(code)
            .map_err(|_| DecodeError::InvalidUtf8 { field: "assetCode" })?
            .to_string();
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytesAfterPacket {
                field: "ILDCP response",
                count: rest.len(),
            });
        }
        Ok(IldcpResponse {
            client_address,
            asset_scale,
            asset_code,
        })
    }
}

fn var_octets<'a>(buf: &'a [u8], field: &'static str) -> Result<(&'a [u8], &'a [u8]), DecodeError> {
    let (len, used) = read_length(buf).map_err(|_| DecodeError::UnexpectedEof { field })?;
    let rest = &buf[used..];
    if rest.len() < len {
        return Err(DecodeError::UnexpectedEof { field });
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of RFC 31 (and ilp-protocol-ildcp's fixture): example.client, 13, XAM.
    const EXAMPLE: &str = "0e6578616d706c652e636c69656e740d0358414d";

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn the_rfc_example_round_trips() {
        let response = IldcpResponse {
            client_address: Address::new("example.client").unwrap(),
            asset_scale: 13,
            asset_code: "XAM".into(),
        };
        assert_eq!(response.encode(), hex(EXAMPLE));
        assert_eq!(IldcpResponse::decode(&hex(EXAMPLE)).unwrap(), response);
    }

    #[test]
    fn the_request_is_an_empty_zero_amount_prepare_to_peer_config() {
        let now = Timestamp::now();
        let prepare = request(now).unwrap();
        assert_eq!(prepare.destination().as_str(), "peer.config");
        assert_eq!(prepare.amount(), 0);
        assert_eq!(*prepare.execution_condition(), PEER_PROTOCOL_CONDITION);
        assert!(prepare.data().is_empty());
        assert_eq!(prepare.expires_at().unix_ms() - now.unix_ms(), 60_000);
    }

    #[test]
    fn truncated_or_padded_responses_are_refused() {
        let bytes = hex(EXAMPLE);
        for cut in 0..bytes.len() {
            assert!(
                IldcpResponse::decode(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(IldcpResponse::decode(&padded).is_err());
        // "a.b": no such allocation scheme (RFC 15), so not an ILP address.
        assert!(IldcpResponse::decode(&hex("03612e620d0358414d")).is_err());
    }
}
