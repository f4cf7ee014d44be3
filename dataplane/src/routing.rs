//! The route table: longest-prefix match on whole address segments (RFC 15).
//!
//! A lookup walks the destination from its full length down to its scheme, cutting one segment
//! at a time, and asks a hash map at each step: the cost grows with the number of segments in
//! the address, not with the number of routes. Cutting only at dots is what keeps `g.alice`
//! from catching `g.alice2`.

use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Default, Clone)]
pub struct RouteTable {
    routes: HashMap<Box<str>, Arc<str>>,
}

/// The route a destination matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub prefix: &'a str,
    pub peer: &'a Arc<str>,
}

impl RouteTable {
    pub fn new<I, P>(routes: I) -> RouteTable
    where
        I: IntoIterator<Item = (P, Arc<str>)>,
        P: Into<Box<str>>,
    {
        RouteTable {
            routes: routes
                .into_iter()
                .map(|(prefix, peer)| (prefix.into(), peer))
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The longest configured prefix that is `destination` itself or ends at one of its dots;
    /// the empty prefix, if configured, is the default route.
    pub fn lookup(&self, destination: &str) -> Option<RouteMatch<'_>> {
        let mut candidate = destination;
        loop {
            if let Some((prefix, peer)) = self.routes.get_key_value(candidate) {
                return Some(RouteMatch { prefix, peer });
            }
            match candidate.rfind('.') {
                Some(dot) => candidate = &candidate[..dot],
                None => break,
            }
        }
        self.routes
            .get_key_value("")
            .map(|(prefix, peer)| RouteMatch { prefix, peer })
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<str>)> {
        self.routes.iter().map(|(prefix, peer)| (&**prefix, peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: &[(&str, &str)]) -> RouteTable {
        RouteTable::new(
            routes
                .iter()
                .map(|(prefix, peer)| (*prefix, Arc::from(*peer))),
        )
    }

    fn next_hop(table: &RouteTable, destination: &str) -> Option<String> {
        table.lookup(destination).map(|m| m.peer.to_string())
    }

    #[test]
    fn longest_whole_segment_prefix_wins() {
        let t = table(&[("g.alice", "a"), ("g.alice.bob", "b"), ("g", "hub")]);
        assert_eq!(next_hop(&t, "g.alice").as_deref(), Some("a"));
        assert_eq!(next_hop(&t, "g.alice.carol").as_deref(), Some("a"));
        assert_eq!(next_hop(&t, "g.alice.bob.x").as_deref(), Some("b"));
        assert_eq!(
            next_hop(&t, "g.alice2").as_deref(),
            Some("hub"),
            "g.alice must not catch g.alice2"
        );
        assert_eq!(next_hop(&t, "test.x"), None);
        let m = t.lookup("g.alice.bob.x").unwrap();
        assert_eq!(m.prefix, "g.alice.bob");
    }

    #[test]
    fn empty_prefix_is_the_default_route() {
        let t = table(&[("", "default"), ("g.x", "x")]);
        assert_eq!(next_hop(&t, "test.anything").as_deref(), Some("default"));
        assert_eq!(next_hop(&t, "g.x.y").as_deref(), Some("x"));
        assert!(table(&[]).lookup("g.a").is_none());
    }
}
