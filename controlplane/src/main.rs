//! The control plane: peers, routes, secret references, balances and discovery state in SQLite,
//! the gRPC management API, and versioned configuration pushed to data planes.
//!
//! Not built yet (issue 3). Until then a data plane runs standalone from its YAML/env config.

fn main() {
    eprintln!("controlplane: not implemented yet; run `dataplane` in standalone mode (see README)");
    std::process::exit(2);
}
