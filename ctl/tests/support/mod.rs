//! A fake control plane (all three management services) in a thread of the test process, and
//! a runner (on `test_kit`) for the real `ctl` binary against it.

use std::net::SocketAddr;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context as _;
use proto::grpc::v1 as api;
use proto::grpc::v1::node_service_server::{NodeService, NodeServiceServer};
use proto::grpc::v1::peer_service_server::{PeerService, PeerServiceServer};
use proto::grpc::v1::route_service_server::{RouteService, RouteServiceServer};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Code, Request, Response, Status};

/// What the fake serves. Every call is recorded in `calls` as a short line, so tests can check
/// what ctl sent.
#[derive(Default)]
pub struct Fake {
    /// If set, every call must carry `authorization: Bearer <token>`.
    pub token: Option<String>,
    /// ListPeers pages, in order; page i+1's token is "p{i+1}".
    pub peer_pages: Vec<Vec<api::Peer>>,
    /// The peer GetPeer returns; an id naming a gRPC code (e.g. "NOT_FOUND") fails with it.
    pub peer: api::Peer,
    /// CreatePeer fails with this, if set.
    pub create_error: Option<(Code, &'static str)>,
    pub explain: api::ExplainRouteResponse,
    pub status: api::NodeStatus,
    pub events: Vec<api::WatchEvent>,
    pub discovered: Vec<api::DiscoveredNode>,
    /// Keep the watch stream open after the events.
    pub watch_forever: bool,
    pub calls: Mutex<Vec<String>>,
}

impl Fake {
    fn check(&self, metadata: &tonic::metadata::MetadataMap, call: String) -> Result<(), Status> {
        if let Some(token) = &self.token {
            let header = metadata.get("authorization").and_then(|v| v.to_str().ok());
            if header != Some(format!("Bearer {token}").as_str()) {
                return Err(Status::unauthenticated("invalid bearer token"));
            }
        }
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
        Ok(())
    }

    /// `check`s the call, recorded as `describe(message)`, and returns the message.
    fn record<T: Clone>(
        &self,
        request: &Request<T>,
        describe: impl FnOnce(&T) -> String,
    ) -> Result<T, Status> {
        let message = request.get_ref();
        self.check(request.metadata(), describe(message))?;
        Ok(message.clone())
    }

    /// An id naming a gRPC code (e.g. "NOT_FOUND") makes the call fail with it.
    fn fail_if_code_named(id: &str) -> Result<(), Status> {
        match code_named(id) {
            Some(code) => Err(Status::new(code, format!("fake failure {id}"))),
            None => Ok(()),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

fn code_named(name: &str) -> Option<Code> {
    Some(match name {
        "INVALID_ARGUMENT" => Code::InvalidArgument,
        "NOT_FOUND" => Code::NotFound,
        "ALREADY_EXISTS" => Code::AlreadyExists,
        "ABORTED" => Code::Aborted,
        "FAILED_PRECONDITION" => Code::FailedPrecondition,
        "UNAUTHENTICATED" => Code::Unauthenticated,
        "PERMISSION_DENIED" => Code::PermissionDenied,
        "UNAVAILABLE" => Code::Unavailable,
        "DEADLINE_EXCEEDED" => Code::DeadlineExceeded,
        "INTERNAL" => Code::Internal,
        "UNIMPLEMENTED" => Code::Unimplemented,
        _ => return None,
    })
}

#[tonic::async_trait]
impl PeerService for Fake {
    async fn create_peer(
        &self,
        request: Request<api::CreatePeerRequest>,
    ) -> Result<Response<api::Peer>, Status> {
        let r = request.get_ref();
        self.check(
            request.metadata(),
            format!("CreatePeer validate_only={}", r.validate_only),
        )?;
        if let Some((code, message)) = self.create_error {
            return Err(Status::new(code, message));
        }
        let mut peer = request.into_inner().peer.unwrap_or_default();
        peer.source = "static".into();
        peer.etag = "e1".into();
        Ok(Response::new(peer))
    }

    async fn get_peer(
        &self,
        request: Request<api::GetPeerRequest>,
    ) -> Result<Response<api::Peer>, Status> {
        let id = self.record(&request, |r| format!("GetPeer {}", r.id))?.id;
        Self::fail_if_code_named(&id)?;
        Ok(Response::new(self.peer.clone()))
    }

    async fn list_peers(
        &self,
        request: Request<api::ListPeersRequest>,
    ) -> Result<Response<api::ListPeersResponse>, Status> {
        let r = self.record(&request, |r| {
            format!("ListPeers size={} token={}", r.page_size, r.page_token)
        })?;
        let index: usize = match r.page_token.as_str() {
            "" => 0,
            token => token
                .strip_prefix('p')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Status::invalid_argument("bad page token"))?,
        };
        let next_page_token = if index + 1 < self.peer_pages.len() {
            format!("p{}", index + 1)
        } else {
            String::new()
        };
        Ok(Response::new(api::ListPeersResponse {
            peers: self.peer_pages.get(index).cloned().unwrap_or_default(),
            next_page_token,
        }))
    }

    async fn update_peer(
        &self,
        request: Request<api::UpdatePeerRequest>,
    ) -> Result<Response<api::Peer>, Status> {
        let r = self.record(&request, |r| {
            let mask = r
                .update_mask
                .as_ref()
                .map(|m| m.paths.join(","))
                .unwrap_or_default();
            format!("UpdatePeer mask={mask} validate_only={}", r.validate_only)
        })?;
        Ok(Response::new(r.peer.unwrap_or_default()))
    }

    async fn delete_peer(
        &self,
        request: Request<api::DeletePeerRequest>,
    ) -> Result<Response<api::DeletePeerResponse>, Status> {
        let r = self.record(&request, |r| {
            format!(
                "DeletePeer {} etag={} delete_routes={} validate_only={}",
                r.id, r.etag, r.delete_routes, r.validate_only
            )
        })?;
        Self::fail_if_code_named(&r.id)?;
        Ok(Response::new(api::DeletePeerResponse {
            deleted_routes: vec!["g.west".into()],
        }))
    }
}

#[tonic::async_trait]
impl RouteService for Fake {
    async fn list_routes(
        &self,
        request: Request<api::ListRoutesRequest>,
    ) -> Result<Response<api::ListRoutesResponse>, Status> {
        self.check(request.metadata(), "ListRoutes".into())?;
        Ok(Response::new(api::ListRoutesResponse::default()))
    }

    async fn create_route(
        &self,
        request: Request<api::CreateRouteRequest>,
    ) -> Result<Response<api::Route>, Status> {
        self.check(request.metadata(), "CreateRoute".into())?;
        Ok(Response::new(
            request.into_inner().route.unwrap_or_default(),
        ))
    }

    async fn delete_route(
        &self,
        request: Request<api::DeleteRouteRequest>,
    ) -> Result<Response<api::DeleteRouteResponse>, Status> {
        self.check(request.metadata(), "DeleteRoute".into())?;
        Ok(Response::new(api::DeleteRouteResponse {}))
    }

    async fn explain_route(
        &self,
        request: Request<api::ExplainRouteRequest>,
    ) -> Result<Response<api::ExplainRouteResponse>, Status> {
        self.check(request.metadata(), "ExplainRoute".into())?;
        Ok(Response::new(self.explain.clone()))
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<api::WatchEvent, Status>> + Send>>;

#[tonic::async_trait]
impl NodeService for Fake {
    async fn get_status(
        &self,
        request: Request<api::GetStatusRequest>,
    ) -> Result<Response<api::NodeStatus>, Status> {
        self.check(request.metadata(), "GetStatus".into())?;
        Ok(Response::new(self.status.clone()))
    }

    async fn list_discovered_nodes(
        &self,
        request: Request<api::ListDiscoveredNodesRequest>,
    ) -> Result<Response<api::ListDiscoveredNodesResponse>, Status> {
        self.check(request.metadata(), "ListDiscoveredNodes".into())?;
        Ok(Response::new(api::ListDiscoveredNodesResponse {
            nodes: self.discovered.clone(),
        }))
    }

    type WatchStream = EventStream;

    async fn watch(
        &self,
        request: Request<api::WatchRequest>,
    ) -> Result<Response<EventStream>, Status> {
        self.check(request.metadata(), "Watch".into())?;
        let events = tokio_stream::iter(self.events.clone().into_iter().map(Ok));
        let stream: EventStream = if self.watch_forever {
            Box::pin(events.chain(tokio_stream::pending()))
        } else {
            Box::pin(events)
        };
        Ok(Response::new(stream))
    }
}

/// The fake, serving on 127.0.0.1 from its own thread and runtime, so tests can run `ctl` with
/// blocking process calls. Stops when dropped.
pub struct Server {
    pub address: SocketAddr,
    pub fake: Arc<Fake>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Runs `ctl` against this server with the whitespace-separated words of `line` as its
    /// arguments.
    pub fn ctl_line(&self, line: &str) -> anyhow::Result<Run> {
        ctl(&self.url(), &line.split_whitespace().collect::<Vec<_>>())
    }

    pub fn start(fake: Fake) -> anyhow::Result<Self> {
        let fake = Arc::new(fake);
        let served = fake.clone();
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = address_tx.send(Err(error));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(listener) => listener,
                    Err(error) => {
                        let _ = address_tx.send(Err(error));
                        return;
                    }
                };
                let _ = address_tx.send(listener.local_addr());
                let _ = tonic::transport::Server::builder()
                    .add_service(PeerServiceServer::from_arc(served.clone()))
                    .add_service(RouteServiceServer::from_arc(served.clone()))
                    .add_service(NodeServiceServer::from_arc(served))
                    .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let address = address_rx
            .recv()
            .context("fake server thread ended")?
            .context("binding the fake server")?;
        Ok(Self {
            address,
            fake,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub use test_kit::Output as Run;

/// A `ctl` command with a clean environment: no CTL_* from the developer's shell.
pub fn ctl_command(server: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ctl"));
    command
        .args(["--server", server, "--timeout", "5"])
        .args(args)
        .env_remove("CTL_SERVER")
        .env_remove("CTL_TOKEN")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Runs `ctl --server <url> --timeout 5 <args>` to completion.
pub fn ctl(server: &str, args: &[&str]) -> anyhow::Result<Run> {
    run(ctl_command(server, args))
}

/// Runs `command` to completion (bounded: a hung `ctl` fails the test instead of hanging it).
pub fn run(command: Command) -> anyhow::Result<Run> {
    test_kit::try_run(command, std::time::Duration::from_secs(60)).context("running ctl")
}

pub fn peer(id: &str) -> api::Peer {
    api::Peer {
        id: id.into(),
        relation: "peer".into(),
        asset_code: "USD".into(),
        asset_scale: 9,
        secret_ref: format!("env:{}_SECRET", id.to_uppercase()),
        source: "static".into(),
        etag: "e1".into(),
        ..Default::default()
    }
}
