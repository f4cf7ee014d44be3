use std::collections::BTreeMap;

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const YAML: &str = r#"
ilpAddress: g.node-a
name: node-a
btpServer: { host: 127.0.0.1, port: 3100 }
peers:
  - id: node-b
    url: ws://127.0.0.1:3001
    relation: peer
    assetCode: USD
    assetScale: 6
    maxPacketAmount: 1000
    creditLimit: 5000
    secretRef: env:NODE_B_SECRET
  - id: alice
    relation: child
    secretRef: file:/run/secrets/alice
routes:
  - { prefix: g.node-c, peer: node-b }
logging: { level: debug, format: text }
"#;

#[test]
fn file_config_is_read() {
    let config = NodeConfig::from_yaml(YAML).unwrap();
    assert_eq!(config.node_id, "node-a");
    assert_eq!(
        config.ilp_address.as_ref().map(|a| a.as_str()),
        Some("g.node-a")
    );
    assert_eq!(
        (config.btp_host.as_str(), config.btp_port),
        ("127.0.0.1", 3100)
    );
    assert_eq!(config.health_port, DEFAULT_HEALTH_PORT);
    assert_eq!(config.log.level, "debug");
    assert!(!config.log.json);
    assert_eq!(config.peers.len(), 2);
    let b = &config.peers[0];
    assert_eq!(b.max_packet_amount, Some(1000));
    assert_eq!(b.credit_limit, Some(5000));
    assert_eq!(b.asset_scale, 6);
    assert_eq!(b.secret_ref, SecretRef::Env("NODE_B_SECRET".into()));
    assert_eq!(config.peers[1].relation, Relation::Child);
    assert_eq!(config.peers[1].asset_code, DEFAULT_ASSET_CODE);
    assert_eq!(
        config.routes,
        vec![RouteConfig {
            prefix: "g.node-c".into(),
            peer: "node-b".into()
        }]
    );
}

#[test]
fn environment_overrides_the_file() {
    let dir = std::env::temp_dir().join(format!("dp-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("node.yaml");
    std::fs::write(&path, YAML).unwrap();
    let config = NodeConfig::from_env_map(&env(&[
        ("CONFIG_FILE", path.to_str().unwrap()),
        ("NODE_ID", "override"),
        ("BTP_SERVER_PORT", "4000"),
        ("HEALTH_CHECK_PORT", "0"),
        ("LOG_LEVEL", "warn"),
        ("BTP_PEER_NODE_B_URL", "ws://10.0.0.2:3000"),
        ("BTP_PEER_NODE_B_SECRET", "x"),
        ("BTP_PEER_CAROL_SECRET", "y"),
        ("BTP_PEER_CAROL_ROUTES", "g.carol, g.carol2"),
        ("BTP_PEER_CAROL_MAX_PACKET_AMOUNT", "77"),
    ]))
    .unwrap();
    assert_eq!(config.node_id, "override");
    assert_eq!(config.btp_port, 4000);
    assert_eq!(config.health_port, 0);
    assert_eq!(config.log.level, "warn");
    let b = &config.peers[0];
    assert_eq!(b.url.as_deref(), Some("ws://10.0.0.2:3000"));
    assert_eq!(
        b.secret_ref,
        SecretRef::Env("BTP_PEER_NODE_B_SECRET".into())
    );
    let carol = config.peers.iter().find(|p| p.id == "carol").unwrap();
    assert_eq!(carol.max_packet_amount, Some(77));
    assert!(
        config
            .routes
            .iter()
            .any(|r| r.prefix == "g.carol2" && r.peer == "carol")
    );
}

#[test]
fn a_childs_ildcp_address_can_come_from_the_environment() {
    let config = NodeConfig::from_env_map(&env(&[
        ("ILP_ADDRESS", "test.b"),
        ("BTP_PEER_KID_SECRET", "s"),
        ("BTP_PEER_KID_RELATION", "child"),
        ("BTP_PEER_KID_ILP_ADDRESS", "test.elsewhere.kid"),
    ]))
    .unwrap();
    assert_eq!(
        config.peers[0].ilp_address.as_ref().map(|a| a.as_str()),
        Some("test.elsewhere.kid")
    );
    let bad = NodeConfig::from_env_map(&env(&[
        ("ILP_ADDRESS", "test.b"),
        ("BTP_PEER_KID_SECRET", "s"),
        ("BTP_PEER_KID_RELATION", "child"),
        ("BTP_PEER_KID_ILP_ADDRESS", "test..kid"),
    ]))
    .unwrap_err();
    assert_eq!(bad.field, "BTP_PEER_KID_ILP_ADDRESS");
    let not_a_child = NodeConfig::from_env_map(&env(&[
        ("ILP_ADDRESS", "test.b"),
        ("BTP_PEER_KID_SECRET", "s"),
        ("BTP_PEER_KID_ILP_ADDRESS", "test.elsewhere.kid"),
    ]))
    .unwrap_err();
    assert_eq!(not_a_child.field, "peers[0].ilpAddress");
}

#[test]
fn env_only_configuration_works() {
    let config = NodeConfig::from_env_map(&env(&[
        ("ILP_ADDRESS", "test.b"),
        ("BTP_PEER_A_SECRET", "s"),
        ("BTP_PEER_C_URL", "ws://c:3000"),
        ("BTP_PEER_C_SECRET", "t"),
        ("BTP_PEER_C_ROUTES", "test.c"),
    ]))
    .unwrap();
    assert_eq!(
        config.node_id, "b",
        "node id defaults to the address's last segment"
    );
    assert_eq!(config.btp_port, DEFAULT_BTP_PORT);
    let ids: Vec<_> = config.peers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["a", "c"]);
}

#[test]
fn without_an_address_a_parent_is_asked_and_a_configured_one_wins() {
    let parent =
        "peers:\n  - { id: up, secretRef: 'env:U', relation: parent, url: 'ws://127.0.0.1:1' }\n";
    let config = NodeConfig::from_yaml(&format!("name: kid\n{parent}")).unwrap();
    assert_eq!((config.node_id.as_str(), config.ilp_address), ("kid", None));
    let config = NodeConfig::from_yaml(&format!("ilpAddress: g.kid\n{parent}")).unwrap();
    assert_eq!(
        config.ilp_address.as_ref().map(|a| a.as_str()),
        Some("g.kid")
    );
    // Managed mode: the parent comes with the control plane's snapshot.
    let managed = NodeConfig::from_env_map(&env(&[
        ("NODE_ID", "kid"),
        ("CONTROLPLANE_URL", "http://127.0.0.1:1"),
    ]))
    .unwrap();
    assert_eq!(managed.ilp_address, None);
}

fn error_of(yaml: &str) -> ConfigError {
    NodeConfig::from_yaml(yaml).unwrap_err()
}

#[test]
fn bad_configuration_names_the_field() {
    let base = "ilpAddress: g.a\n";
    let cases: &[(&str, &str, &str)] = &[
        ("ilpAddress: 'g..a'\n", "ilpAddress", "not an ILP address"),
        ("name: x\n", "ILP_ADDRESS", "relation: parent"),
        (
            "name: x\npeers:\n  - { id: b, secretRef: 'env:B', relation: child }\n",
            "ILP_ADDRESS",
            "required",
        ),
        (
            "peers:\n  - { id: up, secretRef: 'env:U', relation: parent }\n",
            "NODE_ID",
            "required when ILP_ADDRESS is not set",
        ),
        (
            "name: x\npeers:\n  - { id: up, secretRef: 'env:U', relation: parent }\n  - { id: up2, secretRef: 'env:V', relation: parent }\n",
            "peers[1].relation",
            "one parent at most",
        ),
        (
            "peers:\n  - { id: b, secretRef: 'env:B', ilpAddress: g.b }\n",
            "peers[0].ilpAddress",
            "only used with relation child",
        ),
        (
            "peers:\n  - { id: b, secret: hunter2 }\n",
            "peers[0].secret",
            "literal secrets are refused",
        ),
        (
            "peers:\n  - { id: b, secretRef: hunter2 }\n",
            "peers[0].secretRef",
            "literal secrets are refused",
        ),
        ("peers:\n  - { id: b }\n", "peers[0].secretRef", "required"),
        (
            "peers:\n  - { id: b, secretRef: 'env:B', url: 'http://x' }\n",
            "peers[0].url",
            "ws://",
        ),
        (
            "peers:\n  - { id: b, secretRef: 'env:B', relation: friend }\n",
            "peers[0].relation",
            "friend",
        ),
        (
            "peers:\n  - { id: b, secretRef: 'env:B' }\n  - { id: b, secretRef: 'env:C' }\n",
            "peers[1].id",
            "duplicate",
        ),
        (
            "routes:\n  - { prefix: g.x, peer: nobody }\n",
            "routes[0].peer",
            "unknown peer",
        ),
        (
            "peers:\n  - { id: b, secretRef: 'env:B' }\nroutes:\n  - { prefix: 'g.x!', peer: b }\n",
            "routes[0].prefix",
            "not an ILP prefix",
        ),
        (
            // The identity point: a small-order key, refused by the one strict parser.
            "peers:\n  - { id: b, secretRef: node-key, publicKey: 'AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' }\n",
            "peers[0].publicKey",
            "not a usable Ed25519 public key",
        ),
        ("logging: { level: loud }\n", "logging.level", "loud"),
        (
            "forwarding: { expiryMarginMs: 0 }\n",
            "forwarding.expiryMarginMs",
            "greater than 0",
        ),
        ("bogus: 1\n", "CONFIG_FILE", "bogus"),
        (
            "peers:\n  - { id: b, secretRef: 'env:B', assetScale: 300 }\n",
            "CONFIG_FILE",
            "peers[0].assetScale",
        ),
    ];
    for (extra, field, needle) in cases {
        let yaml = if extra.starts_with("ilpAddress")
            || extra.starts_with("name")
            || extra.contains("relation: parent")
        {
            extra.to_string()
        } else {
            format!("{base}{extra}")
        };
        let error = error_of(&yaml);
        assert_eq!(error.field, *field, "yaml {yaml:?} gave {error}");
        assert!(
            error.to_string().contains(needle),
            "yaml {yaml:?} gave {error}"
        );
        assert!(!error.to_string().contains('\n'), "one line: {error}");
    }
}

#[test]
fn bad_environment_names_the_variable() {
    let error = NodeConfig::from_env_map(&env(&[
        ("ILP_ADDRESS", "g.a"),
        ("BTP_SERVER_PORT", "70000"),
    ]))
    .unwrap_err();
    assert_eq!(error.field, "BTP_SERVER_PORT");
    let error = NodeConfig::from_env_map(&env(&[
        ("ILP_ADDRESS", "g.a"),
        ("BTP_PEER_X_URL", "ws://x:1"),
    ]))
    .unwrap_err();
    assert_eq!(error.field, "BTP_PEER_X_URL");
    assert!(error.problem.contains("BTP_PEER_X_SECRET"), "{error}");
    // A key backend this build does not implement stops the node; it never falls back.
    let error =
        NodeConfig::from_env_map(&env(&[("ILP_ADDRESS", "g.a"), ("KEY_BACKEND", "aws-kms")]))
            .unwrap_err();
    assert_eq!(error.field, "KEY_BACKEND");
    assert!(
        error.problem.contains("not supported by this build yet"),
        "{error}"
    );
    assert!(
        NodeConfig::from_env_map(&env(&[("ILP_ADDRESS", "g.a"), ("KEY_BACKEND", "env")])).is_ok()
    );
}

#[test]
fn a_json_file_reads_like_the_same_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let json = serde_json::json!({
        "ilpAddress": "g.node-a",
        "name": "node-a",
        "btpServer": { "host": "127.0.0.1", "port": 3100 },
        "peers": [
            { "id": "node-b", "url": "ws://127.0.0.1:3001", "relation": "peer",
              "assetCode": "USD", "assetScale": 6, "maxPacketAmount": 1000,
              "creditLimit": 5000, "secretRef": "env:NODE_B_SECRET" },
            { "id": "alice", "relation": "child", "secretRef": "file:/run/secrets/alice" }
        ],
        "routes": [ { "prefix": "g.node-c", "peer": "node-b" } ],
        "logging": { "level": "debug", "format": "text" }
    });
    let path = dir.path().join("node.JSON");
    std::fs::write(&path, json.to_string()).unwrap();
    let from_json =
        NodeConfig::from_env_map(&env(&[("CONFIG_FILE", path.to_str().unwrap())])).unwrap();
    assert_eq!(from_json, NodeConfig::from_yaml(YAML).unwrap());

    // The same refusals, naming the file's problem.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"ilpAddress": "g.a", "peers": [{"id": "x", "secret": "hunter2"}]}"#,
    )
    .unwrap();
    let error =
        NodeConfig::from_env_map(&env(&[("CONFIG_FILE", bad.to_str().unwrap())])).unwrap_err();
    assert!(
        error.to_string().contains("literal secrets are refused"),
        "{error}"
    );
    std::fs::write(
        &bad,
        r#"{"ilpAddress": "g.a", "peers": [{"id": "x", "colour": 1}]}"#,
    )
    .unwrap();
    let error =
        NodeConfig::from_env_map(&env(&[("CONFIG_FILE", bad.to_str().unwrap())])).unwrap_err();
    assert!(error.to_string().contains("colour"), "{error}");
    assert!(error.to_string().contains("CONFIG_FILE"), "{error}");
}
