//! ILP packet decoding: no input may panic; whatever decodes must be canonical (its encoding
//! is the input's envelope, byte for byte) and must decode again to the same value.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use proto::Timestamp;
use proto::ilp::{AmountTooLarge, Fulfill, Packet, Prepare, Reject};

/// Zero-copy: a decoded data field must point into the input buffer.
fn inside(inner: &[u8], outer: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr_range(), inner.as_ptr_range());
    inner.is_empty() || (o.start <= i.start && i.end <= o.end)
}

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    let typed_ok = Prepare::decode(input.clone()).is_ok()
        || Fulfill::decode(input.clone()).is_ok()
        || Reject::decode(input.clone()).is_ok();
    let Ok(packet) = Packet::decode(input.clone()) else {
        assert!(
            !typed_ok,
            "a typed decoder accepted what Packet::decode refused"
        );
        return;
    };
    let wire = packet.encode();
    assert_eq!(
        &wire[..],
        &data[..wire.len()],
        "encoding is not the input envelope"
    );
    let again = Packet::decode(wire.clone()).expect("own encoding must decode");
    assert_eq!(again, packet);
    match &packet {
        Packet::Prepare(p) => {
            assert!(inside(p.data(), &input));
            // Rewriting the mutable fields keeps everything else and stays decodable.
            let mut q = p.clone();
            q.set_amount(p.amount() ^ 0x5555);
            q.set_expires_at(Timestamp::from_unix_ms(p.expires_at().unix_ms() / 2));
            let r = Prepare::decode(q.encode()).expect("rewritten Prepare decodes");
            assert_eq!(r.amount(), p.amount() ^ 0x5555);
            assert_eq!(r.destination(), p.destination());
            assert_eq!(r.data(), p.data());
            assert_eq!(r.execution_condition(), p.execution_condition());
        }
        Packet::Fulfill(f) => assert!(inside(f.data(), &input)),
        Packet::Reject(r) => {
            assert!(inside(r.data(), &input));
            let _ = AmountTooLarge::decode(r.data());
            let _ = format!("{r:?} {}", r.code());
        }
    }
});
