//! Integration tests of `btp-link` over real sockets on 127.0.0.1: the auth handshake from both
//! sides, request/response correlation, interledger-rs wrapper interop, the limits that protect
//! a node from a misbehaving peer, closing, and keepalive.
//!
//! "Raw" peers are plain tokio-tungstenite sockets driven frame by frame, so the tests control
//! exactly what goes over the wire. Every wait is bounded.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use btp_link::{
    AuthFailure, AuthRequest, Authenticated, ClientCredentials, IncomingHandler, Link, LinkError,
    LinkSettings, Violation,
};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use proto::btp::{
    BtpError, BtpPacket, ContentType, PROTOCOL_AUTH, PROTOCOL_AUTH_TOKEN, PROTOCOL_ILP,
    ProtocolData, TYPE_ERROR, TYPE_MESSAGE, error_code,
};
use proto::ilp::{
    ErrorCode, Fulfill, FulfillBuilder, Prepare, PrepareBuilder, Reject, RejectBuilder,
    condition_for,
};
use proto::{Address, Timestamp};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound for anything that should happen "soon".
const WAIT: Duration = Duration::from_secs(5);
const FULFILLMENT: [u8; 32] = [7; 32];

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// Polls `condition` until it holds, for at most [`WAIT`].
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    within(WAIT, what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

fn deadline(after: Duration) -> Instant {
    Instant::now() + after
}

fn address(s: &str) -> Address {
    Address::new(s).expect("valid address")
}

/// An encoded ILP Prepare whose `data` tells the [`TestHandler`] what to do.
fn prepare(data: &[u8]) -> Bytes {
    let destination = address("test.receiver");
    PrepareBuilder {
        amount: 10,
        expires_at: Timestamp::now().checked_add_ms(30_000).expect("in range"),
        execution_condition: &condition_for(&FULFILLMENT),
        destination: &destination,
        data,
    }
    .build()
    .expect("valid prepare")
    .encode()
}

fn fulfill(data: &[u8]) -> Bytes {
    FulfillBuilder {
        fulfillment: &FULFILLMENT,
        data,
    }
    .build()
    .expect("valid fulfill")
    .encode()
}

fn fulfill_data(answer: &Bytes) -> Bytes {
    let fulfill = Fulfill::decode(answer.clone()).expect("the answer is an ILP Fulfill");
    assert_eq!(fulfill.fulfillment(), &FULFILLMENT);
    fulfill.data().clone()
}

fn ilp_entry(ilp: Bytes) -> Vec<ProtocolData> {
    vec![ProtocolData {
        name: PROTOCOL_ILP.into(),
        content_type: ContentType::OCTET_STREAM,
        data: ilp,
    }]
}

fn btp_message(request_id: u32, ilp: Bytes) -> BtpPacket {
    BtpPacket::Message {
        request_id,
        protocol_data: ilp_entry(ilp),
    }
}

fn btp_response(request_id: u32, ilp: Bytes) -> BtpPacket {
    BtpPacket::Response {
        request_id,
        protocol_data: ilp_entry(ilp),
    }
}

/// The RFC 23 auth Message: `[auth (octet-stream, empty), auth_token (text, token)]`.
fn auth_packet(request_id: u32, token: &[u8]) -> BtpPacket {
    BtpPacket::Message {
        request_id,
        protocol_data: vec![
            ProtocolData {
                name: PROTOCOL_AUTH.into(),
                content_type: ContentType::OCTET_STREAM,
                data: Bytes::new(),
            },
            ProtocolData {
                name: PROTOCOL_AUTH_TOKEN.into(),
                content_type: ContentType::TEXT_PLAIN_UTF8,
                data: Bytes::copy_from_slice(token),
            },
        ],
    }
}

fn frame(packet: &BtpPacket) -> Message {
    Message::Binary(Bytes::from(packet.encode()))
}

/// A frame that looks like a BTP Message (type 6, readable request id) but does not decode.
fn garbage_message(request_id: u32) -> Bytes {
    let mut bytes = vec![TYPE_MESSAGE];
    bytes.extend_from_slice(&request_id.to_be_bytes());
    // 0xff as a length determinant claims 127 length bytes: never canonical, never present.
    bytes.extend_from_slice(&[0xff, 0x01, 0x02]);
    let bytes = Bytes::from(bytes);
    assert!(
        BtpPacket::decode(bytes.clone()).is_err(),
        "test garbage must not decode"
    );
    bytes
}

/// Is `packet` a BTP Response to request `id`?
fn is_response_to(packet: &BtpPacket, id: u32) -> bool {
    matches!(packet, BtpPacket::Response { request_id, .. } if *request_id == id)
}

fn ilp_of(packet: &BtpPacket) -> Bytes {
    packet
        .find(PROTOCOL_ILP)
        .unwrap_or_else(|| panic!("no ilp entry in {packet:?}"))
        .data
        .clone()
}

// ---------------------------------------------------------------------------------------------
// An incoming-request handler driven by the Prepare's data
// ---------------------------------------------------------------------------------------------

/// Answers every Prepare with a Fulfill whose data is `"<name>:<prepare data>"`, except:
/// data `never` is never answered, data `gated` is answered once a permit is added to `gate`.
struct TestHandler {
    name: &'static str,
    calls: watch::Sender<usize>,
    answers: Mutex<Vec<Bytes>>,
    violations: Mutex<Vec<Violation>>,
    traceparents: Mutex<Vec<Option<Bytes>>>,
    gate: Semaphore,
}

impl TestHandler {
    fn new(name: &'static str) -> Arc<TestHandler> {
        Arc::new(TestHandler {
            name,
            calls: watch::channel(0).0,
            answers: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            traceparents: Mutex::new(Vec::new()),
            gate: Semaphore::new(0),
        })
    }

    fn calls(&self) -> usize {
        *self.calls.borrow()
    }

    async fn wait_calls(&self, n: usize) {
        let mut calls = self.calls.subscribe();
        within(WAIT, "handler calls", calls.wait_for(|c| *c >= n))
            .await
            .expect("the handler is alive");
    }

    fn answers(&self) -> Vec<Bytes> {
        self.answers.lock().unwrap().clone()
    }

    fn violations(&self) -> Vec<Violation> {
        self.violations.lock().unwrap().clone()
    }
}

impl IncomingHandler for TestHandler {
    async fn handle_traced_prepare(&self, prepare: Bytes, traceparent: Option<Bytes>) -> Bytes {
        self.traceparents.lock().unwrap().push(traceparent);
        self.handle_prepare(prepare).await
    }

    async fn handle_prepare(&self, prepare: Bytes) -> Bytes {
        let prepare = Prepare::decode(prepare).expect("the link hands over the Prepare as sent");
        let data = prepare.data().clone();
        self.calls.send_modify(|calls| *calls += 1);
        match &data[..] {
            b"never" => std::future::pending::<()>().await,
            b"gated" => self
                .gate
                .acquire()
                .await
                .expect("gate never closed")
                .forget(),
            _ => {}
        }
        let answer = fulfill(&[self.name.as_bytes(), b":", &data[..]].concat());
        self.answers.lock().unwrap().push(answer.clone());
        answer
    }

    fn busy_reject(&self) -> Bytes {
        let me = address("test.busy");
        RejectBuilder {
            code: ErrorCode::T03_CONNECTOR_BUSY,
            triggered_by: Some(&me),
            message: "busy",
            data: b"",
        }
        .build()
        .expect("valid reject")
        .encode()
    }

    fn violation(&self, violation: Violation) {
        self.violations.lock().unwrap().push(violation);
    }
}

// ---------------------------------------------------------------------------------------------
// An in-process btp-link server
// ---------------------------------------------------------------------------------------------

type Session = Result<(String, Link), LinkError>;

/// Token `good` is peer `alice`. A non-empty username must name the token's peer.
fn authenticate(request: &AuthRequest) -> Result<String, AuthFailure> {
    let peer = match &request.token[..] {
        b"good" => "alice",
        _ => return Err(AuthFailure::InvalidToken),
    };
    match &request.username {
        Some(username) if username != peer => Err(AuthFailure::UsernameMismatch),
        _ => Ok(peer.to_string()),
    }
}

struct Server {
    url: String,
    handler: Arc<TestHandler>,
    sessions: mpsc::UnboundedReceiver<Session>,
    auth_calls: Arc<AtomicUsize>,
    usernames: Arc<Mutex<Vec<Option<String>>>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start(settings: LinkSettings) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Server::start_on(listener, settings)
    }

    fn start_on(listener: TcpListener, settings: LinkSettings) -> Server {
        let url = format!("ws://{}", listener.local_addr().expect("local addr"));
        let handler = TestHandler::new("server");
        let (sessions_tx, sessions) = mpsc::unbounded_channel();
        let auth_calls = Arc::new(AtomicUsize::new(0));
        let usernames = Arc::new(Mutex::new(Vec::new()));
        let task = {
            let handler = handler.clone();
            let auth_calls = auth_calls.clone();
            let usernames = usernames.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    // As the data plane does.
                    stream.set_nodelay(true).expect("TCP_NODELAY");
                    let settings = settings.clone();
                    let handler = handler.clone();
                    let sessions_tx = sessions_tx.clone();
                    let auth_calls = auth_calls.clone();
                    let usernames = usernames.clone();
                    tokio::spawn(async move {
                        let accepted =
                            btp_link::accept(stream, &settings, |request: &AuthRequest| {
                                auth_calls.fetch_add(1, Ordering::SeqCst);
                                usernames.lock().unwrap().push(request.username.clone());
                                authenticate(request)
                            })
                            .await;
                        let session = accepted
                            .map(|(peer, authenticated)| (peer, authenticated.start(handler)));
                        let _ = sessions_tx.send(session);
                    });
                }
            })
        };
        Server {
            url,
            handler,
            sessions,
            auth_calls,
            usernames,
            task,
        }
    }

    /// The outcome of the next `accept` on the server.
    async fn next_session(&mut self) -> Session {
        within(WAIT, "the server's accept", self.sessions.recv())
            .await
            .expect("server task alive")
    }

    async fn next_link(&mut self) -> Link {
        match self.next_session().await {
            Ok((_, link)) => link,
            Err(e) => panic!("server refused a session: {e}"),
        }
    }

    fn auth_calls(&self) -> usize {
        self.auth_calls.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------

type ClientSocket = MaybeTlsStream<TcpStream>;

fn credentials(token: &str, username: Option<&str>) -> ClientCredentials {
    ClientCredentials {
        token: token.to_string(),
        username: username.map(str::to_string),
    }
}

async fn dial(
    url: &str,
    token: &str,
    username: Option<&str>,
    settings: &LinkSettings,
) -> Result<Authenticated<ClientSocket>, LinkError> {
    within(
        WAIT,
        "btp_link::connect",
        btp_link::connect(url, &credentials(token, username), settings),
    )
    .await
}

/// A btp-link client authenticated as `alice`, plus its handler.
async fn client(url: &str, settings: LinkSettings) -> (Link, Arc<TestHandler>) {
    let handler = TestHandler::new("client");
    let authenticated = match dial(url, "good", None, &settings).await {
        Ok(authenticated) => authenticated,
        Err(e) => panic!("connect failed: {e}"),
    };
    (authenticated.start(handler.clone()), handler)
}

/// A server with `server_settings`, a client with default settings connected to it (with its
/// handler), and the server's side of that link.
async fn connected(server_settings: LinkSettings) -> (Server, Link, Arc<TestHandler>, Link) {
    let mut server = Server::start(server_settings).await;
    let (client, client_handler) = client(&server.url, LinkSettings::default()).await;
    let server_link = server.next_link().await;
    (server, client, client_handler, server_link)
}

fn auth_rejection(
    result: Result<Authenticated<ClientSocket>, LinkError>,
) -> (String, String, String) {
    match result {
        Ok(_) => panic!("authentication unexpectedly succeeded"),
        Err(LinkError::AuthRejected {
            code,
            name,
            message,
        }) => (code, name, message),
        Err(other) => panic!("expected AuthRejected, got {other:?}"),
    }
}

async fn request(link: &Link, ilp: Bytes, after: Duration) -> Result<Bytes, LinkError> {
    within(
        after + WAIT,
        "Link::request to resolve",
        link.request(ilp, deadline(after)),
    )
    .await
}

/// `ilp` sent over `link` from its own task (resolving within `WAIT`, as `request`).
fn spawn_request(link: &Link, ilp: Bytes) -> JoinHandle<Result<Bytes, LinkError>> {
    let link = link.clone();
    tokio::spawn(async move { request(&link, ilp, WAIT).await })
}

// ---------------------------------------------------------------------------------------------
// Raw WebSocket peers
// ---------------------------------------------------------------------------------------------

type RawClient = WebSocketStream<ClientSocket>;

async fn raw_connect(url: &str) -> RawClient {
    // disable_nagle = true, so the raw side's small frames are not held back either.
    let connect = tokio_tungstenite::connect_async_with_config(url, None, true);
    within(WAIT, "raw websocket connect", connect)
        .await
        .expect("raw websocket connect")
        .0
}

/// A raw client that passed the auth handshake as `alice`.
async fn raw_authenticated(url: &str) -> RawClient {
    authenticate_raw(raw_connect(url).await).await
}

async fn authenticate_raw<S>(mut ws: WebSocketStream<S>) -> WebSocketStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    send(&mut ws, frame(&auth_packet(1, b"good"))).await;
    match next_packet(&mut ws).await {
        BtpPacket::Response { request_id: 1, .. } => ws,
        other => panic!("expected the auth Response, got {other:?}"),
    }
}

async fn send<S>(ws: &mut WebSocketStream<S>, message: Message)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    within(WAIT, "raw send", ws.send(message))
        .await
        .expect("raw send");
}

/// The next binary frame, skipping pings and pongs; panics on anything else.
async fn next_binary<S>(ws: &mut WebSocketStream<S>) -> Bytes
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    within(WAIT, "a binary frame", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Binary(bytes))) => return bytes,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a binary frame, got {other:?}"),
            }
        }
    })
    .await
}

async fn next_packet<S>(ws: &mut WebSocketStream<S>) -> BtpPacket
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let bytes = next_binary(ws).await;
    BtpPacket::decode(bytes).expect("the link sends decodable BTP")
}

/// A decoded BTP Error frame: (request id, code, name).
async fn next_error<S>(ws: &mut WebSocketStream<S>) -> (u32, [u8; 3], String)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let bytes = next_binary(ws).await;
    assert_eq!(
        bytes.first(),
        Some(&TYPE_ERROR),
        "expected a BTP Error frame"
    );
    match BtpPacket::decode(bytes).expect("decodable BTP Error") {
        BtpPacket::Error { request_id, error } => (request_id, error.code, error.name),
        other => panic!("expected a BTP Error, got {other:?}"),
    }
}

/// How a connection ended, as the raw side saw it (the fields show up in failure messages).
#[derive(Debug)]
#[allow(dead_code)]
enum End {
    Close(Option<CloseFrame>),
    Eof,
    Error(String),
}

/// Reads until the connection ends (skipping pings and pongs, and at most one BTP Error if
/// `allow_error`); panics on any other frame.
async fn expect_end<S>(ws: &mut WebSocketStream<S>, allow_error: bool) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut errors_left = usize::from(allow_error);
    within(WAIT, "the connection to end", async {
        loop {
            match ws.next().await {
                None => return End::Eof,
                Some(Err(e)) => return End::Error(e.to_string()),
                Some(Ok(Message::Close(frame))) => return End::Close(frame),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Binary(bytes)))
                    if errors_left > 0 && bytes.first() == Some(&TYPE_ERROR) =>
                {
                    errors_left -= 1;
                }
                Some(Ok(other)) => panic!("expected the connection to end, got {other:?}"),
            }
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// 1. Auth success and round trips in both directions
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_success_and_round_trips_both_ways() {
    let mut server = Server::start(LinkSettings::default()).await;
    let (client, client_handler) = client(&server.url, LinkSettings::default()).await;
    let (peer, server_link) = server.next_session().await.expect("server accepted");
    assert_eq!(peer, "alice");
    assert_eq!(server.auth_calls(), 1);
    assert_eq!(*server.usernames.lock().unwrap(), vec![None]);

    // Client → server: the client gets exactly the bytes the server's handler returned.
    let answer = request(&client, prepare(b"hello"), WAIT)
        .await
        .expect("answered");
    assert_eq!(server.handler.answers(), vec![answer.clone()]);
    assert_eq!(fulfill_data(&answer), &b"server:hello"[..]);

    // Server → client over the same socket.
    let answer = request(&server_link, prepare(b"back"), WAIT)
        .await
        .expect("answered");
    assert_eq!(client_handler.answers(), vec![answer.clone()]);
    assert_eq!(fulfill_data(&answer), &b"client:back"[..]);
    assert_eq!(server.handler.calls(), 1);
    assert_eq!(client_handler.calls(), 1);

    // Concurrent requests each get their own answer.
    let requests = (0..20).map(|i| {
        let client = client.clone();
        async move {
            let data = format!("n{i}");
            let answer = request(&client, prepare(data.as_bytes()), WAIT).await;
            (data, answer)
        }
    });
    for (data, answer) in futures_util::future::join_all(requests).await {
        let answer = answer.expect("answered");
        assert_eq!(fulfill_data(&answer), format!("server:{data}").as_bytes());
    }
    assert_eq!(server.handler.calls(), 21);

    assert!(!client.is_closed() && !server_link.is_closed());
    assert!(server.handler.violations().is_empty());
    assert!(client_handler.violations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_context_travels_after_the_ilp_entry_and_is_optional() {
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut server = Server::start(LinkSettings::default()).await;
    let (client, _client_handler) = client(&server.url, LinkSettings::default()).await;
    let _session = server.next_session().await.expect("server accepted");

    let traced = client
        .request_traced(prepare(b"traced"), deadline(WAIT), Some(TRACEPARENT))
        .await
        .expect("answered");
    assert_eq!(fulfill_data(&traced), &b"server:traced"[..]);
    request(&client, prepare(b"plain"), WAIT)
        .await
        .expect("answered");
    assert_eq!(
        *server.handler.traceparents.lock().unwrap(),
        vec![Some(Bytes::from_static(TRACEPARENT.as_bytes())), None]
    );

    // On the wire: `ilp` first, so a peer that reads the first entry as the packet (or ignores
    // unknown entries) is unaffected; the context is UTF-8 text.
    let mut raw = raw_authenticated(&server.url).await;
    let (_, link_to_raw) = server.next_session().await.expect("server accepted");
    let pending = tokio::spawn(async move {
        link_to_raw
            .request_traced(prepare(b"to-raw"), deadline(WAIT), Some(TRACEPARENT))
            .await
    });
    let packet = next_packet(&mut raw).await;
    let BtpPacket::Message {
        request_id,
        protocol_data,
    } = packet
    else {
        panic!("expected a Message, got {packet:?}");
    };
    let names: Vec<&str> = protocol_data.iter().map(|p| p.name.as_ref()).collect();
    assert_eq!(names, vec![PROTOCOL_ILP, btp_link::PROTOCOL_TRACEPARENT]);
    assert_eq!(protocol_data[1].content_type, ContentType::TEXT_PLAIN_UTF8);
    assert_eq!(&protocol_data[1].data[..], TRACEPARENT.as_bytes());
    send(&mut raw, frame(&btp_response(request_id, fulfill(b"raw")))).await;
    let answer = within(WAIT, "the answer", pending)
        .await
        .expect("task")
        .expect("answered");
    assert_eq!(fulfill_data(&answer), &b"raw"[..]);
}

// ---------------------------------------------------------------------------------------------
// 2. Wrong token
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_is_refused_and_existing_session_keeps_working() {
    let settings = LinkSettings::default();
    let mut server = Server::start(settings.clone()).await;
    let (client, _) = client(&server.url, settings.clone()).await;
    let (peer, _server_link) = server.next_session().await.expect("server accepted");
    assert_eq!(peer, "alice");

    // Someone claiming to be alice with a bad token.
    let (code, name, message) =
        auth_rejection(dial(&server.url, "bad", Some("alice"), &settings).await);
    assert_eq!(code, "F00");
    assert_eq!(name, "NotAcceptedError");
    assert!(message.contains("auth_token"), "{message}");
    match server.next_session().await {
        Err(LinkError::AuthFailed(reason)) => assert!(reason.contains("auth_token"), "{reason}"),
        Err(other) => panic!("expected AuthFailed, got {other:?}"),
        Ok((peer, _)) => panic!("a bad token was accepted as {peer}"),
    }
    assert_eq!(server.auth_calls(), 2);

    // The established session is unaffected.
    let answer = request(&client, prepare(b"still-here"), WAIT)
        .await
        .expect("answered");
    assert_eq!(fulfill_data(&answer), &b"server:still-here"[..]);
    assert!(!client.is_closed());
}

// ---------------------------------------------------------------------------------------------
// 3. auth_username
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_username_mismatch_is_refused_and_empty_username_is_absent() {
    let settings = LinkSettings::default();
    let mut server = Server::start(settings.clone()).await;

    let (code, _, message) =
        auth_rejection(dial(&server.url, "good", Some("mallory"), &settings).await);
    assert_eq!(code, "F00");
    assert!(message.contains("auth_username"), "{message}");
    assert!(matches!(
        server.next_session().await,
        Err(LinkError::AuthFailed(_))
    ));

    // An empty auth_username (as ilp-plugin-btp sends) is treated as absent.
    let empty = dial(&server.url, "good", Some(""), &settings)
        .await
        .expect("empty username accepted");
    let (peer, _) = server.next_session().await.expect("server accepted");
    assert_eq!(peer, "alice");

    // A matching username is fine too.
    let matching = dial(&server.url, "good", Some("alice"), &settings)
        .await
        .expect("matching username accepted");
    let (peer, _) = server.next_session().await.expect("server accepted");
    assert_eq!(peer, "alice");

    assert_eq!(
        *server.usernames.lock().unwrap(),
        vec![Some("mallory".to_string()), None, Some("alice".to_string())]
    );
    drop((empty, matching));
}

// ---------------------------------------------------------------------------------------------
// 4. First packet not an auth message
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_packet_must_be_auth() {
    let mut server = Server::start(LinkSettings::default()).await;

    // (what we send, the request id the Error must carry)
    let ilp_first = frame(&btp_message(77, prepare(b"sneaky")));
    let garbage = Message::Binary(Bytes::from_static(&[0xee, 0, 0, 0, 0x42, 0x99]));
    let text = Message::text("{\"auth\":\"good\"}");
    // An auth Message whose primary entry is not auth.
    let wrong_primary = frame(&BtpPacket::Message {
        request_id: 9,
        protocol_data: auth_packet(9, b"good")
            .protocol_data()
            .iter()
            .rev()
            .cloned()
            .collect(),
    });
    let cases = [
        (ilp_first, 77),
        (garbage, 0x42),
        (text, 0),
        (wrong_primary, 9),
    ];

    for (message, expected_id) in cases {
        let description = format!("{message:?}");
        let mut raw = raw_connect(&server.url).await;
        send(&mut raw, message).await;
        let (request_id, code, _) = next_error(&mut raw).await;
        assert_eq!(request_id, expected_id, "{description}");
        assert!(
            code == error_code::F01_INVALID_FIELDS || code == error_code::F00_NOT_ACCEPTED,
            "{description}: code {code:?}"
        );
        let end = expect_end(&mut raw, false).await;
        assert!(matches!(end, End::Close(_)), "{description}: {end:?}");
        match server.next_session().await {
            Err(LinkError::AuthFailed(_)) => {}
            Err(other) => panic!("{description}: expected AuthFailed, got {other:?}"),
            Ok((peer, _)) => panic!("{description}: accepted as {peer}"),
        }
    }
    assert_eq!(
        server.auth_calls(),
        0,
        "authenticate must not run for a non-auth packet"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_unauthenticated_socket_times_out() {
    let settings = LinkSettings {
        auth_timeout: Duration::from_millis(200),
        ..LinkSettings::default()
    };
    let mut server = Server::start(settings).await;
    let mut raw = raw_connect(&server.url).await;
    let started = Instant::now();
    match server.next_session().await {
        Err(LinkError::AuthTimeout(limit)) => assert_eq!(limit, Duration::from_millis(200)),
        Err(other) => panic!("expected AuthTimeout, got {other:?}"),
        Ok((peer, _)) => panic!("accepted as {peer}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    expect_end(&mut raw, false).await;
    assert_eq!(server.auth_calls(), 0);
}

// ---------------------------------------------------------------------------------------------
// 5. Request timeout and late answers
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_times_out_at_the_deadline_and_link_stays_usable() {
    let (server, client, client_handler, _server_link) = connected(LinkSettings::default()).await;

    let limit = Duration::from_millis(300);
    let started = Instant::now();
    let result = request(&client, prepare(b"never"), limit).await;
    let elapsed = started.elapsed();
    assert_eq!(result, Err(LinkError::Timeout));
    assert!(elapsed >= limit, "timed out early: {elapsed:?}");
    assert!(
        elapsed < limit + Duration::from_secs(1),
        "timed out late: {elapsed:?}"
    );

    // A request answered after its deadline: the late answer must be dropped quietly.
    let result = request(&client, prepare(b"gated"), Duration::from_millis(200)).await;
    assert_eq!(result, Err(LinkError::Timeout));
    server.handler.gate.add_permits(1);
    eventually("the late answer to be produced", || {
        server.handler.answers().len() == 1
    })
    .await;

    let answer = request(&client, prepare(b"after"), WAIT)
        .await
        .expect("answered");
    assert_eq!(fulfill_data(&answer), &b"server:after"[..]);
    assert!(!client.is_closed());
    assert!(client_handler.violations().is_empty());
    assert!(server.handler.violations().is_empty());
}

/// A raw server answers a request after the client gave up on it; the client ignores the
/// answer (no reply, no error, no confusion with the next request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_answer_from_peer_is_ignored() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("local addr"));
    let raw_server = async {
        let (stream, _) = listener.accept().await.expect("tcp accept");
        let mut ws = tokio_tungstenite::accept_async(stream)
            .await
            .expect("ws accept");
        let auth = next_packet(&mut ws).await;
        assert_eq!(auth.protocol_data()[0].name, PROTOCOL_AUTH);
        send(
            &mut ws,
            frame(&BtpPacket::Response {
                request_id: auth.request_id(),
                protocol_data: Vec::new(),
            }),
        )
        .await;
        ws
    };
    let settings = LinkSettings::default();
    let (authenticated, mut raw) = within(WAIT, "handshake", async {
        tokio::join!(dial(&url, "good", None, &settings), raw_server)
    })
    .await;
    let handler = TestHandler::new("client");
    let link = authenticated.expect("authenticated").start(handler.clone());

    let first = {
        let link = link.clone();
        tokio::spawn(
            async move { request(&link, prepare(b"first"), Duration::from_millis(300)).await },
        )
    };
    let BtpPacket::Message {
        request_id: first_id,
        ..
    } = next_packet(&mut raw).await
    else {
        panic!("expected the Prepare in a BTP Message");
    };
    assert_eq!(first.await.expect("task"), Err(LinkError::Timeout));

    // The late answer, in both wrappers (spec and interledger-rs).
    send(&mut raw, frame(&btp_response(first_id, fulfill(b"late")))).await;
    send(
        &mut raw,
        frame(&btp_message(first_id, fulfill(b"late-again"))),
    )
    .await;

    let second = spawn_request(&link, prepare(b"second"));
    // The next thing the raw side sees is the second request: the late answers got no reply.
    let packet = next_packet(&mut raw).await;
    let BtpPacket::Message {
        request_id: second_id,
        ..
    } = packet
    else {
        panic!("expected the second Prepare, got {packet:?}");
    };
    assert_ne!(second_id, first_id);
    let sent = Prepare::decode(ilp_of(&packet)).expect("a Prepare");
    assert_eq!(sent.data(), &b"second"[..]);
    let answer = fulfill(b"raw:second");
    send(&mut raw, frame(&btp_response(second_id, answer.clone()))).await;
    assert_eq!(second.await.expect("task"), Ok(answer));

    assert!(!link.is_closed());
    assert!(
        handler.violations().is_empty(),
        "{:?}",
        handler.violations()
    );
}

// ---------------------------------------------------------------------------------------------
// 6. interledger-rs swapped wrapper types
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interledger_rs_swapped_wrappers_are_understood() {
    let mut server = Server::start(LinkSettings::default()).await;
    let mut raw = raw_authenticated(&server.url).await;
    let server_link = server.next_link().await;

    // A Prepare inside a BTP Response is a request; the answer comes back in a Response with
    // the same request id.
    send(&mut raw, frame(&btp_response(500, prepare(b"rs-style")))).await;
    let packet = next_packet(&mut raw).await;
    assert!(is_response_to(&packet, 500), "{packet:?}");
    assert_eq!(server.handler.answers(), vec![ilp_of(&packet)]);
    assert_eq!(fulfill_data(&ilp_of(&packet)), &b"server:rs-style"[..]);

    // Our request answered with a Fulfill inside a BTP Message.
    let sent = prepare(b"to-rs");
    let pending = spawn_request(&server_link, sent.clone());
    let packet = next_packet(&mut raw).await;
    let BtpPacket::Message { request_id, .. } = packet else {
        panic!("expected our Prepare in a BTP Message, got {packet:?}");
    };
    assert_eq!(ilp_of(&packet), sent);
    let answer = fulfill(b"rs:answer");
    send(&mut raw, frame(&btp_message(request_id, answer.clone()))).await;
    assert_eq!(pending.await.expect("task"), Ok(answer));

    // No BTP Response for that Message: the next frame the raw side gets answers its probe.
    send(&mut raw, frame(&btp_message(501, prepare(b"probe")))).await;
    let packet = next_packet(&mut raw).await;
    assert!(
        is_response_to(&packet, 501),
        "expected only the probe's answer, got {packet:?}"
    );
    assert_eq!(fulfill_data(&ilp_of(&packet)), &b"server:probe"[..]);
    assert!(
        server.handler.violations().is_empty(),
        "{:?}",
        server.handler.violations()
    );
    assert!(!server_link.is_closed());
}

/// BTP Errors and ILP-less Responses to our requests surface as errors; packets we do not serve
/// are refused one by one without tearing the link down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_errors_and_unsupported_packets() {
    let mut server = Server::start(LinkSettings::default()).await;
    let mut raw = raw_authenticated(&server.url).await;
    let server_link = server.next_link().await;

    let pending = spawn_request(&server_link, prepare(b"x"));
    let request_id = next_packet(&mut raw).await.request_id();
    let error = BtpPacket::Error {
        request_id,
        error: BtpError {
            code: error_code::T00_UNREACHABLE,
            name: "UnreachableError".to_string(),
            triggered_at: Timestamp::now(),
            data: Bytes::from_static(b"try later"),
            protocol_data: Vec::new(),
        },
    };
    send(&mut raw, frame(&error)).await;
    assert_eq!(
        pending.await.expect("task"),
        Err(LinkError::Remote {
            code: "T00".to_string(),
            name: "UnreachableError".to_string(),
            message: "try later".to_string(),
        })
    );

    let pending = spawn_request(&server_link, prepare(b"y"));
    let request_id = next_packet(&mut raw).await.request_id();
    let empty = BtpPacket::Response {
        request_id,
        protocol_data: Vec::new(),
    };
    send(&mut raw, frame(&empty)).await;
    assert_eq!(pending.await.expect("task"), Err(LinkError::NoIlpPacket));

    let transfer = BtpPacket::Transfer {
        request_id: 20,
        amount: 5,
        protocol_data: Vec::new(),
    };
    send(&mut raw, frame(&transfer)).await;
    let (id, code, _) = next_error(&mut raw).await;
    assert_eq!((id, code), (20, error_code::F00_NOT_ACCEPTED));

    send(&mut raw, frame(&auth_packet(21, b"good"))).await;
    let (id, code, _) = next_error(&mut raw).await;
    assert_eq!((id, code), (21, error_code::F00_NOT_ACCEPTED));

    send(
        &mut raw,
        frame(&btp_message(22, Bytes::from_static(b"not ilp"))),
    )
    .await;
    let (id, code, _) = next_error(&mut raw).await;
    assert_eq!((id, code), (22, error_code::F01_INVALID_FIELDS));

    send(&mut raw, frame(&btp_message(23, prepare(b"fine")))).await;
    let packet = next_packet(&mut raw).await;
    assert!(
        matches!(packet, BtpPacket::Response { request_id: 23, .. }),
        "{packet:?}"
    );
    assert_eq!(server.handler.violations(), vec![Violation::Unsupported; 3]);
    assert!(!server_link.is_closed());
}

// ---------------------------------------------------------------------------------------------
// 7. Overload
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_answered_with_busy_reject() {
    let settings = LinkSettings {
        max_incoming_in_flight: 2,
        ..LinkSettings::default()
    };
    let (server, client, _, _server_link) = connected(settings).await;

    let long = Duration::from_secs(30);
    let stuck = spawn_requests(&client, &prepare(b"never"), 2, long);
    server.handler.wait_calls(2).await;

    let started = Instant::now();
    let busy = request(&client, prepare(b"third"), long)
        .await
        .expect("answered");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "busy answer took {:?}",
        started.elapsed()
    );
    assert_eq!(busy, server.handler.busy_reject());
    let reject = Reject::decode(busy).expect("an ILP Reject");
    assert_eq!(reject.code(), ErrorCode::T03_CONNECTOR_BUSY);
    assert_eq!(
        server.handler.calls(),
        2,
        "the third Prepare must not reach the handler"
    );
    eventually("the Overloaded violation", || {
        server.handler.violations() == vec![Violation::Overloaded]
    })
    .await;

    // The first two are still waiting for their (never coming) answers.
    assert!(stuck.iter().all(|task| !task.is_finished()));
    assert!(!client.is_closed());
    for task in stuck {
        task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Garbage flood
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_flood_is_answered_then_disconnected() {
    let settings = LinkSettings {
        max_violations: 3,
        violation_window: Duration::from_secs(60),
        ..LinkSettings::default()
    };
    let mut server = Server::start(settings).await;
    let mut raw = raw_authenticated(&server.url).await;
    let server_link = server.next_link().await;

    for request_id in 1..=2u32 {
        send(&mut raw, Message::Binary(garbage_message(request_id))).await;
        let (id, code, name) = next_error(&mut raw).await;
        assert_eq!(
            (id, code, name.as_str()),
            (
                request_id,
                error_code::F01_INVALID_FIELDS,
                "InvalidFieldsError"
            )
        );
    }
    // Violation 3: a text frame (no answer).
    send(&mut raw, Message::text("hello")).await;
    // Still within the limit: a normal request is served.
    send(&mut raw, frame(&btp_message(10, prepare(b"ok")))).await;
    let packet = next_packet(&mut raw).await;
    assert!(
        matches!(packet, BtpPacket::Response { request_id: 10, .. }),
        "{packet:?}"
    );
    assert!(!server_link.is_closed());

    // Violation 4 is one too many.
    send(&mut raw, Message::Binary(garbage_message(4))).await;
    match expect_end(&mut raw, true).await {
        End::Close(Some(close)) => assert_eq!(close.code, CloseCode::Policy, "{close:?}"),
        other => panic!("expected a Close frame with code 1008, got {other:?}"),
    }
    let reason = within(WAIT, "the server link to close", server_link.closed()).await;
    assert!(reason.starts_with("protocol violation"), "{reason}");
    assert_eq!(
        server.handler.violations(),
        vec![
            Violation::Undecodable,
            Violation::Undecodable,
            Violation::TextFrame,
            Violation::Undecodable
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Oversized frame
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_closes_the_link() {
    let settings = LinkSettings {
        max_frame_bytes: 1024,
        ..LinkSettings::default()
    };
    let mut server = Server::start(settings).await;
    let mut raw = raw_authenticated(&server.url).await;
    let server_link = server.next_link().await;

    // Just under the limit is fine.
    let fits = frame(&btp_message(1, prepare(&[b'x'; 800])));
    let Message::Binary(bytes) = &fits else {
        unreachable!()
    };
    assert!(bytes.len() < 1024, "{}", bytes.len());
    send(&mut raw, fits).await;
    let packet = next_packet(&mut raw).await;
    assert!(
        matches!(packet, BtpPacket::Response { request_id: 1, .. }),
        "{packet:?}"
    );

    // Over it is not.
    let too_big = frame(&btp_message(2, prepare(&[b'x'; 1500])));
    send(&mut raw, too_big).await;
    let end = expect_end(&mut raw, false).await;
    let reason = within(WAIT, "the server link to close", server_link.closed()).await;
    assert!(
        reason.starts_with("read failed"),
        "{reason} (raw side saw {end:?})"
    );
    assert_eq!(
        server.handler.calls(),
        1,
        "the oversized Prepare must not be handled"
    );
}

// ---------------------------------------------------------------------------------------------
// 10. Closing
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_fails_pending_requests_on_both_sides_promptly() {
    let (server, client, client_handler, server_link) = connected(LinkSettings::default()).await;

    let long = Duration::from_secs(30);
    let client_pending = spawn_requests(&client, &prepare(b"never"), 2, long);
    let server_pending = {
        let server_link = server_link.clone();
        tokio::spawn(async move { server_link.request(prepare(b"never"), deadline(long)).await })
    };
    server.handler.wait_calls(2).await;
    client_handler.wait_calls(1).await;

    let started = Instant::now();
    server_link.close("maintenance");
    assert!(server_link.is_closed());
    for task in client_pending {
        let result = within(Duration::from_secs(2), "a pending request to fail", task).await;
        assert_eq!(result.expect("task"), Err(LinkError::Closed));
    }
    let result = within(
        Duration::from_secs(2),
        "a pending request to fail",
        server_pending,
    )
    .await;
    assert_eq!(result.expect("task"), Err(LinkError::Closed));
    assert!(started.elapsed() < Duration::from_secs(2));

    let reason = within(WAIT, "the client link to close", client.closed()).await;
    assert!(!reason.is_empty());
    assert!(client.is_closed());
    assert_eq!(client.close_reason().as_deref(), Some(reason.as_str()));
    assert_eq!(
        within(WAIT, "closed()", server_link.closed()).await,
        "maintenance"
    );

    // New requests on either side fail at once.
    assert_eq!(
        request(&client, prepare(b"x"), long).await,
        Err(LinkError::Closed)
    );
    assert_eq!(
        request(&server_link, prepare(b"x"), long).await,
        Err(LinkError::Closed)
    );
}

/// Prepares are served inside the link's reader task; when the link ends, the ones still being
/// served must run to their end (a connector settles balances there), not be dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepares_being_served_finish_after_their_link_closes() {
    let (server, client, _client_handler, server_link) = connected(LinkSettings::default()).await;
    let pending = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .request(prepare(b"gated"), deadline(Duration::from_secs(30)))
                .await
        })
    };
    server.handler.wait_calls(1).await;
    client.close("going away");
    within(WAIT, "the server link to close", server_link.closed()).await;
    assert_eq!(
        within(WAIT, "the client's request to fail", pending)
            .await
            .expect("task"),
        Err(LinkError::Closed)
    );
    assert!(server.handler.answers().is_empty());

    server.handler.gate.add_permits(1);
    eventually("the handler to finish the Prepare", || {
        server.handler.answers().len() == 1
    })
    .await;
    assert_eq!(
        fulfill_data(&server.handler.answers()[0]),
        Bytes::from_static(b"server:gated")
    );
}

// ---------------------------------------------------------------------------------------------
// 11. Keepalive
// ---------------------------------------------------------------------------------------------

/// Default settings but for an `idle` timeout and a ping every 100 ms.
fn keepalive(idle: Duration) -> LinkSettings {
    LinkSettings {
        idle_timeout: idle,
        ping_interval: Duration::from_millis(100),
        ..LinkSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peer_is_disconnected() {
    let idle = Duration::from_millis(300);
    let settings = keepalive(idle);
    let mut server = Server::start(settings).await;
    // Authenticates, then never reads (so never answers pings) and never sends.
    let mut raw = raw_authenticated(&server.url).await;
    let server_link = server.next_link().await;
    let started = Instant::now();

    let reason = within(WAIT, "the server link to close", server_link.closed()).await;
    let elapsed = started.elapsed();
    assert!(reason.contains("silent"), "{reason}");
    assert!(
        elapsed >= idle - Duration::from_millis(50),
        "closed after only {elapsed:?}"
    );
    assert!(
        elapsed < idle + Duration::from_secs(2),
        "closed after {elapsed:?}"
    );
    // And the socket really goes. (How the raw side sees it varies: answering the pings it
    // never read may hit the closed socket before it gets to the Close frame.)
    expect_end(&mut raw, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_keep_an_idle_link_open() {
    let idle = Duration::from_millis(300);
    let settings = keepalive(idle);
    // Only the client pings; the server stays quiet and relies on the client's pings (and the
    // client on the server's pongs) to know the other side is alive.
    let mut server = Server::start(LinkSettings {
        ping_interval: Duration::from_secs(60),
        ..settings.clone()
    })
    .await;
    let (client, _) = client(&server.url, settings).await;
    let server_link = server.next_link().await;

    tokio::time::sleep(idle * 4).await;
    assert_eq!(client.close_reason(), None);
    assert_eq!(server_link.close_reason(), None);
    let answer = request(&client, prepare(b"awake"), WAIT)
        .await
        .expect("answered");
    assert_eq!(fulfill_data(&answer), &b"server:awake"[..]);
}

// ---------------------------------------------------------------------------------------------
// A peer that stops reading
// ---------------------------------------------------------------------------------------------

/// Socket buffers this small fill up after a few frames, so a peer that stops reading blocks
/// our writer quickly.
const TINY_BUFFER: u32 = 4096;

/// A listener whose accepted sockets (which inherit the setting) have tiny buffers.
fn tiny_buffer_listener() -> TcpListener {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_send_buffer_size(TINY_BUFFER).expect("SO_SNDBUF");
    socket.set_recv_buffer_size(TINY_BUFFER).expect("SO_RCVBUF");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    socket.listen(16).expect("listen")
}

/// A raw authenticated client with tiny socket buffers.
async fn raw_tiny_buffers(url: &str) -> WebSocketStream<TcpStream> {
    let addr = url
        .trim_start_matches("ws://")
        .parse()
        .expect("socket address");
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_send_buffer_size(TINY_BUFFER).expect("SO_SNDBUF");
    socket.set_recv_buffer_size(TINY_BUFFER).expect("SO_RCVBUF");
    let stream = within(WAIT, "tcp connect", socket.connect(addr))
        .await
        .expect("connect");
    let (ws, _) = within(
        WAIT,
        "ws handshake",
        tokio_tungstenite::client_async(url, stream),
    )
    .await
    .expect("ws handshake");
    authenticate_raw(ws).await
}

/// Has `link` send far more than the socket buffers hold (the requests stay pending).
fn flood_requests(link: &Link) -> Vec<JoinHandle<Result<Bytes, LinkError>>> {
    spawn_requests(
        link,
        &prepare(&[b'x'; 16 * 1024]),
        64,
        Duration::from_secs(30),
    )
}

/// `count` copies of `ilp` sent over `link`, each from its own task, with a deadline `after`
/// from now.
fn spawn_requests(
    link: &Link,
    ilp: &Bytes,
    count: usize,
    after: Duration,
) -> Vec<JoinHandle<Result<Bytes, LinkError>>> {
    (0..count)
        .map(|_| {
            let link = link.clone();
            let ilp = ilp.clone();
            tokio::spawn(async move { link.request(ilp, deadline(after)).await })
        })
        .collect()
}

/// Writes until the socket reports an error (the other end is gone); false if the writes
/// still block after `limit`.
async fn writes_fail_within<S>(ws: &mut WebSocketStream<S>, limit: Duration) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let filler = Bytes::from(vec![0u8; 16 * 1024]);
    timeout(limit, async {
        while ws.send(Message::Binary(filler.clone())).await.is_ok() {}
    })
    .await
    .is_ok()
}

/// `close()` must release the socket even when the peer has stopped reading and our writer
/// is blocked on a full socket buffer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_releases_the_socket_of_a_peer_that_stopped_reading() {
    let mut server = Server::start_on(tiny_buffer_listener(), LinkSettings::default());
    let mut raw = raw_tiny_buffers(&server.url).await;
    let server_link = server.next_link().await;

    let pending = flood_requests(&server_link);
    // Give the writer time to fill the socket buffers and block.
    tokio::time::sleep(Duration::from_millis(200)).await;
    server_link.close("bye");
    for task in pending {
        let result = within(WAIT, "a pending request to fail", task).await;
        assert_eq!(result.expect("task"), Err(LinkError::Closed));
    }
    assert!(
        writes_fail_within(&mut raw, Duration::from_secs(5)).await,
        "the socket is still open 5 s after close(): the writer is stuck on a peer that does not read"
    );
}

/// A peer that keeps sending (so it is not silent) but never reads: the link must not stay
/// open forever with nothing getting through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_that_never_reads_is_disconnected() {
    let idle = Duration::from_millis(500);
    let settings = keepalive(idle);
    let mut server = Server::start_on(tiny_buffer_listener(), settings);
    let mut raw = raw_tiny_buffers(&server.url).await;
    let server_link = server.next_link().await;

    let pending = flood_requests(&server_link);
    let started = Instant::now();
    let reason = within(WAIT, "the server link to close", async {
        tokio::select! {
            reason = server_link.closed() => reason,
            // Keep the server's idle timer happy without ever reading.
            _ = async {
                loop {
                    if raw.send(Message::Ping(Bytes::new())).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            } => unreachable!(),
        }
    })
    .await;
    assert!(reason.contains("write"), "{reason}");
    assert!(
        started.elapsed() >= idle,
        "closed after only {:?}",
        started.elapsed()
    );
    for task in pending {
        let result = within(WAIT, "a pending request to fail", task).await;
        assert_eq!(result.expect("task"), Err(LinkError::Closed));
    }
}

// ---------------------------------------------------------------------------------------------
// Latency when the direction of traffic alternates
// ---------------------------------------------------------------------------------------------

/// Requests alternating between the two sides must not wait for delayed ACKs: with Nagle's
/// algorithm on the dialling socket, every client request that follows the client's answer to
/// a server request was held back ~40 ms.
#[tokio::test]
async fn dialled_sockets_disable_nagle() {
    // With Nagle on, a request that follows our answer to the peer's request waits ~40 ms for
    // a delayed ACK. Checked on the socket itself, not by timing.
    let server = Server::start(LinkSettings::default()).await;
    let credentials = ClientCredentials {
        token: "good".into(),
        username: None,
    };
    let authenticated = btp_link::connect(&server.url, &credentials, &LinkSettings::default())
        .await
        .expect("connects");
    assert_eq!(authenticated.tcp_nodelay(), Some(true));
}
