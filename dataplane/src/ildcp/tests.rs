//! Tests of the ILDCP client: the request it sends and how it reads answers.

use proto::ilp::{ErrorCode, FulfillBuilder, PEER_PROTOCOL_CONDITION, Prepare, RejectBuilder};

use super::*;

/// RFC 31's example response: example.client / 13 / XAM.
const EXAMPLE: &[u8] = b"\x0eexample.client\x0d\x03XAM";

fn fulfill(fulfillment: &[u8; 32], data: &[u8]) -> Bytes {
    FulfillBuilder { fulfillment, data }
        .build()
        .expect("fulfill")
        .encode()
}

#[test]
fn the_request_is_rfc_31s_prepare() {
    let now = Timestamp::now();
    let prepare = Prepare::decode(request(now)).expect("a Prepare");
    assert_eq!(prepare.destination().as_str(), "peer.config");
    assert_eq!(prepare.amount(), 0);
    assert_eq!(*prepare.execution_condition(), PEER_PROTOCOL_CONDITION);
    assert!(prepare.data().is_empty());
    assert_eq!(prepare.expires_at().unix_ms() - now.unix_ms(), 60_000);
}

#[test]
fn a_fulfill_with_the_zero_fulfillment_gives_address_and_asset() {
    let response = read_answer(fulfill(&PEER_PROTOCOL_FULFILLMENT, EXAMPLE)).expect("read");
    assert_eq!(response.client_address.as_str(), "example.client");
    assert_eq!(
        (response.asset_code.as_str(), response.asset_scale),
        ("XAM", 13)
    );
}

#[test]
fn every_other_answer_is_an_error_saying_why() {
    let rejected = RejectBuilder {
        code: ErrorCode::F00_BAD_REQUEST,
        triggered_by: None,
        message: "children only",
        data: &[],
    }
    .build()
    .expect("reject")
    .encode();
    assert_eq!(
        read_answer(rejected),
        Err(IldcpError::Rejected {
            code: "F00".into(),
            message: "children only".into()
        })
    );
    let cases: [(Bytes, &str); 5] = [
        (fulfill(&[1; 32], EXAMPLE), "fulfillment"),
        (
            fulfill(&PEER_PROTOCOL_FULFILLMENT, b"\x03a.b\x0d\x03XAM"),
            "ILDCP response",
        ),
        (fulfill(&PEER_PROTOCOL_FULFILLMENT, b""), "ILDCP response"),
        (Bytes::from_static(b"\x0d\x01"), "Fulfill"),
        (Bytes::from_static(b"\x0c\x00"), "packet type 12"),
    ];
    for (answer, why) in cases {
        match read_answer(answer) {
            Err(error @ IldcpError::Invalid(_)) => {
                assert!(error.to_string().contains(why), "{error}");
                assert_eq!(error.label(), "invalid");
            }
            other => panic!("{why}: {other:?}"),
        }
    }
    assert!(matches!(
        read_answer(Bytes::new()),
        Err(IldcpError::Invalid(_))
    ));
}

#[test]
fn every_result_is_a_series_that_exists_from_the_start() {
    let errors = [
        IldcpError::Rejected {
            code: "F00".into(),
            message: String::new(),
        },
        IldcpError::Timeout(ANSWER_TIMEOUT),
        IldcpError::Link("closed".into()),
        IldcpError::Invalid("x".into()),
    ];
    for label in errors.iter().map(IldcpError::label).chain(["learned"]) {
        assert!(
            crate::metrics::ILDCP_RESULTS.contains(&label),
            "{label} is not pre-created"
        );
    }
}
