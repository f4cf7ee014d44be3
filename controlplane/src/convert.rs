//! Stored peers and routes into the API's messages, and API input into the model. The field
//! mapping itself is config-model's (`config_model::grpc`); this adds what only the store knows
//! (source, times, etag) and turns the model's field-named problems into gRPC statuses.

use config_model::{PeerConfig, TableError};
use proto::grpc::v1 as pb;
use tonic::Status;

use crate::store::{StoredPeer, StoredRoute};

pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {problem}"))
}

fn invalid_input(error: TableError) -> Status {
    invalid(&error.field, error.problem)
}

fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

pub fn peer_to_pb(peer: &StoredPeer) -> pb::Peer {
    pb::Peer {
        source: peer.source.as_str().into(),
        create_time: Some(timestamp(peer.created_at_ms)),
        update_time: Some(timestamp(peer.updated_at_ms)),
        etag: peer.etag.clone(),
        ..config_model::grpc::peer_to_api(&peer.config)
    }
}

pub fn route_to_pb(route: &StoredRoute) -> pb::Route {
    pb::Route {
        prefix: route.prefix.clone(),
        peer_id: route.peer_id.clone(),
        source: route.source.as_str().into(),
        create_time: Some(timestamp(route.created_at_ms)),
    }
}

/// A new peer from a Create request: every field, defaults for the empty ones.
pub fn peer_from_create(input: &pb::Peer) -> Result<PeerConfig, Status> {
    config_model::grpc::peer_from_create(input).map_err(invalid_input)
}

/// `current` with the fields named in `mask` (all settable ones if empty) taken from `input`.
pub fn peer_from_update(
    current: &PeerConfig,
    input: &pb::Peer,
    mask: &[String],
) -> Result<PeerConfig, Status> {
    config_model::grpc::peer_from_update(current, input, mask).map_err(invalid_input)
}
