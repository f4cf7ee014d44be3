//! The control plane: peers, routes, secret references, balances and discovery state in SQLite;
//! the gRPC management API; versioned configuration pushed to data planes.

pub mod store;
