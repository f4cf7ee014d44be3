//! The mapping both ways, the hash over every field, and the API's field-named errors.

use super::*;
use crate::sections::DEFAULT_ASSET_SCALE;

fn full() -> PeerConfig {
    PeerConfig {
        id: "west".into(),
        url: Some("ws://west:3000".into()),
        relation: Relation::Child,
        asset_code: "EUR".into(),
        asset_scale: 6,
        max_packet_amount: Some(500),
        credit_limit: Some(7000),
        secret_ref: SecretRef::NodeKey,
        auth_username: Some("me".into()),
        public_key: Some("key".into()),
        ilp_address: Some(proto::Address::new("g.elsewhere.west").unwrap()),
    }
}

fn route(prefix: &str, peer: &str) -> RouteConfig {
    RouteConfig {
        prefix: prefix.into(),
        peer: peer.into(),
    }
}

/// One change per field of the model. The destructuring names every field, so a field added
/// to `PeerConfig` does not compile here until it has a change below too.
fn one_change_per_field() -> Vec<(&'static str, PeerConfig)> {
    let PeerConfig {
        id: _,
        url: _,
        relation: _,
        asset_code: _,
        asset_scale: _,
        max_packet_amount: _,
        credit_limit: _,
        secret_ref: _,
        auth_username: _,
        public_key: _,
        ilp_address: _,
    } = full();
    let with = |change: fn(&mut PeerConfig)| {
        let mut peer = full();
        change(&mut peer);
        peer
    };
    vec![
        ("id", with(|p| p.id = "east".into())),
        ("url", with(|p| p.url = None)),
        ("relation", with(|p| p.relation = Relation::Parent)),
        ("asset_code", with(|p| p.asset_code = "USD".into())),
        ("asset_scale", with(|p| p.asset_scale = 9)),
        ("max_packet_amount", with(|p| p.max_packet_amount = None)),
        ("credit_limit", with(|p| p.credit_limit = Some(7001))),
        (
            "secret_ref",
            with(|p| p.secret_ref = SecretRef::Env("W".into())),
        ),
        ("auth_username", with(|p| p.auth_username = None)),
        ("public_key", with(|p| p.public_key = Some("other".into()))),
        (
            "ilp_address",
            with(|p| p.ilp_address = Some(proto::Address::new("g.other.west").unwrap())),
        ),
    ]
}

#[test]
fn the_hash_sees_every_field_and_ignores_order() {
    let routes = [route("g.a", "west"), route("g.b", "east")];
    let base = content_hash(&[full()], &routes);
    for (field, changed) in one_change_per_field() {
        assert_ne!(content_hash(&[changed], &routes), base, "{field}");
    }
    assert_ne!(
        content_hash(&[full()], &[route("g.a", "east"), route("g.b", "east")]),
        base,
        "route peer"
    );
    assert_ne!(content_hash(&[full()], &routes[..1]), base, "route removed");
    let mut other = full();
    other.id = "east".into();
    assert_eq!(
        content_hash(&[full(), other.clone()], &routes),
        content_hash(&[other, full()], &[routes[1].clone(), routes[0].clone()]),
        "order"
    );
}

#[test]
fn a_snapshot_carries_every_field_both_ways() {
    let mut env_peer = full();
    env_peer.id = "east".into();
    env_peer.secret_ref = SecretRef::Env("EAST".into());
    env_peer.public_key = None;
    env_peer.url = None;
    let peers = vec![full(), env_peer];
    let routes = vec![route("g.a", "west")];
    let pushed = snapshot(
        pb::ConfigVersion {
            epoch: 1,
            generation: 2,
        },
        "n".into(),
        content_hash(&peers, &routes),
        &peers,
        &routes,
    );
    assert_eq!(table_from_snapshot(&pushed).unwrap(), (peers, routes));
    for (field, changed) in one_change_per_field() {
        let pushed = snapshot(
            pb::ConfigVersion::default(),
            String::new(),
            String::new(),
            std::slice::from_ref(&changed),
            &[],
        );
        assert_eq!(
            table_from_snapshot(&pushed).unwrap().0,
            vec![changed],
            "{field}"
        );
    }
}

#[test]
fn snapshot_problems_name_the_entry_and_the_peer() {
    let mut bad = peer_to_pb(&full());
    bad.relation = "boss".into();
    let pushed = pb::Snapshot {
        peers: vec![peer_to_pb(&full()), bad],
        ..Default::default()
    };
    let error = table_from_snapshot(&pushed).unwrap_err();
    assert_eq!(error.field, "peers[1].relation (peer west)");
    assert!(error.problem.contains("boss"), "{error}");
}

#[test]
fn api_input_gets_defaults_and_field_named_errors() {
    let created = peer_from_create(&pb::Peer {
        id: "a".into(),
        secret_ref: "env:A".into(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        (
            created.relation,
            created.asset_code.as_str(),
            created.asset_scale
        ),
        (Relation::Peer, DEFAULT_ASSET_CODE, DEFAULT_ASSET_SCALE)
    );
    let missing = peer_from_create(&pb::Peer {
        id: "a".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(missing.field, "peer.secret_ref");
    let invalid = peer_from_create(&pb::Peer {
        id: "a".into(),
        secret_ref: "env:A".into(),
        asset_code: "U$D".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(invalid.field, "peer.asset_code");
    for (relation, address, problem) in [
        ("child", "g..kid", "not an ILP address"),
        ("peer", "g.a.kid", "only used with relation child"),
    ] {
        let error = peer_from_create(&pb::Peer {
            id: "a".into(),
            secret_ref: "env:A".into(),
            relation: relation.into(),
            ilp_address: address.into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(error.field, "peer.ilp_address", "{relation} {address}");
        assert!(error.problem.contains(problem), "{error}");
    }

    let updated = peer_from_update(
        &created,
        &pb::Peer {
            credit_limit: Some(10),
            relation: "child".into(),
            ..Default::default()
        },
        &["credit_limit".into()],
    )
    .unwrap();
    assert_eq!(updated.credit_limit, Some(10));
    assert_eq!(updated.relation, Relation::Peer, "not in the mask");
    let error = peer_from_update(&created, &pb::Peer::default(), &["id".into()]).unwrap_err();
    assert_eq!(error.field, "update_mask");
}

#[test]
fn the_api_view_shows_the_model() {
    let shown = peer_to_api(&full());
    assert_eq!(
        (
            shown.id.as_str(),
            shown.secret_ref.as_str(),
            shown.public_key.as_str()
        ),
        ("west", "node-key", "key")
    );
    assert!(shown.etag.is_empty() && shown.create_time.is_none());
}
