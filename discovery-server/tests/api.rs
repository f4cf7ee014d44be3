//! The HTTP API of the real binary: the announce → list → delete round trip, validation naming
//! each field, identity binding against impostors and replays, the capability filter, limits
//! (body size, rate, registry size) and the rejection metrics.

mod common;

use std::time::Duration;

use common::{Server, announcement, temp_dir};
use node_identity::NodeKey;
use proto::discovery::{
    AnnounceResponse, ListResponse, deregistration_bytes, sign_announcement, sign_deregistration,
    verify_announcement,
};
use test_kit::wait_until;

#[test]
fn announce_list_delete_round_trip() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[("DISCOVERY_TTL_SECONDS", "30")]);
    let (bob, alice) = (NodeKey::generate(), NodeKey::generate());
    // Announced out of order; listed by nodeId.
    let b = announcement(&bob, "bob", "wss://bob.example:443/btp", &["peering"], 1);
    let a = announcement(
        &alice,
        "alice",
        "ws://127.0.0.1:3000",
        &["peering", "usd"],
        1,
    );
    for ann in [&b, &a] {
        let response = server.announce(ann);
        assert_eq!(response.status, 200, "{}", response.body);
        let answer: AnnounceResponse = serde_json::from_str(&response.body).unwrap();
        assert_eq!(
            answer,
            AnnounceResponse {
                success: true,
                ttl: 30
            }
        );
    }
    let response = server.get("/api/v1/peers");
    assert_eq!(response.status, 200);
    let list: ListResponse = serde_json::from_str(&response.body).unwrap();
    assert_eq!(list.total, 2);
    assert_eq!(list.peers[0].node_id, "alice");
    assert_eq!(list.peers[1].node_id, "bob");
    let listed = &list.peers[0];
    assert_eq!(listed.btp_endpoint, a.btp_endpoint);
    assert_eq!(listed.ilp_address, a.ilp_address);
    assert_eq!(listed.capabilities, a.capabilities);
    assert_eq!(listed.version, a.version);
    assert_eq!(listed.public_key, alice.public_key_base64());
    // lastSeen is the server's clock, in Unix seconds, a JSON number (the stories' contract).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now - 60..=now + 1).contains(&listed.last_seen),
        "lastSeen {} is not about now ({now})",
        listed.last_seen
    );
    let raw: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert!(raw["peers"][0]["lastSeen"].is_u64(), "{}", response.body);

    let response = server.deregister("alice", 2, &sign_deregistration(&alice, "alice", 2));
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.json(), serde_json::json!({"success": true}));
    assert_eq!(server.listed(None), vec!["bob"]);
    let health = server.get("/health").json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["registered"], 1);
    assert!(health["uptimeSeconds"].is_u64());
    assert_eq!(server.metric("discovery_announces_total"), Some(2.0));
    assert_eq!(server.metric("discovery_deregistrations_total"), Some(1.0));
    assert_eq!(server.metric("discovery_registered_peers"), Some(1.0));
}

#[test]
fn each_malformed_field_is_refused_naming_it() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let key = NodeKey::generate();
    let good = announcement(&key, "node-1", "ws://127.0.0.1:3000", &["peering"], 1);
    type Mutation = Box<dyn Fn(&mut proto::discovery::Announcement)>;
    // Each case breaks one field and re-signs, so only that field is wrong.
    let cases: Vec<(&str, Mutation)> = vec![
        ("nodeId", Box::new(|a| a.node_id = "bad id!".into())),
        ("nodeId", Box::new(|a| a.node_id = String::new())),
        ("nodeId", Box::new(|a| a.node_id = "n".repeat(65))),
        (
            "btpEndpoint",
            Box::new(|a| a.btp_endpoint = "http://127.0.0.1:3000".into()),
        ),
        (
            "btpEndpoint",
            Box::new(|a| a.btp_endpoint = "ws://user:pw@host:3000".into()),
        ),
        ("btpEndpoint", Box::new(|a| a.btp_endpoint = "ws://".into())),
        (
            "btpEndpoint",
            Box::new(|a| a.btp_endpoint = format!("ws://{}", "h".repeat(509))),
        ),
        (
            "ilpAddress",
            Box::new(|a| a.ilp_address = "nowhere.x".into()),
        ),
        ("ilpAddress", Box::new(|a| a.ilp_address = "g".into())),
        (
            "capabilities",
            Box::new(|a| a.capabilities = vec!["Upper".into()]),
        ),
        (
            "capabilities",
            Box::new(|a| a.capabilities = vec!["x".into(), "x".into()]),
        ),
        (
            "capabilities",
            Box::new(|a| a.capabilities = (0..33).map(|i| format!("c{i}")).collect()),
        ),
        ("version", Box::new(|a| a.version = String::new())),
        ("version", Box::new(|a| a.version = "1\u{7}".into())),
        ("version", Box::new(|a| a.version = "v".repeat(65))),
    ];
    let mut expected_invalid = 0.0;
    for (field, mutate) in &cases {
        let mut a = good.clone();
        mutate(&mut a);
        sign_announcement(&key, &mut a);
        let response = server.announce(&a);
        assert_eq!(response.status, 400, "{field}: {}", response.body);
        let error = response.error();
        assert!(error.starts_with(field), "{field}: {error}");
        expected_invalid += 1.0;
    }
    // Fields that cannot be re-signed: a broken key or signature, a sequence of the wrong type.
    let raw = serde_json::to_value(&good).unwrap();
    let json_cases: Vec<(&str, serde_json::Value)> = vec![
        ("publicKey", serde_json::json!("not base64")),
        ("publicKey", serde_json::json!("AAAA")),
        ("signature", serde_json::json!("AAAA")),
        ("sequence", serde_json::json!("1")),
        ("sequence", serde_json::json!(-1)),
        ("nodeId", serde_json::Value::Null),
    ];
    for (field, value) in json_cases {
        let mut body = raw.clone();
        body[field] = value;
        let response = server.request(
            "POST",
            "/api/v1/peers/announce",
            &[],
            body.to_string().as_bytes(),
        );
        assert_eq!(response.status, 400, "{field}: {}", response.body);
        let error = response.error();
        assert!(error.starts_with(field), "{field}: {error}");
        expected_invalid += 1.0;
    }
    for body in [&b"{not json"[..], b"[1,2]", b""] {
        let response = server.request("POST", "/api/v1/peers/announce", &[], body);
        assert_eq!(response.status, 400, "{}", response.body);
        assert!(response.error().starts_with("body: "), "{}", response.body);
        expected_invalid += 1.0;
    }
    // None of it was registered; the good one still is accepted afterwards.
    assert!(server.listed(None).is_empty());
    assert_eq!(server.announce(&good).status, 200);
    assert_eq!(server.rejections("invalid_field"), expected_invalid);
}

#[test]
fn oversize_body_is_413() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let body = vec![b' '; 16 * 1024 + 1];
    let response = server.request("POST", "/api/v1/peers/announce", &[], &body);
    assert_eq!(response.status, 413, "{}", response.body);
    assert!(response.error().starts_with("body: "), "{}", response.body);
    assert_eq!(server.rejections("too_large"), 1.0);
    // At the limit it is read (and then refused for what it says, not for its size).
    let body = vec![b' '; 16 * 1024];
    let response = server.request("POST", "/api/v1/peers/announce", &[], &body);
    assert_eq!(response.status, 400, "{}", response.body);
}

#[test]
fn impostors_replays_and_moves() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[("DISCOVERY_TTL_SECONDS", "60")]);
    let owner = NodeKey::generate();
    let impostor = NodeKey::generate();
    let first = announcement(&owner, "east", "ws://10.0.0.1:3000", &["peering"], 1);
    assert_eq!(server.announce(&first).status, 200);

    // Another key, same node id — same endpoint or another: refused while the entry is live.
    for endpoint in ["ws://10.0.0.1:3000", "ws://10.6.6.6:3000"] {
        let fake = announcement(&impostor, "east", endpoint, &["peering"], 100);
        let response = server.announce(&fake);
        assert_eq!(response.status, 409, "{}", response.body);
        assert_eq!(response.error(), "nodeId: bound to another key");
    }
    // Nor can it deregister the owner.
    let response = server.deregister("east", 100, &sign_deregistration(&impostor, "east", 100));
    assert_eq!(response.status, 401, "{}", response.body);
    assert_eq!(response.error(), "signature: does not verify");
    // A body whose signature does not cover it.
    let mut tampered = first.clone();
    tampered.btp_endpoint = "ws://10.6.6.6:3000".into();
    tampered.sequence = 50;
    assert!(verify_announcement(&tampered).is_err());
    let response = server.announce(&tampered);
    assert_eq!(response.status, 401, "{}", response.body);
    assert_eq!(response.error(), "signature: does not verify");

    // The owner moves its endpoint.
    let moved = announcement(&owner, "east", "ws://10.0.0.2:3001", &["peering"], 2);
    assert_eq!(server.announce(&moved).status, 200);
    let list = server.get("/api/v1/peers").json();
    assert_eq!(list["peers"][0]["btpEndpoint"], "ws://10.0.0.2:3001");
    assert_eq!(list["peers"][0]["publicKey"], owner.public_key_base64());

    // Replays: the same announcement again, or an older one.
    for old in [&moved, &first] {
        let response = server.announce(old);
        assert_eq!(response.status, 409, "{}", response.body);
        assert!(
            response.error().starts_with("sequence: "),
            "{}",
            response.body
        );
    }
    let list = server.get("/api/v1/peers").json();
    assert_eq!(list["peers"][0]["btpEndpoint"], "ws://10.0.0.2:3001");

    // Deregistration credentials: missing, malformed, stale, then good, then gone.
    let response = server.request("DELETE", "/api/v1/peers/east", &[], b"");
    assert_eq!(response.status, 401, "{}", response.body);
    assert!(response.error().starts_with("X-Discovery-Sequence"));
    let response = server.request(
        "DELETE",
        "/api/v1/peers/east",
        &[("X-Discovery-Sequence", "3")],
        b"",
    );
    assert_eq!(response.status, 401, "{}", response.body);
    assert!(response.error().starts_with("X-Discovery-Signature"));
    let response = server.deregister("east", 3, "bm90IGEgc2lnbmF0dXJl");
    assert_eq!(response.status, 401, "{}", response.body);
    // Signed by the owner but over the wrong bytes (an announcement signature).
    let response = server.deregister("east", 3, &moved.signature);
    assert_eq!(response.status, 401, "{}", response.body);
    let response = server.deregister("east", 2, &sign_deregistration(&owner, "east", 2));
    assert_eq!(response.status, 409, "{}", response.body);
    assert!(response.error().starts_with("sequence: "));
    let good = sign_deregistration(&owner, "east", 3);
    assert_eq!(
        good,
        owner.sign_base64(&deregistration_bytes("east", 3)),
        "the documented bytes"
    );
    assert_eq!(server.deregister("east", 3, &good).status, 200);
    let response = server.deregister("east", 4, &sign_deregistration(&owner, "east", 4));
    assert_eq!(response.status, 404, "{}", response.body);
    let response = server.deregister("west", 1, &sign_deregistration(&owner, "west", 1));
    assert_eq!(response.status, 404, "{}", response.body);
    // The deregistered owner's old announcement cannot bring the entry back.
    assert_eq!(server.announce(&moved).status, 409);
    assert!(server.listed(None).is_empty());

    assert_eq!(server.rejections("identity_conflict"), 2.0);
    assert_eq!(server.rejections("bad_signature"), 6.0);
    assert_eq!(server.rejections("replay"), 4.0);
    assert_eq!(server.rejections("not_found"), 2.0);
}

#[test]
fn capability_filter_requires_all() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let key = NodeKey::generate();
    for (id, caps) in [
        ("a", &["x", "y"][..]),
        ("b", &["x"][..]),
        ("c", &["y", "z"][..]),
        ("d", &[][..]),
    ] {
        let response = server.announce(&announcement(&key, id, "ws://h:1", caps, 1));
        assert_eq!(response.status, 200, "{}", response.body);
    }
    assert_eq!(server.listed(None), vec!["a", "b", "c", "d"]);
    assert_eq!(server.listed(Some("")), vec!["a", "b", "c", "d"]);
    assert_eq!(server.listed(Some("x")), vec!["a", "b"]);
    assert_eq!(server.listed(Some("y")), vec!["a", "c"]);
    assert_eq!(server.listed(Some("x,y")), vec!["a"]);
    assert_eq!(server.listed(Some("y,x")), vec!["a"]);
    assert_eq!(server.listed(Some("x,z")), Vec::<String>::new());
    assert_eq!(server.listed(Some("nobody")), Vec::<String>::new());
    let response = server.get("/api/v1/peers?capabilities=X");
    assert_eq!(response.status, 400);
    assert!(response.error().starts_with("capabilities"));
}

/// A list is read in pages: `limit` entries each, `nextCursor` passed back as `after` until
/// there is none; every page says how many match in all, and together they hold every entry
/// once, in node id order.
#[test]
fn pages_follow_the_cursor_to_every_entry() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let key = NodeKey::generate();
    let ids = ["a", "b", "c", "d", "e"];
    for id in ids {
        let caps: &[&str] = if id == "c" { &[] } else { &["x"] };
        let response = server.announce(&announcement(&key, id, "ws://h:1", caps, 1));
        assert_eq!(response.status, 200, "{}", response.body);
    }
    let page = |query: &str| {
        let response = server.get(&format!("/api/v1/peers?{query}"));
        assert_eq!(response.status, 200, "{query}: {}", response.body);
        serde_json::from_str::<ListResponse>(&response.body).unwrap()
    };
    let mut seen = Vec::new();
    let mut query = "limit=2".to_string();
    for _ in 0..ids.len() {
        let list = page(&query);
        assert_eq!(list.total, 5, "{query}");
        assert!(list.peers.len() <= 2, "{query}");
        seen.extend(list.peers.into_iter().map(|p| p.node_id));
        match list.next_cursor {
            Some(cursor) => query = format!("limit=2&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    // With a filter the cursor walks the matching entries only.
    let first = page("capabilities=x&limit=3");
    assert_eq!(first.total, 4);
    let names: Vec<&str> = first.peers.iter().map(|p| p.node_id.as_str()).collect();
    assert_eq!(names, ["a", "b", "d"]);
    let cursor = first.next_cursor.expect("one more");
    let last = page(&format!("capabilities=x&limit=3&after={cursor}"));
    assert_eq!(last.peers.len(), 1);
    assert_eq!(last.peers[0].node_id, "e");
    assert_eq!(last.next_cursor, None);
    // The last page, and past the end: no cursor.
    assert_eq!(page("after=e").peers.len(), 0);
    assert!(!server.get("/api/v1/peers").body.contains("nextCursor"));
    for bad in ["limit=0", "limit=1001", "limit=x", "after=a%20b"] {
        let response = server.get(&format!("/api/v1/peers?{bad}"));
        assert_eq!(response.status, 400, "{bad}: {}", response.body);
    }
}

#[test]
fn rate_limit_answers_429_and_spares_monitoring() {
    let dir = temp_dir();
    let server = Server::start(
        dir.path(),
        &[
            ("DISCOVERY_RATE_PER_SECOND", "1"),
            ("DISCOVERY_RATE_BURST", "3"),
        ],
    );
    let statuses: Vec<u16> = (0..8).map(|_| server.get("/api/v1/peers").status).collect();
    // The burst passes (a token may refill while the requests run, hence "at least").
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    let limited = statuses.iter().filter(|&&s| s == 429).count();
    assert!(limited >= 4, "{statuses:?}");
    let response = server.get("/api/v1/peers");
    if response.status == 429 {
        assert!(response.error().starts_with("rate limited"));
        let retry: u64 = response.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry), "{retry}");
    }
    // /health and /metrics are never limited.
    for _ in 0..10 {
        assert_eq!(server.get("/health").status, 200);
    }
    assert!(server.rejections("rate_limited") >= limited as f64);
    // And the bucket refills.
    wait_until("a token", Duration::from_secs(5), || {
        server.get("/api/v1/peers").status == 200
    });
}

#[test]
fn a_full_registry_refuses_new_ids_only() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[("DISCOVERY_MAX_ENTRIES", "1")]);
    let key = NodeKey::generate();
    assert_eq!(
        server
            .announce(&announcement(&key, "one", "ws://h:1", &[], 1))
            .status,
        200
    );
    let response = server.announce(&announcement(&key, "two", "ws://h:2", &[], 1));
    assert_eq!(response.status, 503, "{}", response.body);
    assert_eq!(response.error(), "registry full");
    assert_eq!(
        server
            .announce(&announcement(&key, "one", "ws://h:1", &[], 2))
            .status,
        200
    );
    assert_eq!(server.rejections("registry_full"), 1.0);
}

#[test]
fn unknown_paths_and_methods_answer_json() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let response = server.get("/api/v1/nothing");
    assert_eq!(response.status, 404);
    assert!(response.error().starts_with("path"));
    let response = server.request("PUT", "/api/v1/peers/announce", &[], b"{}");
    assert_eq!(response.status, 405);
    assert!(response.error().starts_with("method"));
    let response = server.request(
        "DELETE",
        "/api/v1/peers/bad%20id",
        &[
            ("X-Discovery-Sequence", "1"),
            ("X-Discovery-Signature", "AAAA"),
        ],
        b"",
    );
    assert_eq!(response.status, 400, "{}", response.body);
    assert!(response.error().starts_with("nodeId"));
}
