//! Data of an F08 Amount Too Large Reject (`asn1/InterledgerErrorData.asn`).

/// Two big-endian u64s, in the rejecting connector's incoming units.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AmountTooLarge {
    pub received_amount: u64,
    /// Inclusive: the connector forwards amounts up to and including this.
    pub maximum_amount: u64,
}

impl AmountTooLarge {
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.received_amount.to_be_bytes());
        out[8..].copy_from_slice(&self.maximum_amount.to_be_bytes());
        out
    }

    /// `None` for data shorter than 16 bytes: the data is only a SHOULD (Java peers send F08
    /// with empty data), so callers treat that as "maximum unknown". Bytes after the first 16
    /// are ignored, as RFC 30 asks of readers.
    pub fn decode(data: &[u8]) -> Option<AmountTooLarge> {
        let received = data.get(..8)?.try_into().ok()?;
        let maximum = data.get(8..16)?.try_into().ok()?;
        Some(AmountTooLarge {
            received_amount: u64::from_be_bytes(received),
            maximum_amount: u64::from_be_bytes(maximum),
        })
    }
}
