//! Links authenticated with node keys instead of shared secrets: two nodes that know each
//! other's public keys connect and forward; a key that is not the configured one cannot.

mod common;

use std::time::Duration;

use btp_link::{ClientCredentials, LinkError, LinkSettings};
use common::{NodeProcess, secret};
use node_identity::NodeKey;
use node_identity::link_token;
use proto::Address;
use testpeer::{Payment, TestPeer};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_key_links_connect_and_impostors_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let (key_a, key_b) = (NodeKey::generate(), NodeKey::generate());
    let write = |name: &str, key: &NodeKey| {
        let path = dir.path().join(name);
        let hex: String = key.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(&path, hex).unwrap();
        path.display().to_string()
    };
    let (file_a, file_b) = (write("a.key", &key_a), write("b.key", &key_b));
    let (sender, receiver) = (secret("sender"), secret("receiver"));
    let b = NodeProcess::start_node(
        dir.path(),
        "b",
        &[
            format!(
                r#"{{ id: a, secretRef: node-key, publicKey: "{}" }}"#,
                key_a.public_key_base64()
            ),
            r#"{ id: receiver, secretRef: "env:SECRET_RECEIVER" }"#.into(),
        ],
        &[("test.b.receiver", "receiver")],
        &[
            ("NODE_KEY_FILE", file_b),
            ("SECRET_RECEIVER", receiver.clone()),
        ],
    );
    let a = NodeProcess::start_node(
        dir.path(),
        "a",
        &[
            format!(
                r#"{{ id: b, url: "ws://127.0.0.1:{}", secretRef: node-key, publicKey: "{}" }}"#,
                b.btp_port,
                key_b.public_key_base64()
            ),
            r#"{ id: sender, secretRef: "env:SECRET_SENDER" }"#.into(),
        ],
        &[("test.b", "b")],
        &[("NODE_KEY_FILE", file_a), ("SECRET_SENDER", sender.clone())],
    );
    a.wait_link_state("b", "up", Duration::from_secs(15));
    assert_eq!(b.link_state("a"), "up");
    let _receiver = TestPeer::connect_as(&b.btp_url(), &receiver, "test.b.receiver")
        .await
        .unwrap();
    let sender = TestPeer::connect_as(&a.btp_url(), &sender, "test.a.sender")
        .await
        .unwrap();
    b.wait_link_state("receiver", "up", Duration::from_secs(10));
    let payment = Payment::new(
        Address::new("test.b.receiver").unwrap(),
        5,
        b"keyed".to_vec(),
    );
    assert!(sender.send(&payment).await.unwrap().is_fulfilled());

    // Someone with another key claiming to be a, a token of a's meant for another node, and a
    // token of a's from too long ago: all refused, and a's session is untouched.
    let now = proto::Timestamp::now().unix_ms();
    let forged = [
        link_token::token(&NodeKey::generate(), "a", "b", now),
        link_token::token(&key_a, "a", "c", now),
        link_token::token(&key_a, "a", "b", now - 10 * 60 * 1000),
    ];
    for token in forged {
        let credentials = ClientCredentials {
            token,
            username: None,
        };
        let refused = btp_link::connect(&b.btp_url(), &credentials, &LinkSettings::default()).await;
        assert!(
            matches!(refused, Err(LinkError::AuthRejected { .. })),
            "{:?}",
            refused.err()
        );
    }
    assert_eq!(
        b.metric(r#"btp_auth_failures_total{reason="invalid_token"}"#),
        Some(3.0)
    );
    assert_eq!(b.link_state("a"), "up");
    assert!(sender.send(&payment).await.unwrap().is_fulfilled());
}
