//! The pipeline's rules, one test each, at the stage that applies them: `admit` for the checks
//! a Prepare must pass, `settle` for what the next hop answered. Next hops that must be linked
//! get a real BTP link over loopback; nothing is sent on it unless a test says so.

use std::time::Duration;

use btp_link::{AuthFailure, ClientCredentials, LinkSettings};
use config_model::{PeerConfig, Relation, RouteConfig, SecretRef};
use proto::Address;
use proto::ilp::{FulfillBuilder, PrepareBuilder, condition_for};
use tokio::net::TcpListener;

use super::*;
use crate::balance::BalanceSnapshot;
use crate::config::NodeConfig;
use crate::ledger::Ledger;

const MAX_PACKET: u64 = 1000;
const CREDIT_LIMIT: u64 = 500;
const FULFILLMENT: [u8; 32] = [7; 32];

/// A node at `test.x` with a sender `a` (max packet 1000, credit limit 500) and next hops:
/// `b` (same asset and scale, at `test.b`), `c` (EUR, at `test.c`), `d` (scale 0, at `test.d`),
/// `g` (scale 11, at `test.g`), `e` (never linked, at `test.e`); and a child `kid` (EUR, 2).
struct Fixture {
    node: Arc<Node>,
    _secrets: tempfile::TempDir,
    /// The next hops' ends of their links, kept open for as long as the test runs.
    far_ends: Vec<Link>,
}

fn peer_config(secrets: &tempfile::TempDir, id: &str, asset: &str, scale: u8) -> PeerConfig {
    let path = secrets.path().join(id);
    std::fs::write(&path, format!("token-{id}")).expect("secret file");
    PeerConfig {
        id: id.into(),
        url: None,
        relation: Relation::Peer,
        asset_code: asset.into(),
        asset_scale: scale,
        max_packet_amount: None,
        credit_limit: None,
        secret_ref: SecretRef::File(path),
        auth_username: None,
        public_key: None,
        ilp_address: None,
    }
}

fn route(prefix: &str, peer: &str) -> RouteConfig {
    RouteConfig {
        prefix: prefix.into(),
        peer: peer.into(),
    }
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(|_| {})
    }

    fn with(adjust: impl FnOnce(&mut NodeConfig)) -> Fixture {
        Fixture::with_ledger(adjust, Ledger::in_memory())
    }

    fn with_ledger(adjust: impl FnOnce(&mut NodeConfig), ledger: Ledger) -> Fixture {
        let mut config = NodeConfig::from_yaml("ilpAddress: test.x\n").expect("config");
        adjust(&mut config);
        let node = Arc::new(Node::with_parts(
            &config,
            None,
            Arc::new(ledger),
            crate::metrics::Metrics::new(),
        ));
        let secrets = tempfile::tempdir().expect("temp dir");
        let mut a = peer_config(&secrets, "a", "USD", 9);
        a.max_packet_amount = Some(MAX_PACKET);
        if config.forwarding.track_balances {
            a.credit_limit = Some(CREDIT_LIMIT);
        }
        let peers = [
            a,
            peer_config(&secrets, "b", "USD", 9),
            peer_config(&secrets, "c", "EUR", 9),
            peer_config(&secrets, "d", "USD", 0),
            peer_config(&secrets, "e", "USD", 9),
            peer_config(&secrets, "g", "USD", 11),
            PeerConfig {
                relation: Relation::Child,
                ..peer_config(&secrets, "kid", "EUR", 2)
            },
        ];
        let routes = ["b", "c", "d", "e", "g"].map(|id| route(&format!("test.{id}"), id));
        let (_, to_dial) = node.swap_table(&peers, &routes).expect("table");
        assert!(to_dial.is_empty(), "no peer has a URL");
        Fixture {
            node,
            _secrets: secrets,
            far_ends: Vec::new(),
        }
    }

    fn peer(&self, id: &str) -> Arc<Peer> {
        self.node.snapshot().peers[id].clone()
    }

    /// Gives next hop `id` an open link, as if it had dialled in.
    async fn link(&mut self, id: &str) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("ws://{}", listener.local_addr().expect("address"));
        let far_end = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let settings = LinkSettings::default();
            let ((), authenticated) =
                btp_link::accept(stream, &settings, |_| Ok::<(), AuthFailure>(()))
                    .await
                    .expect("handshake");
            authenticated.start(Arc::new(Silent))
        });
        let credentials = ClientCredentials {
            token: "token".into(),
            username: None,
        };
        let ours = btp_link::connect(&url, &credentials, &self.node.link_settings)
            .await
            .expect("connect");
        self.peer(id)
            .link_up(ours.start(Arc::new(Silent)), &self.node.metrics);
        self.far_ends.push(far_end.await.expect("far end"));
    }

    fn admit(&self, raw: Bytes) -> Result<(Outgoing, Pending), Answer> {
        self.node.admit(
            &self.peer("a"),
            raw,
            std::time::Instant::now(),
            &Span::none(),
        )
    }

    /// The Reject `admit` answered `raw` with; fails if it was admitted.
    fn refused(&self, raw: Bytes) -> Reject {
        match self.admit(raw) {
            Ok(_) => panic!("admitted"),
            Err(answer) => our_reject(answer),
        }
    }

    /// What `admit` passed on; fails if it refused.
    fn admitted(&self, raw: Bytes) -> (Outgoing, Pending) {
        match self.admit(raw) {
            Ok(admitted) => admitted,
            Err(answer) => {
                let reject = our_reject(answer);
                panic!("refused: {} {}", reject.code(), reject.message())
            }
        }
    }

    /// A Pending as `admit` leaves it for next hop `b`: `amount` reserved on `a`.
    fn pending(&self, amount: u64) -> Pending {
        Pending {
            next: self.peer("b"),
            incoming_amount: amount,
            outgoing_amount: amount,
            condition: condition_for(&FULFILLMENT),
            reservation: Some(
                self.peer("a")
                    .balance
                    .reserve(amount, Some(CREDIT_LIMIT))
                    .expect("within the limit"),
            ),
        }
    }

    fn settle(&self, pending: Pending, reply: Result<Bytes, LinkError>) -> Answer {
        self.node.settle(&self.peer("a"), pending, reply)
    }

    fn balance(&self, id: &str) -> BalanceSnapshot {
        self.peer(id).balance.snapshot()
    }
}

/// Answers nothing: admitted Prepares are never sent in these tests.
struct Silent;

impl IncomingHandler for Silent {
    async fn handle_prepare(&self, _prepare: Bytes) -> Bytes {
        std::future::pending().await
    }

    fn busy_reject(&self) -> Bytes {
        Bytes::new()
    }
}

/// A Prepare for `destination` expiring `expires_in_ms` from now (negative: in the past).
fn prepare(destination: &str, amount: u64, expires_in_ms: i64) -> Bytes {
    let destination = Address::new(destination).expect("address");
    PrepareBuilder {
        amount,
        expires_at: Timestamp::now().saturating_add_ms(expires_in_ms),
        execution_condition: &condition_for(&FULFILLMENT),
        destination: &destination,
        data: b"hello",
    }
    .build()
    .expect("prepare")
    .encode()
}

/// Our own Reject: decodable, coded as `Answer` says, and triggered by this node.
fn our_reject(answer: Answer) -> Reject {
    let reject = Reject::decode(answer.bytes).expect("a Reject");
    assert_eq!(answer.code, Some(reject.code()));
    assert_eq!(reject.triggered_by().map(Address::as_str), Some("test.x"));
    reject
}

/// A 70-unit Prepare from a settles with `reply`: the answer is our own Reject with `code`,
/// and a's reservation is released. Returns the fixture for further checks.
fn settles_to_our_reject(reply: Result<Bytes, LinkError>, code: ErrorCode) -> Fixture {
    let fixture = Fixture::new();
    let pending = fixture.pending(70);
    let answer = fixture.settle(pending, reply);
    assert_eq!(our_reject(answer).code(), code);
    assert_eq!(fixture.balance("a"), BalanceSnapshot::default());
    fixture
}

fn fulfill(fulfillment: &[u8; 32]) -> Bytes {
    FulfillBuilder {
        fulfillment,
        data: b"paid",
    }
    .build()
    .expect("fulfill")
    .encode()
}

#[test]
fn draining_is_t03() {
    let fixture = Fixture::new();
    fixture.node.start_draining();
    let reject = fixture.refused(prepare("test.e", 1, 5000));
    assert_eq!(reject.code(), ErrorCode::T03_CONNECTOR_BUSY);
}

#[test]
fn undecodable_is_f01_and_a_violation() {
    let fixture = Fixture::new();
    let reject = fixture.refused(Bytes::from_static(b"\x0c\x03abc"));
    assert_eq!(reject.code(), ErrorCode::F01_INVALID_PACKET);
    let counted = fixture
        .node
        .metrics
        .violations
        .with_label_values(&["a", "invalid_prepare"])
        .get();
    assert_eq!(counted, 1);
}

#[test]
fn already_expired_is_r00() {
    let fixture = Fixture::new();
    let reject = fixture.refused(prepare("test.e", 1, -1));
    assert_eq!(reject.code(), ErrorCode::R00_TRANSFER_TIMED_OUT);
}

#[test]
fn above_the_max_packet_amount_is_f08_with_its_data() {
    let fixture = Fixture::new();
    let reject = fixture.refused(prepare("test.e", MAX_PACKET + 1, 5000));
    assert_eq!(reject.code(), ErrorCode::F08_AMOUNT_TOO_LARGE);
    let data = AmountTooLarge::decode(reject.data()).expect("16 bytes of amounts");
    assert_eq!(data.received_amount, MAX_PACKET + 1);
    assert_eq!(data.maximum_amount, MAX_PACKET);
    // The maximum itself passes this check (and stops at the unlinked next hop).
    let reject = fixture.refused(prepare("test.e", MAX_PACKET, 5000));
    assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
}

#[test]
fn peer_addresses_are_f02() {
    let fixture = Fixture::new();
    // peer.config is ILDCP, answered here (tests below); the rest of peer.* is not served.
    let reject = fixture.refused(prepare("peer.route.update", 1, 5000));
    assert_eq!(reject.code(), ErrorCode::F02_UNREACHABLE);
    assert!(
        reject.message().contains("link-local"),
        "{}",
        reject.message()
    );
}

#[test]
fn no_route_is_f02() {
    let fixture = Fixture::new();
    let reject = fixture.refused(prepare("test.nowhere", 1, 5000));
    assert_eq!(reject.code(), ErrorCode::F02_UNREACHABLE);
    assert_eq!(reject.message(), "no route to test.nowhere");
}

#[test]
fn unlinked_next_hop_is_t01() {
    let fixture = Fixture::new();
    let reject = fixture.refused(prepare("test.e", 1, 5000));
    assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
    assert_eq!(reject.message(), "next hop e is not connected");
}

#[tokio::test]
async fn too_small_for_the_next_hops_units_is_r01() {
    let mut fixture = Fixture::new();
    fixture.link("d").await;
    // Scale 9 to scale 0: 999 rounds down to nothing.
    let reject = fixture.refused(prepare("test.d", 999, 5000));
    assert_eq!(reject.code(), ErrorCode::R01_INSUFFICIENT_SOURCE_AMOUNT);
    assert_eq!(fixture.balance("a"), BalanceSnapshot::default());
}

#[tokio::test]
async fn another_asset_is_f02() {
    let mut fixture = Fixture::new();
    fixture.link("c").await;
    let reject = fixture.refused(prepare("test.c", 1, 5000));
    assert_eq!(reject.code(), ErrorCode::F02_UNREACHABLE);
    assert_eq!(reject.message(), "no exchange rate from USD to EUR");
}

#[tokio::test]
async fn less_than_the_expiry_margin_left_is_r02() {
    let mut fixture = Fixture::with(|config| {
        config.forwarding.expiry_margin = Duration::from_millis(1000);
    });
    fixture.link("b").await;
    // 1.5 s left, minus the 1 s margin, leaves less than the margin to forward with.
    let reject = fixture.refused(prepare("test.b", 1, 1500));
    assert_eq!(reject.code(), ErrorCode::R02_INSUFFICIENT_TIMEOUT);
    assert_eq!(fixture.balance("a"), BalanceSnapshot::default());
    // With twice the margin and a little more, it goes.
    fixture.admitted(prepare("test.b", 1, 2500));
}

#[tokio::test]
async fn past_the_credit_limit_is_t04_counting_prepares_in_flight() {
    let mut fixture = Fixture::new();
    fixture.link("b").await;
    let reject = fixture.refused(prepare("test.b", CREDIT_LIMIT + 1, 5000));
    assert_eq!(reject.code(), ErrorCode::T04_INSUFFICIENT_LIQUIDITY);
    let (_outgoing, in_flight) = fixture.admitted(prepare("test.b", CREDIT_LIMIT, 5000));
    assert_eq!(
        fixture.balance("a").pending_incoming,
        i128::from(CREDIT_LIMIT)
    );
    let reject = fixture.refused(prepare("test.b", 1, 5000));
    assert_eq!(reject.code(), ErrorCode::T04_INSUFFICIENT_LIQUIDITY);
    drop(in_flight);
    fixture.admitted(prepare("test.b", 1, 5000));
}

#[tokio::test]
async fn a_ledger_that_cannot_record_is_t00_and_reserves_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = crate::ledger::LedgerConfig::default();
    let (ledger, _) = Ledger::open_embedded(&config, dir.path()).expect("ledger");
    ledger.with_journal(crate::ledger::journal::Journal::break_writes);
    ledger
        .account("a")
        .reserve(1, None)
        .expect("no limit")
        .commit();
    assert!(ledger.flush().is_err());
    let mut fixture = Fixture::with_ledger(|_| {}, ledger);
    fixture.link("b").await;
    let before = fixture.balance("a");
    let reject = fixture.refused(prepare("test.b", 5, 5000));
    assert_eq!(reject.code(), ErrorCode::T00_INTERNAL_ERROR);
    assert_eq!(fixture.balance("a"), before, "nothing reserved");
    fixture.node.set_listening();
    assert!(!fixture.node.is_ready(), "not ready while the ledger fails");

    fixture
        .node
        .ledger
        .with_journal(crate::ledger::journal::Journal::mend_writes);
    fixture.node.ledger.flush().expect("the retry writes");
    assert!(fixture.node.is_ready());
    fixture.admitted(prepare("test.b", 5, 5000));
}

#[tokio::test]
async fn no_credit_limit_without_balances() {
    let mut fixture = Fixture::with(|config| config.forwarding.track_balances = false);
    fixture.link("b").await;
    let (_, pending) = fixture.admitted(prepare("test.b", MAX_PACKET, 5000));
    assert!(pending.reservation.is_none());
    assert_eq!(fixture.balance("a"), BalanceSnapshot::default());
}

#[tokio::test]
async fn admitted_prepares_go_on_with_amount_and_expiry_rewritten() {
    let mut fixture = Fixture::with(|config| {
        config.forwarding.expiry_margin = Duration::from_millis(1000);
        config.forwarding.max_hold_time = Duration::from_millis(30_000);
    });
    fixture.link("g").await;
    let incoming = Prepare::decode(prepare("test.g", 7, 10_000)).expect("prepare");
    let (outgoing, pending) = fixture.admitted(incoming.encode());
    let sent = Prepare::decode(outgoing.prepare).expect("prepare");
    // Scale 9 to scale 11.
    assert_eq!(sent.amount(), 700);
    assert_eq!(pending.outgoing_amount, 700);
    assert_eq!(
        sent.expires_at().unix_ms(),
        incoming.expires_at().unix_ms() - 1000
    );
    assert_eq!(sent.destination(), incoming.destination());
    assert_eq!(sent.execution_condition(), incoming.execution_condition());
    assert_eq!(sent.data(), incoming.data());
    assert_eq!(pending.condition, condition_for(&FULFILLMENT));
    assert_eq!(&*pending.next.id, "g");
    assert_eq!(fixture.balance("a").pending_incoming, 7);
    // The deadline is the outgoing expiry, give or take the clock between the two reads.
    let wait = outgoing.deadline - tokio::time::Instant::now();
    assert!(
        wait > Duration::from_millis(8_500) && wait <= Duration::from_millis(9_000),
        "{wait:?}"
    );
}

#[tokio::test]
async fn expiry_is_capped_at_the_max_hold_time() {
    let mut fixture = Fixture::with(|config| {
        config.forwarding.expiry_margin = Duration::from_millis(1000);
        config.forwarding.max_hold_time = Duration::from_millis(3000);
    });
    fixture.link("b").await;
    let before = Timestamp::now();
    let (outgoing, _) = fixture.admitted(prepare("test.b", 1, 60_000));
    let sent = Prepare::decode(outgoing.prepare).expect("prepare");
    let held = sent.expires_at().unix_ms() - before.unix_ms();
    assert!((3000..3100).contains(&held), "{held} ms");
}

#[test]
fn a_matching_fulfill_goes_back_unchanged_and_commits_the_reservation() {
    let fixture = Fixture::new();
    let pending = fixture.pending(70);
    assert_eq!(fixture.balance("a").pending_incoming, 70);
    let reply = fulfill(&FULFILLMENT);
    let answer = fixture.settle(pending, Ok(reply.clone()));
    assert!(answer.code.is_none());
    assert_eq!(answer.bytes, reply);
    assert_eq!(
        fixture.balance("a"),
        BalanceSnapshot {
            balance: 70,
            pending_incoming: 0
        }
    );
    assert_eq!(fixture.balance("b").balance, -70);
}

#[test]
fn a_wrong_fulfillment_is_f05_and_releases_the_reservation() {
    let fixture = settles_to_our_reject(Ok(fulfill(&[8; 32])), ErrorCode::F05_WRONG_CONDITION);
    assert_eq!(fixture.balance("b"), BalanceSnapshot::default());
}

#[test]
fn a_downstream_reject_is_relayed_unchanged_and_releases_the_reservation() {
    let fixture = Fixture::new();
    let pending = fixture.pending(70);
    let downstream = Address::new("test.b.far").expect("address");
    let reply = RejectBuilder {
        code: ErrorCode::F99_APPLICATION_ERROR,
        triggered_by: Some(&downstream),
        message: "no thanks",
        data: b"why",
    }
    .build()
    .expect("reject")
    .encode();
    let answer = fixture.settle(pending, Ok(reply.clone()));
    assert_eq!(answer.code, Some(ErrorCode::F99_APPLICATION_ERROR));
    assert_eq!(answer.bytes, reply);
    assert_eq!(fixture.balance("a"), BalanceSnapshot::default());
}

#[test]
fn no_answer_before_expiry_is_r00_and_releases_the_reservation() {
    settles_to_our_reject(Err(LinkError::Timeout), ErrorCode::R00_TRANSFER_TIMED_OUT);
}

#[test]
fn a_link_closed_while_waiting_is_t01_and_releases_the_reservation() {
    settles_to_our_reject(Err(LinkError::Closed), ErrorCode::T01_PEER_UNREACHABLE);
}

#[test]
fn an_answer_that_is_no_ilp_packet_is_t00_and_releases_the_reservation() {
    settles_to_our_reject(
        Ok(Bytes::from_static(b"\x0c\x00")),
        ErrorCode::T00_INTERNAL_ERROR,
    );
}

#[test]
fn scaling_is_exact_and_rounds_down() {
    assert_eq!(scale_amount(123, 2, 2), Ok(123));
    assert_eq!(scale_amount(123, 2, 4), Ok(12300));
    assert_eq!(scale_amount(12399, 4, 2), Ok(123));
    assert_eq!(scale_amount(0, 4, 2), Ok(0));
    assert_eq!(
        scale_amount(99, 4, 2).unwrap_err().0,
        ErrorCode::R01_INSUFFICIENT_SOURCE_AMOUNT
    );
    assert_eq!(
        scale_amount(u64::MAX, 0, 1).unwrap_err().0,
        ErrorCode::F08_AMOUNT_TOO_LARGE
    );
    assert_eq!(
        scale_amount(5, 0, 255).unwrap_err().0,
        ErrorCode::F08_AMOUNT_TOO_LARGE
    );
    assert_eq!(
        scale_amount(5, 255, 0).unwrap_err().0,
        ErrorCode::R01_INSUFFICIENT_SOURCE_AMOUNT
    );
}

/// A Prepare to `peer.config` as an ILDCP client sends it: amount 0, empty data.
fn ildcp_request(condition: [u8; 32]) -> Bytes {
    PrepareBuilder {
        amount: 0,
        expires_at: Timestamp::now().saturating_add_ms(60_000),
        execution_condition: &condition,
        destination: &Address::new(proto::ildcp::DESTINATION).expect("address"),
        data: b"",
    }
    .build()
    .expect("prepare")
    .encode()
}

fn admit_from(fixture: &Fixture, id: &str, raw: Bytes) -> Result<(Outgoing, Pending), Answer> {
    fixture.node.admit(
        &fixture.peer(id),
        raw,
        std::time::Instant::now(),
        &Span::none(),
    )
}

/// What the host answers the ILDCP client's own request from `kid`, read by the client.
fn ildcp_answer(fixture: &Fixture) -> IldcpResponse {
    let request = crate::ildcp::request(Timestamp::now());
    let Err(answer) = admit_from(fixture, "kid", request) else {
        panic!("peer.config is answered here, never forwarded");
    };
    assert_eq!(answer.code, None, "a Fulfill");
    crate::ildcp::read_answer(answer.bytes).expect("an ILDCP response")
}

#[test]
fn a_child_asking_peer_config_learns_its_address_and_asset() {
    let fixture = Fixture::new();
    let response = ildcp_answer(&fixture);
    assert_eq!(response.client_address.as_str(), "test.x.kid");
    assert_eq!(
        (response.asset_code.as_str(), response.asset_scale),
        ("EUR", 2)
    );
    assert_eq!(
        fixture.balance("kid"),
        BalanceSnapshot::default(),
        "nothing reserved"
    );
}

#[test]
fn peer_config_from_a_non_child_or_with_another_condition_is_f00() {
    let fixture = Fixture::new();
    let Err(answer) = admit_from(&fixture, "a", ildcp_request(PEER_PROTOCOL_CONDITION)) else {
        panic!("admitted");
    };
    let reject = our_reject(answer);
    assert_eq!(reject.code(), ErrorCode::F00_BAD_REQUEST);
    assert!(
        reject.message().contains("children only"),
        "{}",
        reject.message()
    );
    let Err(answer) = admit_from(&fixture, "kid", ildcp_request([9; 32])) else {
        panic!("admitted");
    };
    let reject = our_reject(answer);
    assert_eq!(reject.code(), ErrorCode::F00_BAD_REQUEST);
    assert!(
        reject.message().contains("condition"),
        "{}",
        reject.message()
    );
}

#[test]
fn a_childs_configured_address_overrides_ours_plus_its_id() {
    let fixture = Fixture::new();
    let kid = fixture.peer("kid");
    kid.update_settings(PeerConfig {
        ilp_address: Some(Address::new("test.elsewhere.junior").expect("address")),
        ..(**kid.settings()).clone()
    });
    let response = ildcp_answer(&fixture);
    assert_eq!(response.client_address.as_str(), "test.elsewhere.junior");
    assert_eq!(
        (response.asset_code.as_str(), response.asset_scale),
        ("EUR", 2)
    );
}

#[test]
fn without_an_address_everything_is_t00_until_ildcp_answers() {
    let fixture = Fixture::with(|config| config.ilp_address = None);
    assert!(fixture.node.is_awaiting_address());
    assert!(fixture.node.address().is_none());
    let Err(answer) = fixture.admit(prepare("test.b", 1, 5000)) else {
        panic!("admitted");
    };
    let reject = Reject::decode(answer.bytes).expect("a Reject");
    assert_eq!(reject.code(), ErrorCode::T00_INTERNAL_ERROR);
    assert!(
        reject.message().contains("no ILP address yet"),
        "{}",
        reject.message()
    );
    assert_eq!(reject.triggered_by(), None, "no address to name");
    // Our own children cannot be told an address derived from one we do not have.
    let Err(answer) = admit_from(&fixture, "kid", crate::ildcp::request(Timestamp::now())) else {
        panic!("admitted");
    };
    assert_eq!(answer.code, Some(ErrorCode::T00_INTERNAL_ERROR));

    let previous = fixture.node.set_address(crate::node::NodeAddress {
        address: Address::new("test.parent.x").expect("address"),
        source: crate::node::AddressSource::Ildcp,
        asset: Some(("USD".into(), 9)),
    });
    assert!(previous.is_none());
    assert!(!fixture.node.is_awaiting_address());
    assert_eq!(
        ildcp_answer(&fixture).client_address.as_str(),
        "test.parent.x.kid"
    );
    let Err(answer) = fixture.admit(prepare("test.e", 1, 5000)) else {
        panic!("admitted");
    };
    let reject = Reject::decode(answer.bytes).expect("a Reject");
    assert_eq!(
        reject.code(),
        ErrorCode::T01_PEER_UNREACHABLE,
        "checks go on"
    );
    assert_eq!(
        reject.triggered_by().map(|a| a.as_str()),
        Some("test.parent.x")
    );
    // Draining still wins over everything.
    fixture.node.start_draining();
    let Err(answer) = fixture.admit(prepare("test.e", 1, 5000)) else {
        panic!("admitted");
    };
    assert_eq!(answer.code, Some(ErrorCode::T03_CONNECTOR_BUSY));
}
