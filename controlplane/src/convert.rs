//! Between the gRPC messages and the stored model, with validation that names the field.

use config_model::{PeerConfig, PeerField, Relation, SecretRef};
use proto::grpc::v1 as pb;
use tonic::Status;

use crate::store::{StoredPeer, StoredRoute};

pub const DEFAULT_ASSET_CODE: &str = "USD";
pub const DEFAULT_ASSET_SCALE: u8 = 9;

pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {problem}"))
}

fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

pub fn peer_to_pb(peer: &StoredPeer) -> pb::Peer {
    let c = &peer.config;
    pb::Peer {
        id: c.id.clone(),
        url: c.url.clone().unwrap_or_default(),
        relation: c.relation.as_str().into(),
        asset_code: c.asset_code.clone(),
        asset_scale: u32::from(c.asset_scale),
        max_packet_amount: c.max_packet_amount,
        credit_limit: c.credit_limit,
        secret_ref: c.secret_ref.to_string(),
        auth_username: c.auth_username.clone().unwrap_or_default(),
        source: peer.source.as_str().into(),
        create_time: Some(timestamp(peer.created_at_ms)),
        update_time: Some(timestamp(peer.updated_at_ms)),
        etag: peer.etag.clone(),
        public_key: c.public_key.clone().unwrap_or_default(),
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

pub fn config_peer_to_pb(c: &PeerConfig) -> pb::PeerConfig {
    pb::PeerConfig {
        id: c.id.clone(),
        url: c.url.clone().unwrap_or_default(),
        relation: c.relation.as_str().into(),
        asset_code: c.asset_code.clone(),
        asset_scale: u32::from(c.asset_scale),
        max_packet_amount: c.max_packet_amount,
        credit_limit: c.credit_limit,
        secret_ref: c.secret_ref.to_string(),
        auth_username: c.auth_username.clone().unwrap_or_default(),
        public_key: c.public_key.clone().unwrap_or_default(),
    }
}

/// One settable field of `input`, checked; used by Create (all fields) and Update (masked).
fn set_field(config: &mut PeerConfig, input: &pb::Peer, field: PeerField) -> Result<(), Status> {
    let name = |f: PeerField| format!("peer.{}", f.proto_name());
    match field {
        PeerField::Id => config.id = input.id.clone(),
        PeerField::Url => config.url = Some(input.url.clone()).filter(|u| !u.is_empty()),
        PeerField::Relation => {
            config.relation = if input.relation.is_empty() {
                Relation::Peer
            } else {
                Relation::parse(&input.relation).ok_or_else(|| {
                    invalid(
                        &name(field),
                        format!("{:?} is not peer, parent or child", input.relation),
                    )
                })?
            }
        }
        PeerField::AssetCode => {
            config.asset_code = if input.asset_code.is_empty() {
                DEFAULT_ASSET_CODE.into()
            } else {
                input.asset_code.clone()
            }
        }
        PeerField::AssetScale => {
            config.asset_scale = u8::try_from(input.asset_scale).map_err(|_| {
                invalid(
                    &name(field),
                    format!("{} is not in 0..=255", input.asset_scale),
                )
            })?
        }
        PeerField::MaxPacketAmount => config.max_packet_amount = input.max_packet_amount,
        PeerField::CreditLimit => config.credit_limit = input.credit_limit,
        PeerField::SecretRef => {
            if input.secret_ref.is_empty() {
                return Err(invalid(&name(field), "required (env:NAME or file:/path)"));
            }
            config.secret_ref =
                SecretRef::parse(&input.secret_ref).map_err(|p| invalid(&name(field), p))?
        }
        PeerField::AuthUsername => {
            config.auth_username = Some(input.auth_username.clone()).filter(|u| !u.is_empty())
        }
        PeerField::PublicKey => {
            config.public_key = Some(input.public_key.clone()).filter(|k| !k.is_empty())
        }
    }
    Ok(())
}

const SETTABLE: [PeerField; 9] = [
    PeerField::Url,
    PeerField::Relation,
    PeerField::AssetCode,
    PeerField::AssetScale,
    PeerField::MaxPacketAmount,
    PeerField::CreditLimit,
    PeerField::SecretRef,
    PeerField::AuthUsername,
    PeerField::PublicKey,
];

/// A new peer from a Create request: every field, defaults for the empty ones.
pub fn peer_from_create(input: &pb::Peer) -> Result<PeerConfig, Status> {
    let mut config = PeerConfig {
        id: String::new(),
        url: None,
        relation: Relation::Peer,
        asset_code: DEFAULT_ASSET_CODE.into(),
        asset_scale: DEFAULT_ASSET_SCALE,
        max_packet_amount: None,
        credit_limit: None,
        secret_ref: SecretRef::Env("UNSET".into()),
        auth_username: None,
        public_key: None,
    };
    set_field(&mut config, input, PeerField::Id)?;
    for field in SETTABLE {
        // An omitted asset scale means the default, not 0.
        if field == PeerField::AssetScale && input.asset_scale == 0 && input.asset_code.is_empty() {
            continue;
        }
        set_field(&mut config, input, field)?;
    }
    check(&config)?;
    Ok(config)
}

/// `current` with the fields named in `mask` (all settable ones if empty) taken from `input`.
pub fn peer_from_update(
    current: &PeerConfig,
    input: &pb::Peer,
    mask: &[String],
) -> Result<PeerConfig, Status> {
    let mut config = current.clone();
    if mask.is_empty() {
        for field in SETTABLE {
            set_field(&mut config, input, field)?;
        }
    } else {
        for path in mask {
            let field = SETTABLE
                .iter()
                .copied()
                .find(|f| f.proto_name() == path)
                .ok_or_else(|| {
                    invalid(
                        "update_mask",
                        format!("{path:?} is not a settable peer field"),
                    )
                })?;
            set_field(&mut config, input, field)?;
        }
    }
    check(&config)?;
    Ok(config)
}

fn check(config: &PeerConfig) -> Result<(), Status> {
    config
        .validate()
        .map_err(|e| invalid(&format!("peer.{}", e.field.proto_name()), e.problem))
}
