//! `ctl setup`, the real binary: non-interactive runs from flags, the file's content and mode,
//! overwrite protection, invalid addresses refused, and an interactive run in a
//! pseudo-terminal that answers every question (one address wrongly first).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use test_kit::Output as Run;

const CTL: &str = env!("CARGO_BIN_EXE_ctl");
const EVM: &str = "0x52908400098527886E0F7030069857D2E4169EE7";
const XRP: &str = "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh";
const EVM_RULE: &str = "an EVM address is 0x followed by exactly 40 hex digits";
const XRP_RULE: &str = "an XRP address is r and 24 to 34 XRP base58 characters (no 0, O, I or l)";

/// `ctl setup <args>` with stdin not a terminal, so it never asks.
fn setup(dir: &Path, args: &[&str]) -> Run {
    let mut command = Command::new(CTL);
    command
        .current_dir(dir)
        .arg("setup")
        .args(args)
        .env("NO_COLOR", "1");
    test_kit::run(command)
}

/// The variables, in order, and the comment lines.
fn parse(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut variables = Vec::new();
    let mut comments = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            comments.push(line.to_string());
        } else if let Some((name, value)) = line.split_once('=') {
            variables.push((name.to_string(), value.to_string()));
        } else {
            panic!("not a variable or comment: {line:?}");
        }
    }
    (variables, comments)
}

/// Each `(name, value)` of `expected` is set in `variables`.
fn assert_variables(variables: &BTreeMap<String, String>, expected: &[(&str, &str)]) {
    for &(name, value) in expected {
        assert_eq!(variables[name], value, "{name}");
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn check_token(variables: &BTreeMap<String, String>) -> String {
    let token = variables["API_TOKEN"].clone();
    assert_eq!(token.len(), 64, "{token}");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    token
}

#[test]
fn non_interactive_flags_write_every_variable_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let run = setup(
        dir.path(),
        &[
            "--non-interactive",
            "--node-id",
            "east",
            "--ilp-address",
            "g.acme.east",
            "--settlement",
            "both",
            "--evm-address",
            EVM,
            "--xrp-address",
            XRP,
            "--key-backend",
            "aws-kms",
            "--key-id",
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd",
            "--monitoring",
            "on",
            "--tracing",
            "on",
            "--btp-port",
            "3100",
            "--health-port",
            "8180",
            "--log-level",
            "debug",
            "--discovery-endpoints",
            "http://discovery-1:8090,https://discovery.example",
            "--output",
            "node.env",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // The services refuse a KMS backend in this build; the wizard says so when it is chosen.
    assert!(
        run.stderr.contains("support only the env key backend"),
        "{}",
        run.stderr
    );
    let path = dir.path().join("node.env");
    assert_eq!(mode(&path), 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    let (variables, comments) = parse(&text);
    let names: Vec<&str> = variables.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "NODE_ID",
            "ILP_ADDRESS",
            "SETTLEMENT",
            "SETTLEMENT_EVM_ADDRESS",
            "SETTLEMENT_XRP_ADDRESS",
            "KEY_BACKEND",
            "KEY_ID",
            "BTP_PORT",
            "HEALTH_PORT",
            "LOG_LEVEL",
            "PEER_DISCOVERY_ENDPOINTS",
            "COMPOSE_PROFILES",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "API_TOKEN",
            "GRAFANA_ADMIN_PASSWORD",
            "ENV_FILE"
        ]
    );
    let variables: BTreeMap<String, String> = variables.into_iter().collect();
    let expected = [
        ("NODE_ID", "east"),
        ("ILP_ADDRESS", "g.acme.east"),
        ("SETTLEMENT", "both"),
        ("SETTLEMENT_EVM_ADDRESS", EVM),
        ("SETTLEMENT_XRP_ADDRESS", XRP),
        ("KEY_BACKEND", "aws-kms"),
        ("KEY_ID", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd"),
        ("BTP_PORT", "3100"),
        ("HEALTH_PORT", "8180"),
        ("LOG_LEVEL", "debug"),
        (
            "PEER_DISCOVERY_ENDPOINTS",
            "http://discovery-1:8090,https://discovery.example",
        ),
        ("COMPOSE_PROFILES", "monitoring,tracing"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4317"),
    ];
    assert_variables(&variables, &expected);
    // Absolute, so the stack finds this file whatever directory Compose runs in.
    assert_eq!(
        variables["ENV_FILE"],
        dir.path()
            .canonicalize()
            .unwrap()
            .join("node.env")
            .display()
            .to_string()
    );
    let grafana = &variables["GRAFANA_ADMIN_PASSWORD"];
    assert_eq!(grafana.len(), 32, "{grafana}");
    assert!(grafana.chars().all(|c| c.is_ascii_hexdigit()), "{grafana}");
    assert!(!run.stdout.contains(grafana.as_str()) && !run.stderr.contains(grafana.as_str()));
    let token = check_token(&variables);
    assert!(
        comments.iter().any(|c| c.contains("ctl setup")),
        "{comments:?}"
    );
    assert!(
        comments.iter().any(|c| c.contains("secret")),
        "{comments:?}"
    );
    assert!(!run.stdout.contains(&token), "the token is never printed");
    assert!(!run.stderr.contains(&token), "the token is never printed");
    assert!(
        run.stdout
            .contains("docker-compose --env-file node.env -f deploy/")
    );
    assert!(!run.stderr.contains("development only"), "{}", run.stderr);
}

#[test]
fn defaults_fill_the_rest_and_the_env_key_backend_warns() {
    let dir = tempfile::tempdir().unwrap();
    // No --non-interactive: stdin is not a terminal, so nothing is asked either.
    let run = setup(dir.path(), &["--xrp-address", XRP]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("development only"), "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path().join(".env")).unwrap();
    let (variables, _) = parse(&text);
    let variables: BTreeMap<String, String> = variables.into_iter().collect();
    let node_id = &variables["NODE_ID"];
    let suffix = node_id.strip_prefix("node-").unwrap();
    assert_eq!(suffix.len(), 8);
    assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()), "{node_id}");
    assert_eq!(variables["ILP_ADDRESS"], format!("g.{node_id}"));
    assert_eq!(variables["SETTLEMENT"], "xrp");
    assert!(!variables.contains_key("SETTLEMENT_EVM_ADDRESS"));
    assert_eq!(variables["KEY_BACKEND"], "env");
    assert!(!variables.contains_key("KEY_ID"));
    assert_eq!(variables["BTP_PORT"], "3000");
    assert_eq!(variables["HEALTH_PORT"], "8080");
    assert_eq!(variables["LOG_LEVEL"], "info");
    assert_eq!(variables["PEER_DISCOVERY_ENDPOINTS"], "");
    assert_eq!(variables["COMPOSE_PROFILES"], "");
    assert!(!variables.contains_key("OTEL_EXPORTER_OTLP_ENDPOINT"));
    assert!(!variables.contains_key("GRAFANA_ADMIN_PASSWORD"));
    assert_eq!(
        variables["ENV_FILE"],
        dir.path()
            .canonicalize()
            .unwrap()
            .join(".env")
            .display()
            .to_string()
    );
    check_token(&variables);

    let missing = setup(dir.path(), &["--output", "other.env"]);
    assert_eq!(missing.code, Some(2), "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("--evm-address is required with --settlement evm"),
        "{}",
        missing.stderr
    );
    assert!(!dir.path().join("other.env").exists());
}

#[test]
fn an_existing_file_is_kept_without_force_and_replaced_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(&path, "KEEP=me\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let refused = setup(dir.path(), &["--evm-address", EVM]);
    assert_eq!(refused.code, Some(5), "{}", refused.stderr);
    assert_eq!(
        refused.stderr.trim(),
        format!("ctl: {} already exists; pass --force to replace it", ".env")
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "KEEP=me\n");

    let forced = setup(dir.path(), &["--evm-address", EVM, "--force"]);
    assert_eq!(forced.code, Some(0), "{}", forced.stderr);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&format!("SETTLEMENT_EVM_ADDRESS={EVM}\n")),
        "{text}"
    );
    assert!(!text.contains("KEEP=me"));
    assert_eq!(mode(&path), 0o600, "replaced with the new file's mode");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, [".env"], "no temporary file left");
}

#[test]
fn invalid_addresses_are_refused_naming_the_rule_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--evm-address", "0x1234"], EVM_RULE),
        (
            &["--evm-address", "52908400098527886E0F7030069857D2E4169EE7"],
            EVM_RULE,
        ),
        (
            &[
                "--evm-address",
                "0x52908400098527886E0F7030069857D2E4169EZ7",
            ],
            EVM_RULE,
        ),
        (
            &["--xrp-address", "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyT0"],
            XRP_RULE,
        ),
        (&["--xrp-address", "rShort"], XRP_RULE),
    ];
    for (args, rule) in cases {
        let run = setup(dir.path(), args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with(&format!("ctl: {} ", args[0])),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(rule), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert!(!dir.path().join(".env").exists(), "{args:?} wrote a file");
    }
}

/// Answers every question on a pseudo-terminal, gets one EVM address wrong first, and
/// checks the file.
#[test]
fn an_interactive_run_asks_everything_and_re_asks_an_invalid_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wizard.env");
    let mut command = Command::new(CTL);
    command
        .args(["setup", "--output"])
        .arg(&path)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(15_000))
        .strip_ansi_escape_codes(true);
    let mut session = rexpect::session::spawn_with_options(command, options).unwrap();

    // Each answer is sent once its question is on screen.
    session.exp_string("Node id [node-").unwrap();
    session.send_line("east-1").unwrap();
    session.exp_string("ILP address [g.east-1]").unwrap();
    session.send_line("").unwrap();
    session.exp_string("Settlement").unwrap();
    session.exp_string("both").unwrap();
    session.send("jj").unwrap();
    session.send_line("").unwrap();
    session.exp_string("EVM settlement address").unwrap();
    session.send_line("0x1234").unwrap();
    session.exp_string(EVM_RULE).unwrap();
    session.exp_string("EVM settlement address").unwrap();
    session.send_line(EVM).unwrap();
    session.exp_string("XRP settlement address").unwrap();
    session.send_line(XRP).unwrap();
    session.exp_string("Key backend").unwrap();
    session.exp_string("azure-kv").unwrap();
    session.send("j").unwrap();
    session.send_line("").unwrap();
    session.exp_string("AWS KMS key id or ARN").unwrap();
    session.send_line("alias/ilp-node").unwrap();
    session.exp_string("Enable monitoring").unwrap();
    session.send_line("y").unwrap();
    session.exp_string("Enable tracing").unwrap();
    session.send_line("n").unwrap();
    session.exp_string("BTP port [3000]").unwrap();
    session.send_line("4000").unwrap();
    session.exp_string("Health port [8080]").unwrap();
    session.send_line("4000").unwrap();
    session.exp_string("4000 is already the BTP port").unwrap();
    session.exp_string("Health port [8080]").unwrap();
    session.send_line("").unwrap();
    session.exp_string("Log level").unwrap();
    session.exp_string("error").unwrap();
    session.send("jj").unwrap();
    session.send_line("").unwrap();
    session.exp_string("Discovery endpoints").unwrap();
    session.send_line("http://discovery-1:8090").unwrap();
    session.exp_string("Wrote").unwrap();
    let rest = session.exp_eof().unwrap();
    assert!(rest.contains("Next steps"), "{rest}");

    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        match session.process().status() {
            Some(rexpect::process::WaitStatus::StillAlive) | None => {
                assert!(Instant::now() < deadline, "ctl setup did not exit");
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(status) => break status,
        }
    };
    assert!(
        matches!(status, rexpect::process::WaitStatus::Exited(_, 0)),
        "{status:?}"
    );

    assert_eq!(mode(&path), 0o600);
    let (variables, _) = parse(&std::fs::read_to_string(&path).unwrap());
    let variables: BTreeMap<String, String> = variables.into_iter().collect();
    let expected = [
        ("NODE_ID", "east-1"),
        ("ILP_ADDRESS", "g.east-1"),
        ("SETTLEMENT", "both"),
        ("SETTLEMENT_EVM_ADDRESS", EVM),
        ("SETTLEMENT_XRP_ADDRESS", XRP),
        ("KEY_BACKEND", "aws-kms"),
        ("KEY_ID", "alias/ilp-node"),
        ("BTP_PORT", "4000"),
        ("HEALTH_PORT", "8080"),
        ("LOG_LEVEL", "error"),
        ("PEER_DISCOVERY_ENDPOINTS", "http://discovery-1:8090"),
        ("COMPOSE_PROFILES", "monitoring"),
    ];
    assert_variables(&variables, &expected);
    check_token(&variables);
}
