//! `ctl health`, the real binary, against a real control plane and real data planes (run
//! in this test process from their libraries, on 127.0.0.1 and ports picked here) and a tiny
//! HTTP server for answers no real service gives: healthy, unhealthy, unreachable.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::binary;
use service_runtime::http_client;
use test_kit::Output as Run;
use test_kit::free_port;

const WAIT: Duration = Duration::from_secs(30);

fn env(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

/// A control plane and data planes on a runtime of their own; stopped when dropped.
struct Node {
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Service = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

impl Node {
    /// Runs `services`, which end when `stop` turns true.
    fn start(stop: tokio::sync::watch::Sender<bool>, services: Vec<Service>) -> Node {
        let mut stopping = stop.subscribe();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let tasks: Vec<_> = services.into_iter().map(tokio::spawn).collect();
                let _ = stopping.wait_for(|s| *s).await;
                for task in tasks {
                    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
                }
            });
        });
        Node {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send_replace(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn stopped(stop: &tokio::sync::watch::Sender<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut receiver = stop.subscribe();
    async move {
        let _ = receiver.wait_for(|s| *s).await;
    }
}

struct Ports {
    cp_grpc: u16,
    cp_http: u16,
    dp_health: u16,
    /// A data plane whose control plane is never there: it never gets a config, so it is
    /// live but never ready.
    orphan_health: u16,
}

fn start_node(dir: &Path) -> (Node, Ports) {
    let ports = Ports {
        cp_grpc: free_port(),
        cp_http: free_port(),
        dp_health: free_port(),
        orphan_health: free_port(),
    };
    std::fs::write(dir.join("token"), "health-test-token\n").unwrap();
    std::fs::write(dir.join("west-secret"), "west-secret-value\n").unwrap();
    let token_ref = format!("file:{}", dir.join("token").display());
    // One peer whose URL nobody answers: its link stays down, so links read 0/1.
    std::fs::write(
        dir.join("controlplane.yaml"),
        format!(
            "peers:\n  - id: west\n    url: ws://127.0.0.1:{}\n    secretRef: file:{}\n",
            free_port(),
            dir.join("west-secret").display()
        ),
    )
    .unwrap();
    let settings = controlplane::settings::Settings::from_env_map(&env(&[
        ("NODE_ID", "n1".into()),
        ("DATA_DIR", dir.join("cp").display().to_string()),
        ("API_TOKEN_REF", token_ref.clone()),
        ("GRPC_HOST", "127.0.0.1".into()),
        ("GRPC_PORT", ports.cp_grpc.to_string()),
        ("HTTP_PORT", ports.cp_http.to_string()),
        (
            "CONFIG_FILE",
            dir.join("controlplane.yaml").display().to_string(),
        ),
    ]))
    .unwrap();
    let data_plane = |health_port: u16, grpc_port: u16, data: &str| {
        dataplane::config::NodeConfig::from_env_map(&env(&[
            ("ILP_ADDRESS", "g.n1".into()),
            ("NODE_ID", "n1".into()),
            ("BTP_SERVER_HOST", "127.0.0.1".into()),
            ("BTP_SERVER_PORT", "0".into()),
            ("HEALTH_CHECK_HOST", "127.0.0.1".into()),
            ("HEALTH_CHECK_PORT", health_port.to_string()),
            ("CONTROLPLANE_URL", format!("http://127.0.0.1:{grpc_port}")),
            ("CONTROLPLANE_TOKEN_REF", token_ref.clone()),
            ("DATA_DIR", dir.join(data).display().to_string()),
            ("SHUTDOWN_TIMEOUT_MS", "2000".into()),
        ]))
        .unwrap()
    };
    let managed = data_plane(ports.dp_health, ports.cp_grpc, "dp");
    let orphan = data_plane(ports.orphan_health, free_port(), "orphan");

    let (stop, _) = tokio::sync::watch::channel(false);
    let cp_stop = stopped(&stop);
    let dp_stop = stopped(&stop);
    let orphan_stop = stopped(&stop);
    let node = Node::start(
        stop,
        vec![
            Box::pin(async move {
                controlplane::run(settings, cp_stop).await.unwrap();
            }),
            Box::pin(async move {
                dataplane::run(managed, dp_stop).await.unwrap();
            }),
            Box::pin(async move {
                dataplane::run(orphan, orphan_stop).await.unwrap();
            }),
        ],
    );
    (node, ports)
}

/// `GET` until it answers `status` or the deadline passes.
fn wait_for(port: u16, path: &str, status: u16) {
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = http_client::get_from("127.0.0.1", port, path, Duration::from_secs(2));
        if answer.is_ok_and(|response| response.status == status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "127.0.0.1:{port}{path} never answered {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn health(dataplane: &str, controlplane: &str, extra: &[&str]) -> Run {
    let mut command = Command::new(binary("ctl"));
    command
        .args(["health", "--timeout", "5", "--dataplane", dataplane])
        .args(["--controlplane", controlplane])
        .args(extra)
        .env_remove("DATAPLANE_HEALTH_URL")
        .env_remove("CONTROLPLANE_HEALTH_URL");
    test_kit::run(command)
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

fn check<'a>(report: &'a serde_json::Value, endpoint_suffix: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["endpoint"].as_str().unwrap().ends_with(endpoint_suffix))
        .unwrap_or_else(|| panic!("no check for {endpoint_suffix}: {report}"))
}

/// Answers every connection with `response` until dropped.
struct Canned {
    port: u16,
}

impl Canned {
    fn start(response: &'static str) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                // The whole request first: closing on a half-sent one would reset it.
                let mut request = Vec::new();
                let mut chunk = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Canned { port }
    }
}

#[test]
fn a_real_node_is_healthy_an_unready_one_is_not_and_a_missing_one_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let (_node, ports) = start_node(dir.path());
    let dp = format!("http://127.0.0.1:{}", ports.dp_health);
    let cp = format!("http://127.0.0.1:{}", ports.cp_http);
    wait_for(ports.cp_http, "/health", 200);
    wait_for(ports.dp_health, "/health/ready", 200);
    wait_for(ports.orphan_health, "/health/live", 200);

    // Healthy: every endpoint answers and says so.
    let run = health(&dp, &cp, &["-o", "json"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let report = json(&run);
    assert_eq!(report["healthy"], true, "{report}");
    assert_eq!(report["checks"].as_array().unwrap().len(), 4, "{report}");
    for suffix in ["/health/live", "/health/ready"] {
        let c = check(&report, suffix);
        assert_eq!(c["state"], "healthy", "{c}");
        assert_eq!(c["httpStatus"], 200, "{c}");
    }
    let dp_health = &report["checks"][2];
    assert_eq!(dp_health["component"], "dataplane");
    assert_eq!(dp_health["endpoint"], format!("{dp}/health"));
    assert_eq!(dp_health["ready"], true, "{dp_health}");
    assert_eq!(dp_health["nodeId"], "n1", "{dp_health}");
    assert_eq!(dp_health["linksTotal"], 1, "{dp_health}");
    assert_eq!(dp_health["linksUp"], 0, "{dp_health}");
    let cp_health = &report["checks"][3];
    assert_eq!(cp_health["component"], "controlplane");
    assert_eq!(cp_health["state"], "healthy", "{cp_health}");
    let version = cp_health["configVersion"].as_str().unwrap();
    assert!(
        version.ends_with(".2"),
        "the config file made generation 2: {version}"
    );

    let table = health(&dp, &cp, &[]);
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", table.stdout);
    assert!(lines[0].starts_with("COMPONENT"), "{}", table.stdout);
    assert!(
        lines[1..].iter().all(|l| l.contains("  healthy  ")),
        "{}",
        table.stdout
    );
    assert!(lines[3].contains("0/1"), "{}", table.stdout);
    assert!(lines[4].contains(version), "{}", table.stdout);
    assert!(table.stderr.is_empty(), "{}", table.stderr);

    // Live but not ready (its control plane never answers): unhealthy, exit 9.
    let orphan = format!("http://127.0.0.1:{}", ports.orphan_health);
    let run = health(&orphan, &cp, &["-o", "json"]);
    assert_eq!(run.code, Some(9), "{}\n{}", run.stdout, run.stderr);
    let report = json(&run);
    assert_eq!(report["healthy"], false);
    assert_eq!(check(&report, "/health/live")["state"], "healthy");
    let ready = check(&report, "/health/ready");
    assert_eq!(ready["state"], "unhealthy", "{ready}");
    assert_eq!(ready["httpStatus"], 503, "{ready}");
    let whole = &report["checks"][2];
    assert_eq!(whole["state"], "unhealthy", "{whole}");
    assert_eq!(whole["ready"], false, "{whole}");
    // Starting, and why: its control plane (which it needs for a table) cannot be reached.
    let detail = whole["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("status starting"), "{whole}");
    assert!(detail.contains("controlplane"), "{whole}");
    assert_eq!(
        whole["dependenciesDown"].as_array().map(Vec::len),
        Some(1),
        "{whole}"
    );

    // Nothing there: unreachable, exit 8, and that wins over an unhealthy answer.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let run = health(&nowhere, &cp, &[]);
    assert_eq!(run.code, Some(8), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.matches("unreachable").count(),
        3,
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.starts_with("ctl: not healthy: "),
        "{}",
        run.stderr
    );
    let run = health(&orphan, &nowhere, &[]);
    assert_eq!(run.code, Some(8), "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn a_control_plane_answering_an_error_is_unhealthy() {
    let failing = Canned::start(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let fine = Canned::start(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n\
         {\"status\":\"ok\",\"nodeId\":\"n9\",\"ready\":true,\"peers\":[{\"linkState\":\"up\"}],\
         \"configVersion\":{\"epoch\":7,\"generation\":3}}",
    );
    let dp = format!("http://127.0.0.1:{}", fine.port);
    let run = health(&dp, &dp, &["-o", "json"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(json(&run)["checks"][3]["configVersion"], "7.3");

    let cp = format!("http://127.0.0.1:{}/", failing.port);
    let run = health(&dp, &cp, &["-o", "yaml"]);
    assert_eq!(run.code, Some(9), "{}\n{}", run.stdout, run.stderr);
    let report: serde_json::Value = yaml_serde::from_str(&run.stdout).unwrap();
    let cp_check = &report["checks"][3];
    assert_eq!(
        cp_check["endpoint"],
        format!("http://127.0.0.1:{}/health", failing.port)
    );
    assert_eq!(cp_check["state"], "unhealthy");
    assert_eq!(cp_check["httpStatus"], 500);
}

#[test]
fn urls_that_are_not_plain_http_are_usage_errors() {
    let run = health("https://127.0.0.1:8080", "http://127.0.0.1:8081", &[]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("ctl: --dataplane https://127.0.0.1:8080: must be an http:// URL"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}
