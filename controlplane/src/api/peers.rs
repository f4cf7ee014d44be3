//! PeerService: Create, Get, List, Update, Delete.

use proto::grpc::v1 as pb;
use proto::grpc::v1::peer_service_server::PeerService;
use tonic::{Request, Response, Status};

use super::{Page, State, store_status};
use crate::commit::Changes;
use crate::convert::{invalid, peer_from_create, peer_from_update, peer_to_pb};
use crate::store::Source;

pub struct PeersApi {
    pub state: State,
}

/// RFC 34: a node has one parent at most (it learns its address from it by ILDCP). Checked
/// here against the stored peers so the operator hears it at once; a table that slipped past
/// (two concurrent writes) is still refused by the data plane's `validate_table`, as a NACK.
async fn check_one_parent(state: &State, config: &config_model::PeerConfig) -> Result<(), Status> {
    if config.relation != config_model::Relation::Parent {
        return Ok(());
    }
    let peers = state.store.all_peers().await.map_err(store_status)?;
    if let Some(other) = peers
        .iter()
        .find(|p| p.config.relation == config_model::Relation::Parent && p.config.id != config.id)
    {
        return Err(invalid(
            "peer.relation",
            format!(
                "{} is already this node's parent; a node has one parent at most (RFC 34)",
                other.config.id
            ),
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl PeerService for PeersApi {
    async fn create_peer(
        &self,
        request: Request<pb::CreatePeerRequest>,
    ) -> Result<Response<pb::Peer>, Status> {
        let request = request.into_inner();
        let input = request.peer.ok_or_else(|| invalid("peer", "required"))?;
        let config = peer_from_create(&input)?;
        check_one_parent(&self.state, &config).await?;
        let store = &self.state.store;
        if request.validate_only {
            if store
                .get_peer(&config.id)
                .await
                .map_err(store_status)?
                .is_some()
            {
                return Err(Status::already_exists(format!(
                    "peer {:?} already exists",
                    config.id
                )));
            }
            let now = crate::store::now_ms();
            return Ok(Response::new(peer_to_pb(&crate::store::StoredPeer {
                config,
                source: Source::Static,
                created_at_ms: now,
                updated_at_ms: now,
                etag: String::new(),
            })));
        }
        let stored = store
            .create_peer(&config, Source::Static)
            .await
            .map_err(store_status)?;
        tracing::info!(peer = %config.id, "peer_created");
        let mut changes = Changes::default();
        let peer = changes.peer("created", &stored);
        self.state.commit(changes).await?;
        Ok(Response::new(peer))
    }

    async fn get_peer(
        &self,
        request: Request<pb::GetPeerRequest>,
    ) -> Result<Response<pb::Peer>, Status> {
        let id = request.into_inner().id;
        let peer = self.state.store.get_peer(&id).await.map_err(store_status)?;
        peer.map(|p| Response::new(peer_to_pb(&p)))
            .ok_or_else(|| Status::not_found(format!("peer {id:?} not found")))
    }

    async fn list_peers(
        &self,
        request: Request<pb::ListPeersRequest>,
    ) -> Result<Response<pb::ListPeersResponse>, Status> {
        let request = request.into_inner();
        let page = Page::of(request.page_size, &request.page_token)?;
        let rows = self
            .state
            .store
            .list_peers(page.after.as_deref(), page.fetch())
            .await
            .map_err(store_status)?;
        let (peers, next_page_token) = page.cut(rows, |p| p.config.id.as_str());
        Ok(Response::new(pb::ListPeersResponse {
            peers: peers.iter().map(peer_to_pb).collect(),
            next_page_token,
        }))
    }

    async fn update_peer(
        &self,
        request: Request<pb::UpdatePeerRequest>,
    ) -> Result<Response<pb::Peer>, Status> {
        let request = request.into_inner();
        let input = request.peer.ok_or_else(|| invalid("peer", "required"))?;
        let store = &self.state.store;
        let current = store
            .get_peer(&input.id)
            .await
            .map_err(store_status)?
            .ok_or_else(|| Status::not_found(format!("peer {:?} not found", input.id)))?;
        let mask = request.update_mask.map(|m| m.paths).unwrap_or_default();
        let config = peer_from_update(&current.config, &input, &mask)?;
        check_one_parent(&self.state, &config).await?;
        let etag = Some(input.etag.as_str()).filter(|e| !e.is_empty());
        current.check_etag(etag).map_err(store_status)?;
        if request.validate_only {
            return Ok(Response::new(peer_to_pb(&crate::store::StoredPeer {
                config,
                ..current
            })));
        }
        let stored = store
            .update_peer(&config, etag)
            .await
            .map_err(store_status)?;
        tracing::info!(peer = %config.id, "peer_updated");
        let mut changes = Changes::default();
        let peer = changes.peer("updated", &stored);
        self.state.commit(changes).await?;
        Ok(Response::new(peer))
    }

    async fn delete_peer(
        &self,
        request: Request<pb::DeletePeerRequest>,
    ) -> Result<Response<pb::DeletePeerResponse>, Status> {
        let request = request.into_inner();
        let store = &self.state.store;
        let etag = Some(request.etag.as_str()).filter(|e| !e.is_empty());
        if request.validate_only {
            let current = store
                .get_peer(&request.id)
                .await
                .map_err(store_status)?
                .ok_or_else(|| Status::not_found(format!("peer {:?} not found", request.id)))?;
            current.check_etag(etag).map_err(store_status)?;
            let routes: Vec<String> = store
                .all_routes()
                .await
                .map_err(store_status)?
                .into_iter()
                .filter(|r| r.peer_id == request.id)
                .map(|r| r.prefix)
                .collect();
            if !routes.is_empty() && !request.delete_routes {
                return Err(store_status(crate::store::StoreError::PeerHasRoutes {
                    peer: request.id,
                    routes,
                }));
            }
            return Ok(Response::new(pb::DeletePeerResponse {
                deleted_routes: routes,
            }));
        }
        let (peer, routes) = store
            .delete_peer(&request.id, etag, request.delete_routes)
            .await
            .map_err(store_status)?;
        tracing::info!(peer = %request.id, routes = routes.len(), "peer_deleted");
        let mut changes = Changes::default();
        for prefix in &routes {
            changes.route_event(
                "deleted",
                pb::Route {
                    prefix: prefix.clone(),
                    peer_id: request.id.clone(),
                    ..Default::default()
                },
            );
        }
        changes.peer("deleted", &peer);
        self.state.commit(changes).await?;
        Ok(Response::new(pb::DeletePeerResponse {
            deleted_routes: routes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(id: &str, relation: &str) -> Request<pb::CreatePeerRequest> {
        Request::new(pb::CreatePeerRequest {
            peer: Some(pb::Peer {
                id: id.into(),
                relation: relation.into(),
                secret_ref: format!("env:{}", id.to_ascii_uppercase()),
                ..Default::default()
            }),
            validate_only: false,
        })
    }

    #[tokio::test]
    async fn a_second_parent_is_refused_and_a_childs_address_is_kept() {
        let api = PeersApi {
            state: State::for_tests("cp").await,
        };
        api.create_peer(create("up", "parent")).await.unwrap();
        let refused = api.create_peer(create("up2", "parent")).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(
            refused
                .message()
                .contains("peer.relation: up is already this node's parent"),
            "{refused:?}"
        );
        // Turning a peer into a second parent is refused the same way; the parent itself may
        // be updated.
        api.create_peer(create("side", "peer")).await.unwrap();
        let update = |id: &str| {
            Request::new(pb::UpdatePeerRequest {
                peer: Some(pb::Peer {
                    id: id.into(),
                    relation: "parent".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["relation".into()],
                }),
                validate_only: false,
            })
        };
        assert!(api.update_peer(update("side")).await.is_err());
        assert!(api.update_peer(update("up")).await.is_ok());

        let mut kid = create("kid", "child");
        if let Some(peer) = kid.get_mut().peer.as_mut() {
            peer.ilp_address = "test.elsewhere.kid".into();
        }
        api.create_peer(kid).await.unwrap();
        let shown = api
            .get_peer(Request::new(pb::GetPeerRequest { id: "kid".into() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(shown.ilp_address, "test.elsewhere.kid", "stored and shown");
    }
}
