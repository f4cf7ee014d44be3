//! A route and its rules.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    pub prefix: String,
    pub peer: String,
}

/// A route prefix: an ILP address or a bare scheme (`g`, `test`), matched on whole segments.
/// `peer.*` is link-local (RFC 15) and never routed.
pub fn check_route_prefix(prefix: &str) -> Result<(), String> {
    proto::address::validate_prefix(prefix)
        .map_err(|e| format!("{prefix:?} is not an ILP prefix: {e}"))?;
    if prefix == "peer" || prefix.starts_with("peer.") {
        return Err("peer.* addresses are link-local and never routed".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert!(check_route_prefix("g").is_ok());
        assert!(check_route_prefix("g.acme.east").is_ok());
        assert!(check_route_prefix("g..x").is_err());
        assert!(check_route_prefix("g.x!").is_err());
        assert!(
            check_route_prefix("peer.config")
                .unwrap_err()
                .contains("link-local")
        );
    }
}
