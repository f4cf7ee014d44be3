//! A pushed snapshot into the peer and route model. Problems name the field, for the Nack.

use config_model::{PeerConfig, Relation, RouteConfig, SecretRef};
use proto::grpc::v1 as pb;

pub fn table(snapshot: &pb::Snapshot) -> Result<(Vec<PeerConfig>, Vec<RouteConfig>), String> {
    let peers = snapshot
        .peers
        .iter()
        .enumerate()
        .map(|(index, p)| peer(index, p))
        .collect::<Result<Vec<_>, _>>()?;
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

fn peer(index: usize, p: &pb::PeerConfig) -> Result<PeerConfig, String> {
    let field = |name: &str| format!("peers[{index}].{name} (peer {})", p.id);
    Ok(PeerConfig {
        id: p.id.clone(),
        url: Some(p.url.clone()).filter(|u| !u.is_empty()),
        relation: Relation::parse(&p.relation).ok_or_else(|| {
            format!(
                "{}: {:?} is not peer, parent or child",
                field("relation"),
                p.relation
            )
        })?,
        asset_code: p.asset_code.clone(),
        asset_scale: u8::try_from(p.asset_scale).map_err(|_| {
            format!(
                "{}: {} is not in 0..=255",
                field("assetScale"),
                p.asset_scale
            )
        })?,
        max_packet_amount: p.max_packet_amount,
        credit_limit: p.credit_limit,
        secret_ref: SecretRef::parse(&p.secret_ref)
            .map_err(|e| format!("{}: {e}", field("secretRef")))?,
        auth_username: Some(p.auth_username.clone()).filter(|u| !u.is_empty()),
        public_key: Some(p.public_key.clone()).filter(|k| !k.is_empty()),
    })
}
