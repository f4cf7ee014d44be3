//! ConfigService: the stream each data plane dials. It says Hello (who it is, what it holds);
//! we send the current snapshot unless it already holds that content; it answers Ack or Nack
//! for the snapshot's nonce. A NACKed version is never resent, not even after the data plane
//! reconnects (the refusal is read back from the store): the next change brings a new one. Reports of link states and balances come up the same stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use proto::grpc::v1 as pb;
use proto::grpc::v1::config_service_server::ConfigService;
use service_runtime::telemetry;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::State;
use super::node::version_pb;
use crate::push::CurrentConfig;
use crate::store::{LinkReport, ReportedAddress, ReportedBalance};

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

pub struct ConfigApi {
    pub state: State,
}

fn snapshot_pb(config: &CurrentConfig) -> pb::Snapshot {
    config_model::grpc::snapshot(
        version_pb(config.version),
        config.nonce.clone(),
        config.content_hash.clone(),
        &config.peers,
        &config.routes,
    )
}

#[tonic::async_trait]
impl ConfigService for ConfigApi {
    type StreamConfigStream = ReceiverStream<Result<pb::Snapshot, Status>>;

    async fn stream_config(
        &self,
        request: Request<Streaming<pb::DataPlaneMessage>>,
    ) -> Result<Response<Self::StreamConfigStream>, Status> {
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no hello within 10 s"))??;
        let Some(pb::DataPlaneMessage {
            message: Some(pb::data_plane_message::Message::Hello(hello)),
        }) = first
        else {
            return Err(Status::invalid_argument(
                "message: the first message must be hello",
            ));
        };
        config_model::check_identifier(&hello.node_id)
            .map_err(|p| Status::invalid_argument(format!("hello.node_id: {p}")))?;
        self.state
            .store
            .touch_data_plane(&hello.node_id)
            .await
            .map_err(super::store_status)?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(session(self.state.clone(), hello, inbound, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

struct Sent {
    nonce: String,
    version: (u64, u64),
    content_hash: String,
}

async fn session(
    state: State,
    hello: pb::Hello,
    mut inbound: Streaming<pb::DataPlaneMessage>,
    tx: mpsc::Sender<Result<pb::Snapshot, Status>>,
) {
    let node_id = hello.node_id.clone();
    tracing::info!(node = %node_id, held = ?hello.held_version, "data_plane_connected");
    state.hub.connect(&node_id);
    state.metrics.data_planes_connected.inc();
    let mut updates = state.hub.subscribe();
    let mut held_hash = hello.held_content_hash;
    let mut awaiting: Option<Sent> = None;
    // Read from the store, not kept per session: a data plane that refused a version and
    // reconnects must not be sent the same version again.
    let mut nacked: Option<(u64, u64)> = match state.store.last_nack(&node_id).await {
        Ok(nacked) => nacked,
        Err(error) => {
            tracing::error!(node = %node_id, %error, "data_plane_state_not_read");
            None
        }
    };
    let mut links: HashMap<String, String> = HashMap::new();
    // The version we last recorded as applied by this data plane.
    let mut recorded: Option<(u64, u64)> = None;
    loop {
        let current: Arc<CurrentConfig> = updates.borrow_and_update().clone();
        if current.content_hash == held_hash {
            // It already serves exactly this content (under an older version, or one from an
            // earlier run): nothing to send, but it is as good as applied.
            if recorded != Some(current.version) {
                record(
                    &state,
                    &node_id,
                    state.store.record_ack(&node_id, current.version).await,
                );
                applied_gauge(&state, &node_id, current.version);
                recorded = Some(current.version);
                awaiting = None;
            }
        } else if awaiting.as_ref().map(|s| s.version) != Some(current.version)
            && nacked != Some(current.version)
        {
            let mut snapshot = snapshot_pb(&current);
            let push = if telemetry::traces_enabled() {
                tracing::info_span!(
                    "config.push",
                    otel.kind = "producer",
                    dataplane = %node_id,
                    config.epoch = current.version.0,
                    config.generation = current.version.1,
                    config.peers = current.peers.len(),
                    config.routes = current.routes.len(),
                )
            } else {
                tracing::Span::none()
            };
            snapshot.traceparent = telemetry::traceparent(&push).unwrap_or_default();
            if tx.send(Ok(snapshot)).await.is_err() {
                break;
            }
            drop(push);
            tracing::info!(node = %node_id, version = ?current.version, "config_sent");
            awaiting = Some(Sent {
                nonce: current.nonce.clone(),
                version: current.version,
                content_hash: current.content_hash.clone(),
            });
        }
        tokio::select! {
            _ = state.shutting_down() => break,
            changed = updates.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            message = inbound.message() => {
                let message = match message {
                    Ok(Some(pb::DataPlaneMessage { message: Some(message) })) => message,
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break,
                };
                match message {
                    pb::data_plane_message::Message::Ack(ack) => {
                        if let Some(sent) = awaiting.take_if(|s| s.nonce == ack.nonce) {
                            held_hash = sent.content_hash;
                            recorded = Some(sent.version);
                            record(&state, &node_id, state.store.record_ack(&node_id, sent.version).await);
                            applied_gauge(&state, &node_id, sent.version);
                            tracing::info!(node = %node_id, version = ?sent.version, "config_applied");
                            state.events.publish("applied", pb::watch_event::Event::ConfigApplied(pb::ConfigApplied {
                                node_id: node_id.clone(),
                                version: Some(version_pb(sent.version)),
                            }));
                        }
                    }
                    pb::data_plane_message::Message::Nack(nack) => {
                        if let Some(sent) = awaiting.take_if(|s| s.nonce == nack.nonce) {
                            nacked = Some(sent.version);
                            state.metrics.config_nacks.inc();
                            record(&state, &node_id, state.store.record_nack(&node_id, sent.version, &nack.error).await);
                            tracing::warn!(node = %node_id, version = ?sent.version, error = %nack.error, "config_nacked");
                            state.events.publish("nacked", pb::watch_event::Event::ConfigNacked(pb::ConfigNacked {
                                node_id: node_id.clone(),
                                version: Some(version_pb(sent.version)),
                                error: nack.error,
                            }));
                        }
                    }
                    pb::data_plane_message::Message::Report(report) => {
                        for link in &report.links {
                            if links.get(&link.peer_id) != Some(&link.state) {
                                links.insert(link.peer_id.clone(), link.state.clone());
                                state.events.publish("changed", pb::watch_event::Event::Link(link.clone()));
                            }
                        }
                        let link_rows: Vec<LinkReport> = report
                            .links
                            .into_iter()
                            .map(|l| LinkReport {
                                peer_id: l.peer_id,
                                state: l.state,
                                last_error: Some(l.last_error).filter(|e| !e.is_empty()),
                            })
                            .collect();
                        let balance_rows: Vec<ReportedBalance> = report
                            .balances
                            .into_iter()
                            .map(|b| ReportedBalance {
                                peer_id: b.peer_id,
                                balance: b.balance,
                                pending_incoming: b.pending_incoming,
                            })
                            .collect();
                        let address = (!report.ilp_address.is_empty()).then_some(ReportedAddress {
                            ilp_address: report.ilp_address,
                            source: report.address_source,
                        });
                        record(&state, &node_id, state.store.record_report(&node_id, &link_rows, &balance_rows, address.as_ref()).await);
                    }
                    pb::data_plane_message::Message::Hello(_) => {}
                }
            }
        }
    }
    state.hub.disconnect(&node_id);
    state.metrics.data_planes_connected.dec();
    // A data plane that is gone is not stale; keeping its last value would raise the alert.
    let _ = state
        .metrics
        .applied_generation
        .remove_label_values(&[&node_id]);
    tracing::info!(node = %node_id, "data_plane_disconnected");
}

fn record(_state: &State, node_id: &str, result: Result<(), crate::store::StoreError>) {
    if let Err(error) = result {
        tracing::error!(node = %node_id, %error, "data_plane_state_not_saved");
    }
}

fn applied_gauge(state: &State, node_id: &str, version: (u64, u64)) {
    state
        .metrics
        .applied_generation
        .with_label_values(&[node_id])
        .set(i64::try_from(version.1).unwrap_or(i64::MAX));
}

#[cfg(test)]
mod tests {
    //! The stream against a real in-process gRPC server on 127.0.0.1.

    use std::net::SocketAddr;

    use config_model::{PeerConfig, Relation, SecretRef};
    use proto::grpc::v1::config_service_client::ConfigServiceClient;
    use proto::grpc::v1::config_service_server::ConfigServiceServer;
    use tokio_stream::wrappers::TcpListenerStream;

    use super::*;
    use crate::store::Source;

    const WAIT: Duration = Duration::from_secs(10);

    async fn serve(state: State) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(ConfigServiceServer::new(ConfigApi { state }))
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        address
    }

    /// A data plane's end of the stream: what it sends, and the snapshots it receives.
    struct DataPlane {
        outbound: mpsc::Sender<pb::DataPlaneMessage>,
        inbound: Streaming<pb::Snapshot>,
    }

    impl DataPlane {
        async fn connect(address: SocketAddr, held_hash: &str) -> DataPlane {
            let mut client = ConfigServiceClient::connect(format!("http://{address}"))
                .await
                .unwrap();
            let (outbound, rx) = mpsc::channel(4);
            outbound
                .send(message(pb::data_plane_message::Message::Hello(pb::Hello {
                    node_id: "dp".into(),
                    held_content_hash: held_hash.into(),
                    ..Default::default()
                })))
                .await
                .unwrap();
            let inbound = client
                .stream_config(ReceiverStream::new(rx))
                .await
                .unwrap()
                .into_inner();
            DataPlane { outbound, inbound }
        }

        async fn next(&mut self) -> pb::Snapshot {
            tokio::time::timeout(WAIT, self.inbound.message())
                .await
                .expect("a snapshot within the wait")
                .unwrap()
                .expect("stream open")
        }

        async fn nack(&self, snapshot: &pb::Snapshot) {
            let nack = pb::Nack {
                nonce: snapshot.nonce.clone(),
                error: "cannot apply".into(),
            };
            self.outbound
                .send(message(pb::data_plane_message::Message::Nack(nack)))
                .await
                .unwrap();
        }
    }

    fn message(message: pb::data_plane_message::Message) -> pb::DataPlaneMessage {
        pb::DataPlaneMessage {
            message: Some(message),
        }
    }

    fn peer(id: &str) -> PeerConfig {
        PeerConfig {
            relation: Relation::Child,
            ..PeerConfig::new(id, SecretRef::Env("S".into()))
        }
    }

    fn generation(snapshot: &pb::Snapshot) -> u64 {
        snapshot.version.map(|v| v.generation).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_nacked_version_is_not_resent_after_a_reconnect() {
        let state = State::for_tests("cp").await;
        let address = serve(state.clone()).await;
        let add = |id: &'static str| {
            let state = state.clone();
            async move {
                state
                    .store
                    .create_peer(&peer(id), Source::Static)
                    .await
                    .unwrap();
                state.hub.rebuild().await.unwrap()
            }
        };
        let refused = add("a").await;

        let mut first = DataPlane::connect(address, "").await;
        let sent = first.next().await;
        assert_eq!(generation(&sent), refused.version.1);
        first.nack(&sent).await;
        // The refusal is recorded before the session goes on; wait for it, bounded.
        let deadline = tokio::time::Instant::now() + WAIT;
        while state.store.last_nack("dp").await.unwrap() != Some(refused.version) {
            assert!(tokio::time::Instant::now() < deadline, "no NACK recorded");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(first);

        // Reconnects, still holding what it had before the refused version.
        let mut again = DataPlane::connect(address, "").await;
        let next = add("b").await;
        let sent = again.next().await;
        assert_eq!(
            generation(&sent),
            next.version.1,
            "the first snapshot after the reconnect is the new version, not the refused one"
        );
        assert_eq!(sent.peers.len(), 2);
    }
}
