//! Property tests: for every valid packet, decode(encode(p)) == p and the encoding is
//! canonical; no byte string makes any decoder panic; timestamps round-trip over the whole
//! supported range (years 0000..=9999).

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use proto::address::{Address, SCHEMES};
use proto::btp::{self, BtpError, BtpPacket, ContentType, IlpCarrier, ProtocolData};
use proto::ilp::{
    ErrorCode, Fulfill, FulfillBuilder, MAX_DATA_LEN, Packet, Prepare, PrepareBuilder, Reject,
    RejectBuilder,
};
use proto::{Timestamp, oer};

fn arb_segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_~-]{1,24}"
}

fn arb_address() -> impl Strategy<Value = Address> {
    let normal = (prop::sample::select(SCHEMES), vec(arb_segment(), 1..6))
        .prop_map(|(scheme, segments)| format!("{scheme}.{}", segments.join(".")));
    // Near the 1023-byte limit, where length determinants go long-form.
    let long = (prop::sample::select(SCHEMES), 100usize..=1016).prop_map(|(scheme, n)| {
        let body = "a".repeat(n.min(1022 - scheme.len()));
        format!("{scheme}.{body}")
    });
    prop_oneof![9 => normal, 1 => long]
        .prop_map(|s| Address::new(&s).expect("strategy only makes valid addresses"))
}

fn arb_timestamp() -> impl Strategy<Value = Timestamp> {
    (Timestamp::MIN.unix_ms()..=Timestamp::MAX.unix_ms()).prop_map(Timestamp::from_unix_ms)
}

fn arb_data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => vec(any::<u8>(), 0..200),
        1 => vec(any::<u8>(), 120..140),
        1 => vec(any::<u8>(), MAX_DATA_LEN - 2..=MAX_DATA_LEN),
    ]
}

fn arb_prepare() -> impl Strategy<Value = Prepare> {
    (
        any::<u64>(),
        arb_timestamp(),
        any::<[u8; 32]>(),
        arb_address(),
        arb_data(),
    )
        .prop_map(|(amount, expires_at, condition, destination, data)| {
            build_prepare(amount, expires_at, &condition, &destination, &data)
        })
}

/// A Prepare from its fields; the strategies only make fields within the limits.
fn build_prepare(
    amount: u64,
    expires_at: Timestamp,
    execution_condition: &[u8; 32],
    destination: &Address,
    data: &[u8],
) -> Prepare {
    PrepareBuilder {
        amount,
        expires_at,
        execution_condition,
        destination,
        data,
    }
    .build()
    .expect("data within limit")
}

fn arb_fulfill() -> impl Strategy<Value = Fulfill> {
    (any::<[u8; 32]>(), arb_data()).prop_map(|(fulfillment, data)| {
        FulfillBuilder {
            fulfillment: &fulfillment,
            data: &data,
        }
        .build()
        .expect("data within limit")
    })
}

fn arb_error_code() -> impl Strategy<Value = ErrorCode> {
    (prop::sample::select(&b"FTR"[..]), 0u8..10, 0u8..10).prop_map(|(class, d1, d2)| {
        ErrorCode::new([class, b'0' + d1, b'0' + d2]).expect("valid by construction")
    })
}

fn arb_message() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => ".{0,60}",
        1 => Just("€".repeat(2730)), // 8190 bytes of 3-byte characters
    ]
}

fn arb_reject() -> impl Strategy<Value = Reject> {
    (
        arb_error_code(),
        prop::option::of(arb_address()),
        arb_message(),
        arb_data(),
    )
        .prop_map(|(code, triggered_by, message, data)| {
            build_reject(code, triggered_by.as_ref(), &message, &data)
        })
}

/// A Reject from its fields; the strategies only make fields within the limits.
fn build_reject(
    code: ErrorCode,
    triggered_by: Option<&Address>,
    message: &str,
    data: &[u8],
) -> Reject {
    RejectBuilder {
        code,
        triggered_by,
        message,
        data,
    }
    .build()
    .expect("within limits")
}

fn arb_packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        arb_prepare().prop_map(Packet::from),
        arb_fulfill().prop_map(Packet::from),
        arb_reject().prop_map(Packet::from),
    ]
}

fn arb_protocol_data() -> impl Strategy<Value = Vec<ProtocolData>> {
    vec(
        (".{0,12}", any::<u8>(), vec(any::<u8>(), 0..150))
            .prop_map(|(name, ct, data)| ProtocolData::new(name, ContentType(ct), data)),
        0..5,
    )
}

fn arb_btp() -> impl Strategy<Value = BtpPacket> {
    let error = (
        any::<[u8; 3]>(),
        ".{0,20}",
        arb_timestamp(),
        vec(any::<u8>(), 0..100),
        arb_protocol_data(),
    )
        .prop_map(|(code, name, triggered_at, data, protocol_data)| BtpError {
            code,
            name,
            triggered_at,
            data: Bytes::from(data),
            protocol_data,
        });
    prop_oneof![
        (any::<u32>(), arb_protocol_data()).prop_map(|(request_id, protocol_data)| {
            BtpPacket::Response {
                request_id,
                protocol_data,
            }
        }),
        (any::<u32>(), error)
            .prop_map(|(request_id, error)| BtpPacket::Error { request_id, error }),
        (any::<u32>(), arb_protocol_data()).prop_map(|(request_id, protocol_data)| {
            BtpPacket::Message {
                request_id,
                protocol_data,
            }
        }),
        (any::<u32>(), any::<u64>(), arb_protocol_data()).prop_map(
            |(request_id, amount, protocol_data)| BtpPacket::Transfer {
                request_id,
                amount,
                protocol_data,
            }
        ),
    ]
}

/// Whatever a decoder accepts must re-encode to something that decodes to the same value.
fn check_ilp_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(packet) = Packet::decode(Bytes::copy_from_slice(bytes)) {
        let wire = packet.encode();
        // Only canonical input is accepted, so the encoding is the input's envelope.
        prop_assert_eq!(&wire[..], &bytes[..wire.len()]);
        prop_assert_eq!(Packet::decode(wire), Ok(packet));
    }
    Ok(())
}

fn check_btp_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(packet) = BtpPacket::decode(Bytes::copy_from_slice(bytes)) {
        let wire = packet.encode();
        prop_assert_eq!(BtpPacket::decode(Bytes::from(wire)), Ok(packet));
    }
    check_carrier_agrees(&Bytes::copy_from_slice(bytes))
}

/// The links' shortcut decoder accepts, refuses and reads exactly what the full one does.
fn check_carrier_agrees(bytes: &Bytes) -> Result<(), TestCaseError> {
    match (IlpCarrier::decode(bytes), BtpPacket::decode(bytes.clone())) {
        (Ok(Some(carrier)), Ok(packet)) => {
            prop_assert_eq!(
                carrier.is_message,
                matches!(packet, BtpPacket::Message { .. })
            );
            let carries_entries = matches!(
                packet,
                BtpPacket::Message { .. } | BtpPacket::Response { .. }
            );
            prop_assert!(carries_entries, "type {}", packet.packet_type());
            prop_assert_eq!(carrier.request_id, packet.request_id());
            let entry = |name: &str| packet.find(name).map(|e| e.data.clone());
            prop_assert_eq!(carrier.ilp, entry(btp::PROTOCOL_ILP));
            prop_assert_eq!(carrier.traceparent, entry(btp::PROTOCOL_TRACEPARENT));
        }
        // Errors and Transfers are left to the full decoder, valid or not.
        (Ok(None), _) => prop_assert!(matches!(bytes.first(), Some(2 | 7))),
        (Err(shortcut), Err(full)) => prop_assert_eq!(shortcut, full),
        (shortcut, full) => prop_assert!(false, "shortcut {shortcut:?}, full {full:?}"),
    }
    Ok(())
}

proptest! {
    #[test]
    fn ilp_packets_round_trip(packet in arb_packet()) {
        let wire = packet.encode();
        let decoded = Packet::decode(wire.clone()).expect("own encoding decodes");
        prop_assert_eq!(&decoded, &packet);
        // Canonical: encoding what was decoded gives the same bytes.
        prop_assert_eq!(decoded.encode(), wire);
    }

    #[test]
    fn prepare_fields_survive(
        amount in any::<u64>(),
        expires_at in arb_timestamp(),
        condition in any::<[u8; 32]>(),
        destination in arb_address(),
        data in arb_data(),
    ) {
        let wire = build_prepare(amount, expires_at, &condition, &destination, &data).encode();
        let p = Prepare::decode(wire).expect("decodes");
        prop_assert_eq!(p.amount(), amount);
        prop_assert_eq!(p.expires_at(), expires_at);
        prop_assert_eq!(p.execution_condition(), &condition);
        prop_assert_eq!(p.destination(), &destination);
        prop_assert_eq!(&p.data()[..], &data[..]);
    }

    #[test]
    fn reject_fields_survive(
        code in arb_error_code(),
        triggered_by in prop::option::of(arb_address()),
        message in arb_message(),
        data in arb_data(),
    ) {
        let wire = build_reject(code, triggered_by.as_ref(), &message, &data).encode();
        let r = Reject::decode(wire).expect("decodes");
        prop_assert_eq!(r.code(), code);
        prop_assert_eq!(r.triggered_by(), triggered_by.as_ref());
        prop_assert_eq!(r.message(), message.as_str());
        prop_assert_eq!(&r.data()[..], &data[..]);
    }

    #[test]
    fn set_amount_and_expiry_match_a_fresh_build(
        prepare in arb_prepare(),
        amount in any::<u64>(),
        expires_at in arb_timestamp(),
    ) {
        let mut patched = prepare.clone();
        patched.set_amount(amount);
        patched.set_expires_at(expires_at);
        let rebuilt = build_prepare(
            amount,
            expires_at,
            prepare.execution_condition(),
            prepare.destination(),
            prepare.data(),
        );
        prop_assert_eq!(patched.encode(), rebuilt.encode());
    }

    #[test]
    fn btp_packets_round_trip(packet in arb_btp()) {
        let wire = packet.encode();
        let decoded = BtpPacket::decode(Bytes::from(wire.clone())).expect("own encoding decodes");
        prop_assert_eq!(&decoded, &packet);
        prop_assert_eq!(decoded.encode(), wire.clone());
        check_carrier_agrees(&Bytes::from(wire))?;
    }

    /// Entries named as the links look for them, repeated and in any order.
    #[test]
    fn carrier_finds_the_first_ilp_and_traceparent_entries(
        message in any::<bool>(),
        request_id in any::<u32>(),
        entries in vec(
            (prop::sample::select(&["ilp", "traceparent", "auth", "ilpx", ""][..]), vec(any::<u8>(), 0..40)),
            0..5,
        ),
    ) {
        let protocol_data: Vec<ProtocolData> = entries
            .into_iter()
            .map(|(name, data)| ProtocolData::new(name, ContentType::OCTET_STREAM, data))
            .collect();
        let packet = if message {
            BtpPacket::Message { request_id, protocol_data }
        } else {
            BtpPacket::Response { request_id, protocol_data }
        };
        let wire = Bytes::from(packet.encode());
        prop_assert!(IlpCarrier::decode(&wire).expect("decodes").is_some());
        check_carrier_agrees(&wire)?;
        // Cut anywhere, both refuse it alike.
        for cut in 0..wire.len() {
            check_carrier_agrees(&wire.slice(..cut))?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..400)) {
        check_ilp_bytes(&bytes)?;
        check_btp_bytes(&bytes)?;
        let b = Bytes::from(bytes.clone());
        let _ = Prepare::decode(b.clone());
        let _ = Fulfill::decode(b.clone());
        let _ = Reject::decode(b);
        let _ = Timestamp::parse_ilp(&bytes);
        let _ = Timestamp::parse_generalized(&String::from_utf8_lossy(&bytes));
        let _ = Address::from_bytes(&bytes);
        let _ = oer::read_length(&bytes);
        let _ = oer::read_var_uint(&bytes);
        let _ = proto::ilp::AmountTooLarge::decode(&bytes);
    }

    /// Arbitrary bytes rarely get past the type byte; start from a plausible header instead.
    #[test]
    fn arbitrary_contents_behind_valid_headers_never_panic(
        ilp_type in 12u8..=14,
        btp_type in prop::sample::select(&[1u8, 2, 6, 7][..]),
        contents in vec(any::<u8>(), 0..300),
    ) {
        let mut ilp = vec![ilp_type];
        oer::write_var_octets(&mut ilp, &contents);
        check_ilp_bytes(&ilp)?;
        let mut btp = vec![btp_type, 0, 0, 0, 1];
        oer::write_var_octets(&mut btp, &contents);
        check_btp_bytes(&btp)?;
    }

    #[test]
    fn single_byte_corruption_of_valid_packets_never_panics(
        packet in arb_packet(),
        btp in arb_btp(),
        index in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let mut wire = packet.encode().to_vec();
        let i = index.index(wire.len());
        wire[i] = value;
        check_ilp_bytes(&wire)?;
        let mut wire = btp.encode();
        let i = index.index(wire.len());
        wire[i] = value;
        check_btp_bytes(&wire)?;
    }

    #[test]
    fn timestamps_round_trip_in_both_wire_forms(t in arb_timestamp()) {
        prop_assert_eq!(Timestamp::parse_ilp(&t.to_ilp()), Ok(t));
        prop_assert_eq!(Timestamp::parse_generalized(&t.to_generalized()), Ok(t));
        prop_assert_eq!(Timestamp::from_system_time(t.to_system_time()), t);
    }

    #[test]
    fn ilp_timestamp_strings_are_canonical(digits in "[0-9]{17}") {
        // Any 17 digits that parse must print back identically (no normalisation).
        if let Ok(t) = Timestamp::parse_ilp(digits.as_bytes()) {
            prop_assert_eq!(&t.to_ilp()[..], digits.as_bytes());
        }
    }
}

/// Deterministic sweep over the whole supported range: the first and last millisecond of
/// every year, every day of 1960..2100 (where real packets live) and every 7th day elsewhere,
/// each at a time of day that varies from day to day. (proptest above samples arbitrary
/// milliseconds; src/civil.rs checks every single day of the calendar.)
#[test]
fn sweep_of_the_supported_range_round_trips() {
    const DAY: i64 = 86_400_000;
    let check = |ms: i64| {
        let t = Timestamp::from_unix_ms(ms);
        assert_eq!(t.unix_ms(), ms);
        let ilp = t.to_ilp();
        assert_eq!(
            Timestamp::parse_ilp(&ilp),
            Ok(t),
            "{}",
            String::from_utf8_lossy(&ilp)
        );
        ilp
    };
    let mut previous_year_end: Option<[u8; 17]> = None;
    for year in 0..=9999i64 {
        let jan1 = format!("{year:04}0101000000000");
        let t = Timestamp::parse_ilp(jan1.as_bytes()).expect("Jan 1 is valid");
        let first = check(t.unix_ms());
        // Lexicographic order of the digits is chronological order.
        if let Some(p) = previous_year_end {
            assert!(p < first, "{year}");
        }
        let dec31 = format!("{year:04}1231235959999");
        let t = Timestamp::parse_ilp(dec31.as_bytes()).expect("Dec 31 is valid");
        previous_year_end = Some(check(t.unix_ms()));
    }
    let modern = Timestamp::parse_ilp(b"19600101000000000")
        .expect("valid")
        .unix_ms()
        / DAY
        ..Timestamp::parse_ilp(b"21000101000000000")
            .expect("valid")
            .unix_ms()
            / DAY;
    let first_day = Timestamp::MIN.unix_ms() / DAY;
    let last_day = Timestamp::MAX.unix_ms().div_euclid(DAY);
    assert_eq!(
        last_day - first_day + 1,
        3_652_425,
        "days in 10000 Gregorian years"
    );
    for day in (first_day..=last_day).filter(|d| modern.contains(d) || d % 7 == 0) {
        check(day * DAY + day.rem_euclid(86_400) * 1000 + day.rem_euclid(1000));
    }
}
