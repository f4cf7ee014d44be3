//! ILP packet behaviour beyond the vectors: zero-copy decoding, in-place rewrites, size limits,
//! trailing bytes, builders.

mod common;

use bytes::Bytes;
use common::{ILP_PACKETS, vector_hex};
use proto::address::Address;
use proto::ilp::{
    AmountTooLarge, ErrorCode, Fulfill, FulfillBuilder, MAX_DATA_LEN, MAX_MESSAGE_LEN, Packet,
    Prepare, PrepareBuilder, Reject, RejectBuilder, condition_for, fulfillment_matches,
};
use proto::{DecodeError, EncodeError, Timestamp};

fn vector(wanted: &str) -> Vec<u8> {
    vector_hex(ILP_PACKETS, wanted)
}

/// Is `inner` a sub-slice of `outer`'s memory (not merely equal bytes)?
fn lies_inside(inner: &[u8], outer: &[u8]) -> bool {
    let outer_range = outer.as_ptr_range();
    let inner_range = inner.as_ptr_range();
    outer_range.start <= inner_range.start && inner_range.end <= outer_range.end
}

fn address(s: &str) -> Address {
    Address::new(s).expect("test address is valid")
}

#[test]
fn prepare_data_is_a_slice_of_the_input_not_a_copy() {
    let input = Bytes::from(vector("rs_prepare_fixture"));
    let prepare = Prepare::decode(input.clone()).expect("fixture decodes");
    assert_eq!(prepare.data().len(), 257);
    assert!(
        lies_inside(prepare.data(), &input),
        "data() at {:p} is outside the input buffer {:?}",
        prepare.data().as_ptr(),
        input.as_ptr_range()
    );
    // The encoding is the input itself, not a re-serialisation.
    assert_eq!(prepare.encode().as_ptr(), input.as_ptr());
    // Same through the dispatching decoder.
    let Ok(Packet::Prepare(p)) = Packet::decode(input.clone()) else {
        panic!("Packet::decode failed");
    };
    assert!(lies_inside(p.data(), &input));
}

#[test]
fn fulfill_and_reject_data_are_slices_of_the_input() {
    let input = Bytes::from(vector("rs_fulfill_fixture"));
    let fulfill = Fulfill::decode(input.clone()).expect("fixture decodes");
    assert!(lies_inside(fulfill.data(), &input));
    let input = Bytes::from(vector("rs_reject_fixture"));
    let reject = Reject::decode(input.clone()).expect("fixture decodes");
    assert!(lies_inside(reject.data(), &input));
}

#[test]
fn set_amount_and_expiry_rewrite_only_those_bytes() {
    let original = Bytes::from(vector("rs_prepare_fixture"));
    let mut prepare = Prepare::decode(original.clone()).expect("fixture decodes");
    let new_expiry = Timestamp::parse_ilp(b"20300101000000001").expect("valid");
    prepare.set_amount(0x0102_0304_0506_0708);
    prepare.set_expires_at(new_expiry);
    let wire = prepare.encode();
    assert_eq!(wire.len(), original.len());
    // Contents start after type (1) + long-form length (3).
    let amount_at = 4;
    let expiry_at = amount_at + 8;
    for (i, (a, b)) in original.iter().zip(wire.iter()).enumerate() {
        if !(amount_at..expiry_at + 17).contains(&i) {
            assert_eq!(a, b, "byte {i} changed");
        }
    }
    assert_eq!(&wire[amount_at..expiry_at], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&wire[expiry_at..expiry_at + 17], b"20300101000000001");
    let again = Prepare::decode(wire.clone()).expect("rewritten packet decodes");
    assert_eq!(again.amount(), 0x0102_0304_0506_0708);
    assert_eq!(again.expires_at(), new_expiry);
    assert_eq!(again, prepare);
    assert_eq!(
        again.data(),
        Prepare::decode(original).expect("decodes").data()
    );

    let mut both = again.clone();
    both.set_amount_and_expires_at(7, Timestamp::from_unix_ms(0));
    let decoded = Prepare::decode(both.encode()).expect("decodes");
    assert_eq!(decoded.amount(), 7);
    assert_eq!(decoded.expires_at().unix_ms(), 0);
    assert!(lies_inside(both.data(), &both.encode()));
}

#[test]
fn builder_reproduces_the_rs_fixture_with_long_form_lengths() {
    let fixture = vector("rs_prepare_fixture");
    let decoded = Prepare::decode(Bytes::from(fixture.clone())).expect("decodes");
    let built = PrepareBuilder {
        amount: 107,
        expires_at: Timestamp::parse_ilp(b"20180607204842483").expect("valid"),
        execution_condition: decoded.execution_condition(),
        destination: &address("example.alice"),
        data: decoded.data(),
    }
    .build()
    .expect("builds");
    assert_eq!(built.encode()[..], fixture[..]);
    assert_eq!(built, decoded);
}

#[test]
fn data_limit_is_enforced_on_build_and_on_decode() {
    let condition = [7u8; 32];
    let dest = address("g.x");
    let at_limit = vec![0xabu8; MAX_DATA_LEN];
    let over = vec![0xabu8; MAX_DATA_LEN + 1];
    let ok = PrepareBuilder {
        amount: 1,
        expires_at: Timestamp::from_unix_ms(0),
        execution_condition: &condition,
        destination: &dest,
        data: &at_limit,
    }
    .build()
    .expect("32767 bytes is allowed");
    assert_eq!(Prepare::decode(ok.encode()).expect("decodes"), ok);
    let err = PrepareBuilder {
        amount: 1,
        expires_at: Timestamp::from_unix_ms(0),
        execution_condition: &condition,
        destination: &dest,
        data: &over,
    }
    .build();
    assert_eq!(
        err.err(),
        Some(EncodeError::DataTooLong {
            field: "Prepare.data",
            len: 32768,
            max: 32767
        })
    );

    // A 32768-byte Fulfill, hand-assembled since no builder will make one.
    let mut contents = vec![0u8; 32];
    proto::oer::write_var_octets(&mut contents, &over);
    let mut wire = vec![13u8];
    proto::oer::write_var_octets(&mut wire, &contents);
    assert_eq!(
        Fulfill::decode(Bytes::from(wire)),
        Err(DecodeError::DataTooLong {
            field: "Fulfill.data",
            len: 32768,
            max: 32767
        })
    );
    assert_eq!(
        FulfillBuilder {
            fulfillment: &[0; 32],
            data: &over
        }
        .build()
        .err(),
        Some(EncodeError::DataTooLong {
            field: "Fulfill.data",
            len: 32768,
            max: 32767
        })
    );
}

#[test]
fn reject_message_limit_and_utf8() {
    let by = address("test.connector");
    let ok_message = "é".repeat(MAX_MESSAGE_LEN / 2) + "x"; // 8191 bytes
    assert_eq!(ok_message.len(), MAX_MESSAGE_LEN);
    let reject = RejectBuilder {
        code: ErrorCode::T00_INTERNAL_ERROR,
        triggered_by: Some(&by),
        message: &ok_message,
        data: b"",
    }
    .build()
    .expect("8191 bytes is allowed");
    assert_eq!(
        Reject::decode(reject.encode()).expect("decodes").message(),
        ok_message
    );

    let long = "x".repeat(MAX_MESSAGE_LEN + 1);
    let err = RejectBuilder {
        code: ErrorCode::T00_INTERNAL_ERROR,
        triggered_by: Some(&by),
        message: &long,
        data: b"",
    }
    .build();
    assert_eq!(
        err.err(),
        Some(EncodeError::MessageTooLong {
            len: 8192,
            max: 8191
        })
    );

    let reject_with_message = |message: &[u8]| {
        let mut contents = b"F99".to_vec();
        proto::oer::write_var_octets(&mut contents, b"g.a");
        proto::oer::write_var_octets(&mut contents, message);
        proto::oer::write_var_octets(&mut contents, b"");
        let mut wire = vec![14u8];
        proto::oer::write_var_octets(&mut wire, &contents);
        Reject::decode(Bytes::from(wire))
    };
    assert_eq!(
        reject_with_message(long.as_bytes()),
        Err(DecodeError::DataTooLong {
            field: "Reject.message",
            len: 8192,
            max: 8191
        })
    );
    assert_eq!(
        reject_with_message(b"caf\xe9"),
        Err(DecodeError::InvalidUtf8 {
            field: "Reject.message"
        })
    );
}

#[test]
fn inner_trailing_byte_is_refused_even_with_a_valid_code() {
    // rs_fuzzed_1_inner_trailing_byte with its code "tw\x7f" replaced by "F02": the only
    // remaining fault is the byte after the data field, inside the envelope.
    let mut wire = vector("rs_fuzzed_1_inner_trailing_byte");
    wire[2..5].copy_from_slice(b"F02");
    assert_eq!(
        Packet::decode(Bytes::from(wire.clone())),
        Err(DecodeError::TrailingBytesInContents {
            field: "Reject",
            count: 1
        })
    );
    // Without the stray byte (and with the length fixed) it is a fine Reject.
    wire.pop();
    wire[1] -= 1;
    let reject = Reject::decode(Bytes::from(wire.clone())).expect("decodes");
    assert_eq!(reject.triggered_by().map(Address::as_str), Some("test.t"));
    assert_eq!(reject.encode()[..], wire[..]);
}

#[test]
fn non_ia5_code_is_refused_without_the_trailing_byte_too() {
    // rs_fuzzed_0 minus its inner trailing byte: the code alone must fail.
    let mut wire = vector("rs_fuzzed_0_non_ascii_error_code");
    wire.pop();
    wire[1] -= 1;
    assert_eq!(
        Packet::decode(Bytes::from(wire)),
        Err(DecodeError::InvalidErrorCode)
    );
}

#[test]
fn bytes_after_the_envelope_are_ignored() {
    let clean = vector("js_fulfill_example01");
    let mut junk = clean.clone();
    junk.extend_from_slice(&[0xff, 0x00, 0x81]);
    let packet = Packet::decode(Bytes::from(junk)).expect("junk after the envelope is ignored");
    assert_eq!(packet.encode()[..], clean[..]);
}

#[test]
fn non_canonical_envelope_length_is_refused() {
    // js_fulfill_example01 is `0d 41 …`; `0d 81 41 …` says the same length non-canonically.
    let mut wire = vector("js_fulfill_example01");
    wire.insert(1, 0x81);
    assert_eq!(
        Packet::decode(Bytes::from(wire)),
        Err(DecodeError::NonCanonicalLength {
            field: "Fulfill envelope"
        })
    );
    let mut wire = vector("js_fulfill_example01");
    wire[1] = 0x80;
    assert_eq!(
        Packet::decode(Bytes::from(wire)),
        Err(DecodeError::IndefiniteLength {
            field: "Fulfill envelope"
        })
    );
}

#[test]
fn empty_triggered_by_round_trips_as_none() {
    let wire = vector("quilt_reject_T02_all_empty");
    let reject = Reject::decode(Bytes::from(wire.clone())).expect("accepted");
    assert_eq!(reject.triggered_by(), None);
    assert_eq!(reject.encode()[..], wire[..]);
    let built = RejectBuilder {
        code: ErrorCode::T02_PEER_BUSY,
        triggered_by: None,
        message: "",
        data: b"",
    }
    .build()
    .expect("builds");
    assert_eq!(built, reject);
}

#[test]
fn matched_condition_and_fulfillment() {
    let fulfillment = [0x42u8; 32];
    let condition = condition_for(&fulfillment);
    assert!(fulfillment_matches(&fulfillment, &condition));
    let mut wrong = condition;
    wrong[0] ^= 1;
    assert!(!fulfillment_matches(&fulfillment, &wrong));
}

#[test]
fn f08_reject_carries_amount_too_large() {
    let details = AmountTooLarge {
        received_amount: 255,
        maximum_amount: 65535,
    };
    let reject = RejectBuilder {
        code: ErrorCode::F08_AMOUNT_TOO_LARGE,
        triggered_by: Some(&address("g.us.connector")),
        message: "",
        data: &details.encode(),
    }
    .build()
    .expect("builds");
    let decoded = Reject::decode(reject.encode()).expect("decodes");
    assert_eq!(AmountTooLarge::decode(decoded.data()), Some(details));
    assert_eq!(AmountTooLarge::decode(b""), None);
}

#[test]
fn debug_output_is_readable() {
    let prepare = Prepare::decode(Bytes::from(vector("js_prepare_example01"))).expect("decodes");
    let text = format!("{prepare:?}");
    assert!(text.contains("amount: 107"), "{text}");
    assert!(text.contains("2017-12-23T01:21:40.549Z"), "{text}");
    assert!(text.contains("\"example.alice\""), "{text}");
    assert!(text.contains("74e1136d"), "{text}");
}
