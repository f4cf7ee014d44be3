//! The control plane's gRPC API over TLS: a data plane with the CA follows it, `ctl` with the
//! CA talks to it, and a plaintext client cannot.

use std::process::Command;
use std::time::Duration;

use e2e::{
    Process, binary, controlplane_env, dataplane_env, http_get, secret, temp_dir, wait_until,
};

/// A CA and a certificate it signed for 127.0.0.1, as PEM: (ca, cert, key).
fn certificates() -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let server_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = server_params.signed_by(&server_key, &issuer).unwrap();
    (ca.pem(), server.pem(), server_key.serialize_pem())
}

#[test]
fn grpc_over_tls() {
    let dir = temp_dir();
    let (ca, cert, key) = certificates();
    let (ca_file, cert_file, key_file) = (
        dir.path().join("ca.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    std::fs::write(&ca_file, ca).unwrap();
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let token = secret("api");
    let cp = Process::start(
        "controlplane",
        binary("controlplane"),
        &[
            controlplane_env(&dir.path().join("cp"), &token),
            vec![
                ("TLS_CERT_FILE", cert_file.display().to_string()),
                ("TLS_KEY_FILE", key_file.display().to_string()),
            ],
        ]
        .concat(),
        "controlplane_started",
    );
    assert_eq!(cp.started["tls"], true);
    let https = format!("https://127.0.0.1:{}", cp.port("grpcPort"));
    let peer_secret = secret("peer");
    let dp = Process::start(
        "dataplane",
        binary("dataplane"),
        &[
            vec![("ILP_ADDRESS", "test.tls".to_string())],
            dataplane_env(0, &dir.path().join("dp"), &https, &token),
            vec![
                ("CONTROLPLANE_CA_FILE", ca_file.display().to_string()),
                ("PEER_SECRET", peer_secret),
            ],
        ]
        .concat(),
        "connector_started",
    );
    let ctl = |args: &[&str], ca: bool, server: &str| {
        let mut command = Command::new(binary("ctl"));
        command
            .env_clear()
            .env("CTL_TOKEN", &token)
            .args(["--server", server])
            .args(args);
        if ca {
            command.args(["--ca-file", &ca_file.display().to_string()]);
        }
        command.output().unwrap()
    };
    let added = ctl(
        &[
            "peers",
            "add",
            "alice",
            "--secret-ref",
            "env:PEER_SECRET",
            "-o",
            "json",
        ],
        true,
        &https,
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    // The data plane got the new peer over its TLS stream.
    let health = dp.port("healthPort");
    wait_until(
        "the pushed peer on the data plane",
        Duration::from_secs(10),
        || http_get(health, "/health").is_some_and(|(_, body)| body.contains("\"alice\"")),
    );
    // Without the CA, ctl refuses to start the call; plaintext to a TLS port fails.
    let no_ca = ctl(&["peers", "list"], false, &https);
    assert_eq!(
        no_ca.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&no_ca.stderr)
    );
    let plain = ctl(
        &["peers", "list", "--timeout", "3"],
        false,
        &https.replace("https", "http"),
    );
    assert!(!plain.status.success());
}
