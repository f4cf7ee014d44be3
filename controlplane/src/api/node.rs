//! NodeService: the node's status (data planes, versions, NACKs, links, balances) and Watch.

use std::pin::Pin;

use proto::grpc::v1 as pb;
use proto::grpc::v1::node_service_server::NodeService;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::{State, store_status};

pub struct NodeApi {
    pub state: State,
}

pub fn version_pb((epoch, generation): (u64, u64)) -> pb::ConfigVersion {
    pb::ConfigVersion { epoch, generation }
}

fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

#[tonic::async_trait]
impl NodeService for NodeApi {
    async fn get_status(
        &self,
        _: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::NodeStatus>, Status> {
        let state = &self.state;
        let current = state.hub.current();
        let settlement = state.store.settlement().await.map_err(store_status)?;
        let data_planes = state
            .store
            .data_planes()
            .await
            .map_err(store_status)?
            .into_iter()
            .map(|dp| pb::DataPlaneStatus {
                connected: state.hub.is_connected(&dp.node_id),
                applied_version: dp.applied.map(version_pb),
                last_nack_version: dp.nack.as_ref().map(|(v, _)| version_pb(*v)),
                last_nack_error: dp.nack.map(|(_, e)| e).unwrap_or_default(),
                last_seen: Some(timestamp(dp.last_seen_ms)),
                links: dp
                    .links
                    .into_iter()
                    .map(|l| pb::LinkStatus {
                        peer_id: l.peer_id,
                        state: l.state,
                        last_error: l.last_error.unwrap_or_default(),
                    })
                    .collect(),
                balances: dp
                    .balances
                    .into_iter()
                    .map(|b| pb::PeerBalance {
                        peer_id: b.peer_id,
                        balance: b.balance,
                        pending_incoming: b.pending_incoming,
                    })
                    .collect(),
                ilp_address: dp
                    .address
                    .as_ref()
                    .map(|a| a.ilp_address.clone())
                    .unwrap_or_default(),
                address_source: dp.address.map(|a| a.source).unwrap_or_default(),
                node_id: dp.node_id,
            })
            .collect();
        Ok(Response::new(pb::NodeStatus {
            node_id: state.node_id.clone(),
            current_version: Some(version_pb(current.version)),
            peer_count: u32::try_from(current.peers.len()).unwrap_or(u32::MAX),
            route_count: u32::try_from(current.routes.len()).unwrap_or(u32::MAX),
            data_planes,
            settlement: Some(pb::Settlement {
                capabilities: settlement.capabilities,
                evm_address: settlement.evm_address.unwrap_or_default(),
                xrp_address: settlement.xrp_address.unwrap_or_default(),
            }),
        }))
    }

    async fn list_discovered_nodes(
        &self,
        _: Request<pb::ListDiscoveredNodesRequest>,
    ) -> Result<Response<pb::ListDiscoveredNodesResponse>, Status> {
        let store = &self.state.store;
        let peers: std::collections::HashSet<String> = store
            .all_peers()
            .await
            .map_err(store_status)?
            .into_iter()
            .map(|p| p.config.id)
            .collect();
        let nodes = store
            .discovered()
            .await
            .map_err(store_status)?
            .into_iter()
            .map(|n| pb::DiscoveredNode {
                peered: peers.contains(&n.node_id),
                verified: n.verified,
                last_seen: Some(timestamp(n.last_seen_ms)),
                node_id: n.node_id,
                btp_endpoint: n.btp_endpoint,
                ilp_address: n.ilp_address,
                capabilities: n.capabilities,
                source_endpoint: n.source_endpoint,
            })
            .collect();
        Ok(Response::new(pb::ListDiscoveredNodesResponse { nodes }))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchEvent, Status>> + Send + 'static>>;

    async fn watch(
        &self,
        _: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        // A watcher too slow to keep up loses the events it missed, not the stream, and is told
        // how many it lost.
        let events = BroadcastStream::new(self.state.events.subscribe()).map(move |event| {
            Ok(match event {
                Ok(event) => event,
                Err(BroadcastStreamRecvError::Lagged(count)) => {
                    tracing::warn!(missed = count, "watcher_lagged");
                    crate::events::missed(count)
                }
            })
        });
        Ok(Response::new(Box::pin(events)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A watcher that does not read while more than the broadcast holds is published is told
    /// how many events it lost, then goes on with the newest.
    #[tokio::test]
    async fn a_watcher_that_fell_behind_is_told_how_many_events_it_missed() {
        let state = State::for_tests("cp").await;
        let api = NodeApi {
            state: state.clone(),
        };
        let mut stream = api
            .watch(Request::new(pb::WatchRequest::default()))
            .await
            .unwrap()
            .into_inner();
        let route = |n: usize| {
            pb::watch_event::Event::Route(pb::Route {
                prefix: format!("g.r{n}"),
                ..Default::default()
            })
        };
        for n in 0..1100 {
            state.events.publish("created", route(n));
        }
        async fn next(stream: &mut <NodeApi as NodeService>::WatchStream) -> pb::WatchEvent {
            tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
                .await
                .expect("an event within the wait")
                .expect("the stream is open")
                .unwrap()
        }
        let first = next(&mut stream).await;
        assert_eq!(first.action, "missed");
        assert_eq!(
            first.event,
            Some(pb::watch_event::Event::Missed(pb::EventsMissed {
                count: 76
            }))
        );
        let after = next(&mut stream).await;
        assert_eq!(
            after.event,
            Some(route(76)),
            "then the oldest event still held"
        );
    }

    #[tokio::test]
    async fn the_status_shows_how_the_node_settles() {
        let state = State::for_tests("cp").await;
        // What a start records from the environment is what the status shows.
        let configured = config_model::settlement::Settlement::parse(
            Some("both"),
            Some("0x52908400098527886E0F7030069857D2E4169EE7"),
            Some("rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"),
        )
        .unwrap();
        state.store.record_settlement(&configured).await.unwrap();
        let status = NodeApi { state }
            .get_status(Request::new(pb::GetStatusRequest::default()))
            .await
            .unwrap()
            .into_inner();
        let settlement = status.settlement.unwrap_or_default();
        assert_eq!(
            settlement.capabilities,
            ["evm-settlement", "xrp-settlement"]
        );
        assert_eq!(settlement.xrp_address, "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh");
        assert_eq!(
            settlement.evm_address,
            "0x52908400098527886E0F7030069857D2E4169EE7"
        );
    }
}
