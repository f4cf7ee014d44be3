//! The README's first command: `ctl localnet` brings up a network and a payment crosses it.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use e2e::{binary, temp_dir};

/// A base port whose next `count` ports are free right now.
fn free_base(count: u16) -> u16 {
    for _ in 0..200 {
        let base = 20_000 + rand_port_offset();
        if (0..count).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no {count} consecutive free ports found");
}

fn rand_port_offset() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    u16::try_from((nanos ^ std::process::id()) % 40_000).unwrap_or(0)
}

#[test]
fn localnet_starts_pays_and_stops() {
    let dir = temp_dir();
    let state = dir.path().join("net");
    let (btp, health, grpc, cp_http) = (free_base(4), free_base(4), free_base(4), free_base(4));
    let mut command = Command::new(binary("ctl"));
    command
        .args(["localnet", "--once", "--nodes", "4"])
        .args(["--dir", &state.display().to_string()])
        .args(["--btp-base-port", &btp.to_string()])
        .args(["--health-base-port", &health.to_string()])
        .args(["--grpc-base-port", &grpc.to_string()])
        .args(["--controlplane-http-base-port", &cp_http.to_string()]);
    let output = test_kit::try_run(command, Duration::from_secs(90))
        .unwrap_or_else(|e| panic!("ctl localnet --once did not finish: {e}"));
    let (stdout, stderr) = (&output.stdout, &output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("fulfilled"), "{stdout}");
    for port in [grpc, btp + 3, health + 3] {
        assert!(
            stdout.contains(&format!("127.0.0.1:{port}")),
            "endpoint {port} printed:\n{stdout}"
        );
    }
    // Everything it started is gone again.
    for i in 0..4 {
        assert!(
            TcpListener::bind(("127.0.0.1", btp + i)).is_ok(),
            "BTP port {} still held",
            btp + i
        );
        assert!(
            TcpListener::bind(("127.0.0.1", grpc + i)).is_ok(),
            "gRPC port {} still held",
            grpc + i
        );
    }
    assert!(
        state
            .join("n1")
            .join("controlplane")
            .join("controlplane.db")
            .is_file()
    );
}
