//! `ctl`: the operator's gRPC client for the control plane (peers, routes, status, watch, setup).
//!
//! Not built yet (issue 3). The `testpeer` binary sends test packets in the meantime.

fn main() {
    eprintln!("ctl: not implemented yet; the control plane API lands with issue 3 (see README)");
    std::process::exit(2);
}
