//! Peers and routes as both planes see them, with the rules that make them valid.
//!
//! The control plane checks API input with these rules before storing anything; the data plane
//! checks its YAML and every pushed snapshot with the same rules, so the two can never
//! disagree about what a valid peer is. The YAML sections both read ([`sections`]) and the
//! mapping to and from the gRPC messages ([`grpc`], feature `grpc`) live here too.

#[cfg(feature = "grpc")]
pub mod grpc;
mod peer;
mod route;
pub mod secret;
pub mod sections;
pub mod settlement;

pub use peer::{PeerConfig, PeerField, Relation, check_identifier};
pub use route::{RouteConfig, check_route_prefix};
pub use secret::{Secret, SecretRef};
pub use sections::{DEFAULT_ASSET_CODE, DEFAULT_ASSET_SCALE};

use std::collections::HashSet;

/// What is wrong with one field of a peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {problem}", field.yaml_name())]
pub struct FieldError {
    pub field: PeerField,
    pub problem: String,
}

/// A problem located by its path: in a table of peers and routes by index (`peers[2].url`),
/// in API input by the request's field (`peer.asset_code`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct TableError {
    /// e.g. `peers[2].url` or `routes[0].peer`.
    pub field: String,
    pub problem: String,
}

/// Checks every peer and route, and the table as a whole: unique peer ids, one parent at most
/// (RFC 34: a node learns its address from one parent by ILDCP), unique prefixes, and routes
/// that name existing peers.
pub fn validate_table(peers: &[PeerConfig], routes: &[RouteConfig]) -> Result<(), TableError> {
    let mut ids = HashSet::with_capacity(peers.len());
    let mut parent: Option<&str> = None;
    for (index, peer) in peers.iter().enumerate() {
        peer.validate().map_err(|e| TableError {
            field: format!("peers[{index}].{}", e.field.yaml_name()),
            problem: e.problem,
        })?;
        if peer.relation == Relation::Parent {
            if let Some(first) = parent {
                return Err(TableError {
                    field: format!("peers[{index}].relation"),
                    problem: format!(
                        "{} is a second parent besides {first}; a node has one parent at most (RFC 34)",
                        peer.id
                    ),
                });
            }
            parent = Some(peer.id.as_str());
        }
        if !ids.insert(peer.id.as_str()) {
            return Err(TableError {
                field: format!("peers[{index}].id"),
                problem: format!("duplicate peer id {:?}", peer.id),
            });
        }
    }
    let mut prefixes = HashSet::with_capacity(routes.len());
    for (index, route) in routes.iter().enumerate() {
        let field = |name: &str| format!("routes[{index}].{name}");
        check_route_prefix(&route.prefix).map_err(|problem| TableError {
            field: field("prefix"),
            problem,
        })?;
        if !ids.contains(route.peer.as_str()) {
            return Err(TableError {
                field: field("peer"),
                problem: format!("unknown peer {:?}", route.peer),
            });
        }
        if !prefixes.insert(route.prefix.as_str()) {
            return Err(TableError {
                field: field("prefix"),
                problem: format!("duplicate route for {:?}", route.prefix),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str, relation: Relation) -> PeerConfig {
        PeerConfig {
            relation,
            ..PeerConfig::new(id, SecretRef::Env(id.to_ascii_uppercase()))
        }
    }

    #[test]
    fn a_table_has_one_parent_at_most() {
        let one = [peer("up", Relation::Parent), peer("kid", Relation::Child)];
        assert!(validate_table(&one, &[]).is_ok());
        let two = [
            peer("up", Relation::Parent),
            peer("kid", Relation::Child),
            peer("other", Relation::Parent),
        ];
        let error = validate_table(&two, &[]).unwrap_err();
        assert_eq!(error.field, "peers[2].relation");
        assert!(error.problem.contains("one parent at most"), "{error}");
        assert!(error.problem.contains("up"), "{error}");
    }
}
