//! BTP packet decoding: no input may panic; whatever decodes must re-encode to bytes that
//! decode to the same value, and (except for Errors, whose GeneralizedTime is normalised to
//! `.fffZ`) to the input itself. ILP packets inside protocolData are decoded too.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use proto::btp::BtpPacket;
use proto::ilp::Packet;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = BtpPacket::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    let wire = packet.encode();
    if !matches!(packet, BtpPacket::Error { .. }) {
        assert_eq!(wire, data, "BTP encoding differs from the accepted input");
    }
    let again = BtpPacket::decode(Bytes::from(wire)).expect("own encoding must decode");
    assert_eq!(again, packet);
    for entry in packet.protocol_data() {
        if let Ok(ilp) = Packet::decode(entry.data.clone()) {
            let inner = ilp.encode();
            assert_eq!(Packet::decode(inner).expect("re-decode"), ilp);
        }
    }
});
