//! The gRPC server: every service behind the bearer-token check, plus `grpc.health.v1` and
//! server reflection (open, so stock tools like grpcurl and grpc_health_probe work).

use std::future::Future;

use proto::grpc::v1::config_service_server::ConfigServiceServer;
use proto::grpc::v1::node_service_server::NodeServiceServer;
use proto::grpc::v1::peer_service_server::PeerServiceServer;
use proto::grpc::v1::route_service_server::RouteServiceServer;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::api::{ConfigApi, NodeApi, PeersApi, RoutesApi, State};
use crate::auth::BearerAuth;
use crate::grpc_observer::{GrpcObserverLayer, MethodNames};

pub async fn serve(
    listener: TcpListener,
    state: State,
    auth: BearerAuth,
    tls: Option<tonic::transport::ServerTlsConfig>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<PeerServiceServer<PeersApi>>().await;
    health.set_serving::<RouteServiceServer<RoutesApi>>().await;
    health.set_serving::<NodeServiceServer<NodeApi>>().await;
    health.set_serving::<ConfigServiceServer<ConfigApi>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::grpc::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1();
    let check = move |request| auth.check(request);
    let observer = GrpcObserverLayer {
        metrics: state.metrics.clone(),
        methods: MethodNames::from_descriptor_sets(&[
            proto::grpc::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ]),
    };
    let mut builder = Server::builder()
        // Data planes hold their config stream open for days; keep NATs from forgetting it.
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)));
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let router = builder
        .layer(observer)
        .add_service(health_service)
        .add_service(PeerServiceServer::with_interceptor(
            PeersApi {
                state: state.clone(),
            },
            check.clone(),
        ))
        .add_service(RouteServiceServer::with_interceptor(
            RoutesApi {
                state: state.clone(),
            },
            check.clone(),
        ))
        .add_service(NodeServiceServer::with_interceptor(
            NodeApi {
                state: state.clone(),
            },
            check.clone(),
        ))
        .add_service(ConfigServiceServer::with_interceptor(
            ConfigApi { state },
            check,
        ));
    let router = match reflection {
        Ok(reflection) => router.add_service(reflection),
        Err(error) => {
            tracing::warn!(%error, "reflection_unavailable");
            router
        }
    };
    router
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await
}

/// Accepted connections with Nagle's algorithm off: a connection that holds a Watch (or a
/// config stream) and also carries unary calls otherwise has small responses held back until
/// the peer's delayed ACK, about 40 ms each.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    use super::*;

    #[tokio::test]
    async fn accepted_connections_do_not_wait_for_delayed_acks() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut accepted = incoming(listener);
        let _client = tokio::net::TcpStream::connect(address).await.unwrap();
        let stream = tokio::time::timeout(std::time::Duration::from_secs(5), accepted.next())
            .await
            .expect("accepted within the wait")
            .expect("a connection")
            .unwrap();
        assert!(stream.nodelay().unwrap());
    }
}
