//! `controlplane`. Wiring only.

fn main() {
    eprintln!("controlplane: the gRPC server is not wired yet");
    std::process::exit(2);
}
