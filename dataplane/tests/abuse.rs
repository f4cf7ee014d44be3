//! A peer that sends garbage is answered with errors and cut off; nobody else notices.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{SINGLE_NODE, secret};
use futures_util::{SinkExt, StreamExt};
use proto::Address;
use proto::btp::{BtpPacket, ContentType, ProtocolData};
use testpeer::Payment;
use tokio_tungstenite::tungstenite::Message;

fn auth_frame(token: &str) -> Message {
    let packet = BtpPacket::Message {
        request_id: 7,
        protocol_data: vec![
            ProtocolData {
                name: "auth".into(),
                content_type: ContentType::OCTET_STREAM,
                data: Bytes::new(),
            },
            ProtocolData {
                name: "auth_token".into(),
                content_type: ContentType::TEXT_PLAIN_UTF8,
                data: Bytes::copy_from_slice(token.as_bytes()),
            },
        ],
    };
    Message::Binary(Bytes::from(packet.encode()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_gets_errors_then_a_disconnect_and_others_are_unaffected() {
    let dir = tempfile::tempdir().unwrap();
    let mallory_token = secret("m");
    // The single node, with mallory as one more peer.
    let yaml = SINGLE_NODE.replace(
        "routes:",
        "  - { id: mallory, secretRef: \"env:SECRET_MALLORY\" }\nroutes:",
    );
    let (node, _receiver, sender) = common::start_single_node(
        dir.path(),
        &yaml,
        &[("SECRET_MALLORY", mallory_token.clone())],
    )
    .await;

    // Garbage before authenticating: a BTP Error, then the socket closes.
    let (mut ws, _) = tokio_tungstenite::connect_async(node.btp_url())
        .await
        .unwrap();
    ws.send(Message::Binary(Bytes::from_static(&[
        6, 0, 0, 0, 9, 0xff, 0xff,
    ])))
    .await
    .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("an answer");
    match first {
        Some(Ok(Message::Binary(frame))) => {
            assert!(matches!(
                BtpPacket::decode(frame),
                Ok(BtpPacket::Error { request_id: 9, .. })
            ));
        }
        other => panic!("expected a BTP Error, got {other:?}"),
    }
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(message)) = ws.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(rest.is_ok(), "the unauthenticated socket is closed");

    // An authenticated peer that floods garbage: errors back, then disconnected.
    let (mut ws, _) = tokio_tungstenite::connect_async(node.btp_url())
        .await
        .unwrap();
    ws.send(auth_frame(&mallory_token)).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    assert!(
        matches!(answer, Some(Ok(Message::Binary(ref f))) if f.first() == Some(&1)),
        "{answer:?}"
    );
    node.wait_link_state("mallory", "up", Duration::from_secs(5));
    for i in 0..40u8 {
        if ws
            .send(Message::Binary(Bytes::from(vec![6, 0, 0, 0, i, 0x85])))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut errors = 0;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Binary(frame))) => {
                    if matches!(BtpPacket::decode(frame), Ok(BtpPacket::Error { .. })) {
                        errors += 1;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the flooding peer is disconnected");
    assert!(errors >= 1, "garbage is answered with BTP errors");
    node.wait_link_state("mallory", "disconnected", Duration::from_secs(5));
    let violations = node
        .metric(r#"btp_protocol_violations_total{kind="undecodable",peer="mallory"}"#)
        .unwrap_or(0.0);
    assert!(violations > 16.0, "violations counted: {violations}");
    assert_eq!(
        node.metric(r#"btp_auth_failures_total{reason="malformed"}"#),
        Some(1.0)
    );

    // The rest of the node carried on.
    let payment = Payment::new(
        Address::new("test.n.receiver").unwrap(),
        1,
        b"unaffected".to_vec(),
    );
    assert!(sender.send(&payment).await.unwrap().is_fulfilled());
    assert_eq!(node.link_state("sender"), "up");
}
