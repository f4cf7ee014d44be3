//! RouteService: List, Create, Delete, Explain.

use proto::grpc::v1 as pb;
use proto::grpc::v1::route_service_server::RouteService;
use tonic::{Request, Response, Status};

use super::{Page, State, store_status};
use crate::commit::Changes;
use crate::convert::{invalid, route_to_pb};
use crate::store::{Source, StoreError, StoredRoute};

pub struct RoutesApi {
    pub state: State,
}

#[tonic::async_trait]
impl RouteService for RoutesApi {
    async fn list_routes(
        &self,
        request: Request<pb::ListRoutesRequest>,
    ) -> Result<Response<pb::ListRoutesResponse>, Status> {
        let request = request.into_inner();
        let page = Page::of(request.page_size, &request.page_token)?;
        let rows = self
            .state
            .store
            .list_routes(page.after.as_deref(), page.fetch())
            .await
            .map_err(store_status)?;
        let (routes, next_page_token) = page.cut(rows, |r| r.prefix.as_str());
        Ok(Response::new(pb::ListRoutesResponse {
            routes: routes.iter().map(route_to_pb).collect(),
            next_page_token,
        }))
    }

    async fn create_route(
        &self,
        request: Request<pb::CreateRouteRequest>,
    ) -> Result<Response<pb::Route>, Status> {
        let request = request.into_inner();
        let input = request.route.ok_or_else(|| invalid("route", "required"))?;
        config_model::check_route_prefix(&input.prefix).map_err(|p| invalid("route.prefix", p))?;
        if input.peer_id.is_empty() {
            return Err(invalid("route.peer_id", "required"));
        }
        let store = &self.state.store;
        if store
            .get_peer(&input.peer_id)
            .await
            .map_err(store_status)?
            .is_none()
        {
            return Err(invalid(
                "route.peer_id",
                format!("unknown peer {:?}", input.peer_id),
            ));
        }
        if request.validate_only {
            if store
                .get_route(&input.prefix)
                .await
                .map_err(store_status)?
                .is_some()
            {
                return Err(Status::already_exists(format!(
                    "route {:?} already exists",
                    input.prefix
                )));
            }
            return Ok(Response::new(route_to_pb(&StoredRoute {
                prefix: input.prefix,
                peer_id: input.peer_id,
                source: Source::Static,
                created_at_ms: crate::store::now_ms(),
            })));
        }
        let stored = match store
            .create_route(&input.prefix, &input.peer_id, Source::Static)
            .await
        {
            // The peer went away between the check and the insert.
            Err(StoreError::NotFound { .. }) => {
                return Err(invalid(
                    "route.peer_id",
                    format!("unknown peer {:?}", input.peer_id),
                ));
            }
            other => other.map_err(store_status)?,
        };
        tracing::info!(prefix = %stored.prefix, peer = %stored.peer_id, "route_created");
        let mut changes = Changes::default();
        let route = changes.route("created", &stored);
        self.state.commit(changes).await?;
        Ok(Response::new(route))
    }

    async fn delete_route(
        &self,
        request: Request<pb::DeleteRouteRequest>,
    ) -> Result<Response<pb::DeleteRouteResponse>, Status> {
        let request = request.into_inner();
        let store = &self.state.store;
        if request.validate_only {
            return match store
                .get_route(&request.prefix)
                .await
                .map_err(store_status)?
            {
                Some(_) => Ok(Response::new(pb::DeleteRouteResponse {})),
                None => Err(Status::not_found(format!(
                    "route {:?} not found",
                    request.prefix
                ))),
            };
        }
        let deleted = store
            .delete_route(&request.prefix)
            .await
            .map_err(store_status)?;
        tracing::info!(prefix = %deleted.prefix, "route_deleted");
        let mut changes = Changes::default();
        changes.route("deleted", &deleted);
        self.state.commit(changes).await?;
        Ok(Response::new(pb::DeleteRouteResponse {}))
    }

    async fn explain_route(
        &self,
        request: Request<pb::ExplainRouteRequest>,
    ) -> Result<Response<pb::ExplainRouteResponse>, Status> {
        let address = request.into_inner().address;
        proto::Address::new(&address)
            .map_err(|e| invalid("address", format!("{address:?} is not an ILP address: {e}")))?;
        let routes = self.state.store.all_routes().await.map_err(store_status)?;
        let best = routes
            .iter()
            .filter(|r| proto::address::is_segment_prefix(&r.prefix, &address))
            .max_by_key(|r| r.prefix.len());
        let Some(route) = best else {
            return Ok(Response::new(pb::ExplainRouteResponse::default()));
        };
        let link_state = self
            .state
            .store
            .data_planes()
            .await
            .map_err(store_status)?
            .into_iter()
            .max_by_key(|dp| dp.last_seen_ms)
            .and_then(|dp| dp.links.into_iter().find(|l| l.peer_id == route.peer_id))
            .map(|l| l.state)
            .unwrap_or_else(|| "unknown".into());
        Ok(Response::new(pb::ExplainRouteResponse {
            matched: true,
            prefix: route.prefix.clone(),
            peer_id: route.peer_id.clone(),
            source: route.source.as_str().into(),
            link_state,
        }))
    }
}
