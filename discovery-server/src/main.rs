//! The discovery server: an HTTP/JSON registry where nodes announce themselves with a TTL, list
//! each other by capability and deregister; identities bound to a key so they cannot be hijacked.
//!
//! Not built yet (issue 4).

fn main() {
    eprintln!("discovery-server: not implemented yet (see README)");
    std::process::exit(2);
}
