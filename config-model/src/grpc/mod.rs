//! The model in and out of the gRPC messages (feature `grpc`): the management API's `Peer`,
//! the config stream's `PeerConfig`, `RouteConfig` and `Snapshot`, and the snapshot's content
//! hash. The control plane's API, its config push and the data plane's apply all map through
//! here, so a field added to the model is mapped (and hashed) once or not at all: every
//! mapping destructures or builds the whole struct, and the compiler names what is missing.

use prost::Message as _;
use proto::grpc::v1 as pb;
use sha2::{Digest, Sha256};

use crate::sections::DEFAULT_ASSET_CODE;
use crate::{PeerConfig, PeerField, Relation, RouteConfig, SecretRef, TableError};

/// A peer as the config stream carries it.
pub fn peer_to_pb(peer: &PeerConfig) -> pb::PeerConfig {
    let PeerConfig {
        id,
        url,
        relation,
        asset_code,
        asset_scale,
        max_packet_amount,
        credit_limit,
        secret_ref,
        auth_username,
        public_key,
        ilp_address,
    } = peer;
    pb::PeerConfig {
        id: id.clone(),
        url: url.clone().unwrap_or_default(),
        relation: relation.as_str().into(),
        asset_code: asset_code.clone(),
        asset_scale: u32::from(*asset_scale),
        max_packet_amount: *max_packet_amount,
        credit_limit: *credit_limit,
        secret_ref: secret_ref.to_string(),
        auth_username: auth_username.clone().unwrap_or_default(),
        public_key: public_key.clone().unwrap_or_default(),
        ilp_address: ilp_address
            .as_ref()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// A peer as the management API shows it; the store's output-only fields (source, times,
/// etag) are left for the caller.
pub fn peer_to_api(peer: &PeerConfig) -> pb::Peer {
    let p = peer_to_pb(peer);
    pb::Peer {
        id: p.id,
        url: p.url,
        relation: p.relation,
        asset_code: p.asset_code,
        asset_scale: p.asset_scale,
        max_packet_amount: p.max_packet_amount,
        credit_limit: p.credit_limit,
        secret_ref: p.secret_ref,
        auth_username: p.auth_username,
        public_key: p.public_key,
        ilp_address: p.ilp_address,
        source: String::new(),
        create_time: None,
        update_time: None,
        etag: String::new(),
    }
}

pub fn route_to_pb(route: &RouteConfig) -> pb::RouteConfig {
    pb::RouteConfig {
        prefix: route.prefix.clone(),
        peer_id: route.peer.clone(),
    }
}

/// The settable fields of either peer message, borrowed.
struct Fields<'a> {
    id: &'a str,
    url: &'a str,
    relation: &'a str,
    asset_code: &'a str,
    asset_scale: u32,
    max_packet_amount: Option<u64>,
    credit_limit: Option<u64>,
    secret_ref: &'a str,
    auth_username: &'a str,
    public_key: &'a str,
    ilp_address: &'a str,
}

/// Both messages carry the settable fields under the same names.
macro_rules! fields_of {
    ($($message:ty),+) => {$(
        impl<'a> From<&'a $message> for Fields<'a> {
            fn from(p: &'a $message) -> Self {
                Fields {
                    id: &p.id,
                    url: &p.url,
                    relation: &p.relation,
                    asset_code: &p.asset_code,
                    asset_scale: p.asset_scale,
                    max_packet_amount: p.max_packet_amount,
                    credit_limit: p.credit_limit,
                    secret_ref: &p.secret_ref,
                    auth_username: &p.auth_username,
                    public_key: &p.public_key,
                    ilp_address: &p.ilp_address,
                }
            }
        }
    )+};
}

fields_of!(pb::Peer, pb::PeerConfig);

/// How empty strings read: API input fills in defaults for what the caller left out; a
/// pushed snapshot was written by a control plane and is taken as it is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Empty {
    Default,
    AsIs,
}

/// Sets one field of `config` from `input`; the problem, if any, without the field's name.
fn set_field(
    config: &mut PeerConfig,
    input: &Fields<'_>,
    field: PeerField,
    empty: Empty,
) -> Result<(), String> {
    let nonempty = |text: &str| Some(text.to_string()).filter(|t| !t.is_empty());
    match field {
        PeerField::Id => config.id = input.id.to_string(),
        PeerField::Url => config.url = nonempty(input.url),
        PeerField::Relation => {
            config.relation = if input.relation.is_empty() && empty == Empty::Default {
                Relation::Peer
            } else {
                Relation::parse(input.relation)
                    .ok_or_else(|| format!("{:?} is not peer, parent or child", input.relation))?
            }
        }
        PeerField::AssetCode => {
            config.asset_code = if input.asset_code.is_empty() && empty == Empty::Default {
                DEFAULT_ASSET_CODE.into()
            } else {
                input.asset_code.to_string()
            }
        }
        PeerField::AssetScale => {
            config.asset_scale = u8::try_from(input.asset_scale)
                .map_err(|_| format!("{} is not in 0..=255", input.asset_scale))?
        }
        PeerField::MaxPacketAmount => config.max_packet_amount = input.max_packet_amount,
        PeerField::CreditLimit => config.credit_limit = input.credit_limit,
        PeerField::SecretRef => {
            if input.secret_ref.is_empty() {
                return Err("required (env:NAME or file:/path)".into());
            }
            config.secret_ref = SecretRef::parse(input.secret_ref)?
        }
        PeerField::AuthUsername => config.auth_username = nonempty(input.auth_username),
        PeerField::PublicKey => config.public_key = nonempty(input.public_key),
        PeerField::IlpAddress => {
            config.ilp_address = match input.ilp_address {
                "" => None,
                text => Some(
                    proto::Address::new(text)
                        .map_err(|e| format!("{text:?} is not an ILP address: {e}"))?,
                ),
            }
        }
    }
    Ok(())
}

/// Every field but the id, which names the peer and cannot be changed.
pub const SETTABLE: [PeerField; 10] = [
    PeerField::Url,
    PeerField::Relation,
    PeerField::AssetCode,
    PeerField::AssetScale,
    PeerField::MaxPacketAmount,
    PeerField::CreditLimit,
    PeerField::SecretRef,
    PeerField::AuthUsername,
    PeerField::PublicKey,
    PeerField::IlpAddress,
];

fn blank() -> PeerConfig {
    PeerConfig::new(String::new(), SecretRef::NodeKey)
}

fn api_error(field: PeerField, problem: String) -> TableError {
    TableError {
        field: format!("peer.{}", field.proto_name()),
        problem,
    }
}

fn checked(config: PeerConfig) -> Result<PeerConfig, TableError> {
    config
        .validate()
        .map_err(|e| api_error(e.field, e.problem))?;
    Ok(config)
}

/// A new peer from a Create request: every field, defaults for the empty ones, validated.
/// Errors name the field as the API does (`peer.asset_code`).
pub fn peer_from_create(input: &pb::Peer) -> Result<PeerConfig, TableError> {
    let fields = Fields::from(input);
    let mut config = blank();
    let mut set = |field| {
        set_field(&mut config, &fields, field, Empty::Default).map_err(|p| api_error(field, p))
    };
    set(PeerField::Id)?;
    for field in SETTABLE {
        // An omitted asset scale means the default, not 0.
        if field == PeerField::AssetScale && input.asset_scale == 0 && input.asset_code.is_empty() {
            continue;
        }
        set(field)?;
    }
    checked(config)
}

/// `current` with the fields named in `mask` (every settable one if empty) taken from
/// `input`, validated.
pub fn peer_from_update(
    current: &PeerConfig,
    input: &pb::Peer,
    mask: &[String],
) -> Result<PeerConfig, TableError> {
    let fields = Fields::from(input);
    let mut config = current.clone();
    let chosen: Vec<PeerField> = if mask.is_empty() {
        SETTABLE.to_vec()
    } else {
        mask.iter()
            .map(|path| {
                SETTABLE
                    .iter()
                    .copied()
                    .find(|f| f.proto_name() == path)
                    .ok_or_else(|| TableError {
                        field: "update_mask".into(),
                        problem: format!("{path:?} is not a settable peer field"),
                    })
            })
            .collect::<Result<_, _>>()?
    };
    for field in chosen {
        set_field(&mut config, &fields, field, Empty::Default).map_err(|p| api_error(field, p))?;
    }
    checked(config)
}

/// A pushed snapshot's peers and routes, read as they are (the table is validated by whoever
/// applies it). Problems name the entry and the peer, for the Nack.
pub fn table_from_snapshot(
    snapshot: &pb::Snapshot,
) -> Result<(Vec<PeerConfig>, Vec<RouteConfig>), TableError> {
    let mut peers = Vec::with_capacity(snapshot.peers.len());
    for (index, p) in snapshot.peers.iter().enumerate() {
        let fields = Fields::from(p);
        let mut config = blank();
        for field in std::iter::once(PeerField::Id).chain(SETTABLE) {
            set_field(&mut config, &fields, field, Empty::AsIs).map_err(|problem| TableError {
                field: format!("peers[{index}].{} (peer {})", field.yaml_name(), p.id),
                problem,
            })?;
        }
        peers.push(config);
    }
    let routes = snapshot
        .routes
        .iter()
        .map(|r| RouteConfig {
            prefix: r.prefix.clone(),
            peer: r.peer_id.clone(),
        })
        .collect();
    Ok((peers, routes))
}

/// SHA-256 (hex) of the table as the config stream carries it: the peers sorted by id and
/// the routes by prefix, encoded as one `Snapshot` message with nothing else set. Every field
/// that is pushed is hashed, because what is hashed is what is pushed; and the same table
/// hashes the same whatever its order. Prost writes the fields of a message in field-number
/// order and this message has no maps, so the encoding is canonical.
pub fn content_hash(peers: &[PeerConfig], routes: &[RouteConfig]) -> String {
    let mut peers: Vec<&PeerConfig> = peers.iter().collect();
    peers.sort_by(|a, b| a.id.cmp(&b.id));
    let mut routes: Vec<&RouteConfig> = routes.iter().collect();
    routes.sort_by(|a, b| a.prefix.cmp(&b.prefix).then_with(|| a.peer.cmp(&b.peer)));
    let table = pb::Snapshot {
        version: None,
        nonce: String::new(),
        content_hash: String::new(),
        peers: peers.into_iter().map(peer_to_pb).collect(),
        routes: routes.into_iter().map(route_to_pb).collect(),
        traceparent: String::new(),
    };
    hex(&Sha256::digest(table.encode_to_vec()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The snapshot a data plane is sent: the table, its hash, and the version's identifiers.
pub fn snapshot(
    version: pb::ConfigVersion,
    nonce: String,
    content_hash: String,
    peers: &[PeerConfig],
    routes: &[RouteConfig],
) -> pb::Snapshot {
    pb::Snapshot {
        version: Some(version),
        nonce,
        content_hash,
        peers: peers.iter().map(peer_to_pb).collect(),
        routes: routes.iter().map(route_to_pb).collect(),
        traceparent: String::new(),
    }
}

#[cfg(test)]
mod tests;
