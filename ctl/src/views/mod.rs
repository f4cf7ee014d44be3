//! What ctl prints for each resource: plain structs with the proto field names in camelCase,
//! converted from the prost types. JSON and YAML serialize these; tables read them.
//!
//! Every field is always present (absent optional values are `null`), so scripts can rely on
//! the shape. Timestamps are RFC 3339 strings. A peer carries only its secret *reference*:
//! the API never returns a secret, and ctl never resolves one.
//!
//! One file per resource: its fields, its conversion from the API, and how it prints as a table
//! (`Row` or `Text` from `output`, which renders any of them as a table, JSON or YAML).

mod node;
mod peer;
mod route;
mod timestamp;
mod watch;

pub use node::{BalanceRow, DiscoveredNode, NodeStatus};
pub use peer::{Peer, RemovedPeer};
pub use route::{RemovedRoute, Route, RouteExplanation};
pub use watch::WatchEvent;
