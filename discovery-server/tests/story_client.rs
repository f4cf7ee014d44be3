//! The seed story's client ("Peer Discovery Protocol Specification") against the real binary:
//! unsigned announcements as raw HTTP/JSON, written by hand here rather than with our
//! `proto::discovery` types, so the test holds the server to the story's bytes. Signed
//! entries (our control planes) share the server and must stay out of an unsigned client's
//! reach.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::{Server, announcement, temp_dir};
use node_identity::NodeKey;
use serde_json::{Value, json};

/// A story client's answer: the status and the JSON body.
struct Answer {
    status: u16,
    body: Value,
}

/// One HTTP/1.1 request from `source` (a loopback address: the server tells clients apart by
/// IP) to the server, on a fresh connection, read to its end; bounded by 10 s.
fn story_request(
    server: &Server,
    source: Ipv4Addr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Answer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = server.port;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Accept: application/json\r\n"
    );
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        request.push_str("\r\n");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let raw = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
            let mut stream = socket
                .connect(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
                .await?;
            stream.write_all(request.as_bytes()).await?;
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await?;
            Ok::<_, std::io::Error>(raw)
        })
        .await
    });
    let raw = match raw {
        Ok(Ok(raw)) => String::from_utf8(raw).expect("a UTF-8 answer"),
        Ok(Err(error)) => panic!("{method} {path} from {source}: {error}"),
        Err(_) => panic!("{method} {path} from {source}: no answer within 10 s"),
    };
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "this client reads whole bodies only: {head}"
    );
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    Answer { status, body }
}

const HOME: Ipv4Addr = Ipv4Addr::LOCALHOST;
const STRANGER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn announce(server: &Server, from: Ipv4Addr, body: &Value) -> Answer {
    story_request(
        server,
        from,
        "POST",
        "/api/v1/peers/announce",
        Some(&body.to_string()),
    )
}

/// The story's announcement: no publicKey, sequence or signature.
fn peer_info(node_id: &str, endpoint: &str, capabilities: &[&str]) -> Value {
    json!({
        "nodeId": node_id,
        "btpEndpoint": endpoint,
        "ilpAddress": format!("g.story.{node_id}"),
        "capabilities": capabilities,
        "version": "1.0.0",
    })
}

fn peers(server: &Server, query: &str) -> Vec<Value> {
    let answer = story_request(server, HOME, "GET", &format!("/api/v1/peers{query}"), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["peers"].as_array().expect("peers").clone()
}

fn ids(peers: &[Value]) -> Vec<&str> {
    peers.iter().filter_map(|p| p["nodeId"].as_str()).collect()
}

fn refused(answer: &Answer, status: u16) -> String {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["success"], false, "{}", answer.body);
    answer.body["error"]
        .as_str()
        .expect("an error string")
        .to_string()
}

#[test]
fn the_story_client_announces_lists_and_deregisters_unchanged() {
    let dir = temp_dir();
    // The default TTL: what the story's clients are told to re-announce within.
    let server = Server::start(dir.path(), &[]);
    let alice = peer_info("alice", "ws://alice.example:3000", &["peering", "usd"]);
    let answer = announce(&server, HOME, &alice);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, json!({"success": true, "ttl": 120}));
    let bob = peer_info("bob", "wss://bob.example/btp", &["settlement-xrp"]);
    assert_eq!(announce(&server, HOME, &bob).status, 200);

    // PeerInfo as the story reads it, with the verified mark beside it.
    let listed = peers(&server, "");
    assert_eq!(ids(&listed), ["alice", "bob"]);
    let entry = &listed[0];
    for field in [
        "nodeId",
        "btpEndpoint",
        "ilpAddress",
        "capabilities",
        "version",
    ] {
        assert_eq!(entry[field], alice[field], "{field}: {entry}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let last_seen = entry["lastSeen"].as_u64().expect("lastSeen is a number");
    assert!(
        (now - 60..=now + 1).contains(&last_seen),
        "{last_seen} {now}"
    );
    assert_eq!(entry["verified"], false, "{entry}");
    assert_eq!(entry["publicKey"], "", "nothing proven: {entry}");

    // The capability filter.
    assert_eq!(ids(&peers(&server, "?capabilities=peering")), ["alice"]);
    assert_eq!(
        ids(&peers(&server, "?capabilities=settlement-xrp")),
        ["bob"]
    );
    assert!(peers(&server, "?capabilities=peering,settlement-xrp").is_empty());

    // The same node id with another endpoint: 409; with the same one: a refresh.
    let moved = peer_info("alice", "ws://elsewhere.example:3000", &["peering"]);
    let error = refused(&announce(&server, STRANGER, &moved), 409);
    assert_eq!(error, "nodeId: registered with another btpEndpoint");
    assert_eq!(announce(&server, HOME, &alice).status, 200);
    assert_eq!(
        peers(&server, "")[0]["btpEndpoint"],
        "ws://alice.example:3000"
    );

    // Bad input shapes: 400 naming what is wrong, nothing registered.
    let mut cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "body"),
        ("[]".into(), "body"),
        ("{}".into(), "nodeId"),
    ];
    let broken = |field: &str, value: Value| {
        let mut body = peer_info("carl", "ws://carl:1", &[]);
        body[field] = value;
        body.to_string()
    };
    cases.push((broken("nodeId", json!("no spaces")), "nodeId"));
    cases.push((broken("btpEndpoint", json!("http://carl:1")), "btpEndpoint"));
    cases.push((broken("ilpAddress", json!(7)), "ilpAddress"));
    cases.push((broken("capabilities", json!("peering")), "capabilities"));
    cases.push((broken("version", Value::Null), "version"));
    for (body, field) in &cases {
        let answer = story_request(&server, HOME, "POST", "/api/v1/peers/announce", Some(body));
        let error = refused(&answer, 400);
        assert!(error.starts_with(field), "{body}: {error}");
    }
    assert_eq!(ids(&peers(&server, "")), ["alice", "bob"]);

    // A signed entry is out of an unsigned client's reach: neither replaced nor removed.
    let owner = NodeKey::generate();
    let signed = announcement(&owner, "carol", "ws://carol.example:3000", &["peering"], 1);
    assert_eq!(server.announce(&signed).status, 200);
    for endpoint in ["ws://carol.example:3000", "ws://evil.example:3000"] {
        let error = refused(
            &announce(&server, HOME, &peer_info("carol", endpoint, &[])),
            409,
        );
        assert!(error.starts_with("nodeId: bound to a key"), "{error}");
    }
    let error = refused(
        &story_request(&server, HOME, "DELETE", "/api/v1/peers/carol", None),
        401,
    );
    assert!(
        error.starts_with("X-Discovery-Sequence: required"),
        "{error}"
    );
    let carol = peers(&server, "?capabilities=peering")
        .into_iter()
        .find(|p| p["nodeId"] == "carol")
        .expect("carol still listed");
    assert_eq!(carol["verified"], true);
    assert_eq!(carol["publicKey"], owner.public_key_base64());
    assert_eq!(carol["btpEndpoint"], "ws://carol.example:3000");

    // A key takes over a live unsigned entry; from then on it is the key's.
    let dave = peer_info("dave", "ws://dave:1", &[]);
    assert_eq!(announce(&server, HOME, &dave).status, 200);
    let signed_dave = announcement(&owner, "dave", "ws://dave-signed:1", &[], 1);
    let response = server.announce(&signed_dave);
    assert_eq!(response.status, 200, "{}", response.body);
    let error = refused(&announce(&server, HOME, &dave), 409);
    assert!(error.starts_with("nodeId: bound to a key"), "{error}");

    // Deregistration: only from the address that announced; then gone.
    let error = refused(
        &story_request(&server, STRANGER, "DELETE", "/api/v1/peers/alice", None),
        403,
    );
    assert!(error.starts_with("nodeId: an unsigned entry"), "{error}");
    assert!(ids(&peers(&server, "")).contains(&"alice"));
    let answer = story_request(&server, HOME, "DELETE", "/api/v1/peers/alice", None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, json!({"success": true}));
    assert_eq!(ids(&peers(&server, "")), ["bob", "carol", "dave"]);
    refused(
        &story_request(&server, HOME, "DELETE", "/api/v1/peers/alice", None),
        404,
    );

    // Counted like any other announcement, and the refusals by reason.
    assert_eq!(
        server.metric("discovery_unsigned_announces_total"),
        Some(4.0)
    );
    assert_eq!(server.metric("discovery_announces_total"), Some(6.0));
    assert_eq!(server.metric("discovery_deregistrations_total"), Some(1.0));
    assert_eq!(server.rejections("wrong_address"), 1.0);
    assert_eq!(server.rejections("identity_conflict"), 4.0);
    assert_eq!(server.rejections("invalid_field"), cases.len() as f64);
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("\"unsigned_entry_replaced\"") && l.contains("dave")),
        "{:?}",
        server.logs()
    );
}

#[test]
fn an_unsigned_entry_expires_after_two_ttls_and_frees_its_node_id() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[("DISCOVERY_TTL_SECONDS", "1")]);
    let answer = announce(&server, HOME, &peer_info("brief", "ws://brief:1", &[]));
    assert_eq!(answer.body, json!({"success": true, "ttl": 1}));
    let announced = Instant::now();
    assert_eq!(ids(&peers(&server, "")), ["brief"]);
    let deadline = announced + Duration::from_secs(10);
    while !peers(&server, "").is_empty() {
        assert!(Instant::now() < deadline, "still listed after 10 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Not before 2 × TTL (the server stamped lastSeen before our clock started).
    assert!(
        announced.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        announced.elapsed()
    );
    // Expired: another endpoint, from another address, may take the node id.
    let answer = announce(&server, STRANGER, &peer_info("brief", "ws://other:1", &[]));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(peers(&server, "")[0]["btpEndpoint"], "ws://other:1");
}

#[test]
fn a_server_that_requires_signatures_says_so() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[("DISCOVERY_ALLOW_UNSIGNED", "false")]);
    let error = refused(
        &announce(&server, HOME, &peer_info("alice", "ws://alice:1", &[])),
        403,
    );
    assert!(
        error.starts_with("publicKey: required: this server accepts only signed announcements"),
        "{error}"
    );
    assert!(peers(&server, "").is_empty());
    // Signed clients are unaffected.
    let key = NodeKey::generate();
    assert_eq!(
        server
            .announce(&announcement(&key, "alice", "ws://alice:1", &[], 1))
            .status,
        200
    );
    // A DELETE without credentials is the signed API's 401.
    let error = refused(
        &story_request(&server, HOME, "DELETE", "/api/v1/peers/alice", None),
        401,
    );
    assert_eq!(error, "X-Discovery-Sequence: required");
    assert_eq!(server.rejections("signature_required"), 1.0);
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("\"discovery_started\"") && l.contains("\"allowUnsigned\":false")),
        "{:?}",
        server.logs()
    );
}
