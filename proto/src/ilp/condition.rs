//! Execution conditions: SHA-256 of the 32-byte fulfillment.

use sha2::{Digest, Sha256};

/// The fulfillment peer protocols (ILDCP, CCP, settlement) answer with: 32 zero bytes.
pub const PEER_PROTOCOL_FULFILLMENT: [u8; 32] = [0; 32];

/// SHA-256 of [`PEER_PROTOCOL_FULFILLMENT`], the condition of every `peer.*` request.
pub const PEER_PROTOCOL_CONDITION: [u8; 32] = [
    0x66, 0x68, 0x7a, 0xad, 0xf8, 0x62, 0xbd, 0x77, 0x6c, 0x8f, 0xc1, 0x8b, 0x8e, 0x9f, 0x8e, 0x20,
    0x08, 0x97, 0x14, 0x85, 0x6e, 0xe2, 0x33, 0xb3, 0x90, 0x2a, 0x59, 0x1d, 0x0d, 0x5f, 0x29, 0x25,
];

/// SHA-256(fulfillment) == condition. A plain comparison: both values are public once the
/// Fulfill is on the wire, so timing reveals nothing.
pub fn fulfillment_matches(fulfillment: &[u8; 32], condition: &[u8; 32]) -> bool {
    condition_for(fulfillment) == *condition
}

/// SHA-256 of the fulfillment.
pub fn condition_for(fulfillment: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(fulfillment).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_protocol_pair_matches() {
        assert_eq!(
            condition_for(&PEER_PROTOCOL_FULFILLMENT),
            PEER_PROTOCOL_CONDITION
        );
        assert!(fulfillment_matches(
            &PEER_PROTOCOL_FULFILLMENT,
            &PEER_PROTOCOL_CONDITION
        ));
        assert!(!fulfillment_matches(&[1; 32], &PEER_PROTOCOL_CONDITION));
    }
}
