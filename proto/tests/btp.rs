//! BTP behaviour beyond the vectors.

mod common;

use bytes::Bytes;
use common::{BTP_PACKETS, vector_hex};
use proto::btp::{self, BtpError, BtpPacket, ContentType, ProtocolData};
use proto::{DecodeError, Timestamp};

fn vector(wanted: &str) -> Vec<u8> {
    vector_hex(BTP_PACKETS, wanted)
}

#[test]
fn protocol_data_is_a_slice_of_the_input() {
    let input = Bytes::from(vector("derived_ilp_prepare_in_message"));
    let packet = BtpPacket::decode(input.clone()).expect("decodes");
    let ilp = packet.find(btp::PROTOCOL_ILP).expect("has an ilp entry");
    let outer = input.as_ptr_range();
    let inner = ilp.data.as_ptr_range();
    assert!(outer.start <= inner.start && inner.end <= outer.end);
}

#[test]
fn only_types_1_2_6_7_are_known() {
    for t in 0u8..=255 {
        let wire = [t, 0, 0, 0, 1, 2, 1, 0];
        let result = BtpPacket::decode(Bytes::copy_from_slice(&wire));
        match t {
            1 | 6 => assert!(result.is_ok(), "type {t}: {result:?}"),
            // Error and Transfer need more contents than an empty list.
            2 | 7 => assert!(
                matches!(result, Err(DecodeError::UnexpectedEof { .. })),
                "type {t}: {result:?}"
            ),
            _ => assert_eq!(result, Err(DecodeError::UnknownPacketType(t)), "type {t}"),
        }
    }
}

#[test]
fn auth_message_lookup() {
    let packet = BtpPacket::decode(Bytes::from(vector("derived_js_auth_message"))).expect("ok");
    assert_eq!(
        packet.primary().map(|p| p.name.as_ref()),
        Some(btp::PROTOCOL_AUTH)
    );
    assert_eq!(
        packet.find(btp::PROTOCOL_AUTH_TOKEN).map(|p| &p.data[..]),
        Some(&b"secret"[..])
    );
    assert_eq!(
        packet
            .find(btp::PROTOCOL_AUTH_USERNAME)
            .map(|p| p.content_type),
        Some(ContentType::TEXT_PLAIN_UTF8)
    );
    assert!(packet.find("nope").is_none());
    assert_eq!(packet.request_id(), 123);
}

#[test]
fn first_entry_wins_in_find() {
    let packet = BtpPacket::Message {
        request_id: 1,
        protocol_data: vec![
            ProtocolData::new("ilp", ContentType::OCTET_STREAM, &b"first"[..]),
            ProtocolData::new("ilp", ContentType::OCTET_STREAM, &b"second"[..]),
        ],
    };
    assert_eq!(packet.find("ilp").map(|p| &p.data[..]), Some(&b"first"[..]));
}

#[test]
fn new_errors_emit_fff_z_and_round_trip() {
    let error = BtpError {
        code: btp::error_code::F00_NOT_ACCEPTED,
        name: btp::error_code::name(btp::error_code::F00_NOT_ACCEPTED)
            .unwrap_or_default()
            .to_owned(),
        triggered_at: Timestamp::from_unix_ms(1_503_945_120_000),
        data: Bytes::from_static(b"invalid auth_token"),
        protocol_data: vec![],
    };
    let packet = BtpPacket::Error {
        request_id: 9,
        error,
    };
    let wire = packet.encode();
    let needle = b"\x1320170828183200.000Z";
    assert!(wire.windows(needle.len()).any(|w| w == needle));
    assert_eq!(BtpPacket::decode(Bytes::from(wire)), Ok(packet));
}

#[test]
fn rfc30_canonical_generalized_time_is_read_then_written_as_fff_z() {
    // js_error with triggeredAt "20170828183200.000Z" rewritten as "20170828183200Z" (RFC 30's
    // canonical form, 4 bytes shorter): accepted, and re-encoded in the `.fffZ` form.
    let original = vector("js_error");
    let long = b"\x1320170828183200.000Z";
    let short = b"\x0f20170828183200Z";
    let at = original
        .windows(long.len())
        .position(|w| w == long)
        .expect("vector holds the timestamp");
    let mut wire = original[..at].to_vec();
    wire.extend_from_slice(short);
    wire.extend_from_slice(&original[at + long.len()..]);
    wire[5] -= 4; // contents length
    let packet = BtpPacket::decode(Bytes::from(wire)).expect("canonical form accepted");
    assert_eq!(packet.encode(), original);
}

#[test]
fn invalid_utf8_names_are_refused() {
    let mut wire = vector("rs_message_1");
    // protocolName "test" -> "te\xffst"
    let at = wire
        .windows(4)
        .position(|w| w == b"test")
        .expect("name present");
    wire[at + 2] = 0xff;
    assert_eq!(
        BtpPacket::decode(Bytes::from(wire)),
        Err(DecodeError::InvalidUtf8 {
            field: "BTP protocolData.name"
        })
    );
}

#[test]
fn huge_protocol_data_count_fails_without_allocating() {
    // Count u64::MAX, then nothing: must fail on the first entry, not reserve 2^64 slots.
    let mut contents = Vec::new();
    proto::oer::write_var_uint(&mut contents, u64::MAX);
    let mut wire = vec![6, 0, 0, 0, 1];
    proto::oer::write_var_octets(&mut wire, &contents);
    assert_eq!(
        BtpPacket::decode(Bytes::from(wire)),
        Err(DecodeError::UnexpectedEof {
            field: "BTP protocolData.name"
        })
    );
}

#[test]
fn long_contents_use_long_form_length() {
    let packet = BtpPacket::Transfer {
        request_id: u32::MAX,
        amount: u64::MAX,
        protocol_data: vec![ProtocolData::new(
            "settle",
            ContentType::APPLICATION_JSON,
            vec![b'x'; 300],
        )],
    };
    let wire = packet.encode();
    assert_eq!(wire[5], 0x82);
    assert_eq!(BtpPacket::decode(Bytes::from(wire)), Ok(packet));
}

#[test]
fn encoding_from_entries_matches_encoding_a_packet() {
    let entries = [
        ProtocolData::new(
            btp::PROTOCOL_ILP,
            ContentType::OCTET_STREAM,
            &b"\x0c\x01x"[..],
        ),
        ProtocolData::new("custom", ContentType::TEXT_PLAIN_UTF8, vec![b'y'; 200]),
    ];
    for request_id in [0, 7, u32::MAX] {
        let message = BtpPacket::Message {
            request_id,
            protocol_data: entries.to_vec(),
        };
        let response = BtpPacket::Response {
            request_id,
            protocol_data: entries.to_vec(),
        };
        assert_eq!(
            BtpPacket::encode_entries(btp::EntriesKind::Message, request_id, &entries),
            message.encode()
        );
        assert_eq!(
            BtpPacket::encode_entries(btp::EntriesKind::Response, request_id, &entries),
            response.encode()
        );
    }
    assert_eq!(
        BtpPacket::encode_entries(btp::EntriesKind::Message, 1, &[]),
        BtpPacket::Message {
            request_id: 1,
            protocol_data: Vec::new()
        }
        .encode()
    );
}

#[test]
fn known_entry_names_decode_without_allocating_and_others_intact() {
    let packet = BtpPacket::Message {
        request_id: 3,
        protocol_data: vec![
            ProtocolData::new(btp::PROTOCOL_ILP, ContentType::OCTET_STREAM, &b"a"[..]),
            ProtocolData::new(
                btp::PROTOCOL_TRACEPARENT,
                ContentType::TEXT_PLAIN_UTF8,
                &b"b"[..],
            ),
            ProtocolData::new("ilpx", ContentType::OCTET_STREAM, &b"c"[..]),
        ],
    };
    let decoded = BtpPacket::decode(Bytes::from(packet.encode())).expect("decodes");
    let names = decoded.protocol_data();
    assert!(matches!(names[0].name, std::borrow::Cow::Borrowed("ilp")));
    assert!(matches!(
        names[1].name,
        std::borrow::Cow::Borrowed("traceparent")
    ));
    assert!(matches!(&names[2].name, std::borrow::Cow::Owned(n) if n == "ilpx"));
    assert_eq!(decoded, packet);
}
