//! The real `ctl` binary against a fake control plane in this test process: what reaches
//! stdout and stderr, and the exit code.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use proto::grpc::v1 as api;
use support::{Fake, Run, Server, ctl, ctl_command, peer};
use tonic::Code;

fn show(run: &Run) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        run.code, run.stdout, run.stderr
    )
}

/// The fake saw exactly `expected`, in order.
fn ensure_calls(server: &Server, expected: &[&str]) -> anyhow::Result<()> {
    let calls = server.fake.calls();
    ensure!(calls == expected, "{calls:?}");
    Ok(())
}

/// A `--dry-run` succeeded and said on stderr that nothing was changed.
fn ensure_dry_run(run: &Run) -> anyhow::Result<()> {
    ensure!(run.code == Some(0), "{}", show(run));
    ensure!(
        run.stderr == "dry run: nothing was changed\n",
        "{}",
        show(run)
    );
    Ok(())
}

#[test]
fn an_empty_peer_list_in_json_is_an_empty_array() -> anyhow::Result<()> {
    let server = Server::start(Fake::default())?;
    let run = ctl(&server.url(), &["peers", "list", "-o", "json"])?;
    ensure!(run.code == Some(0), "{}", show(&run));
    ensure!(run.stdout == "[]\n", "{}", show(&run));
    ensure!(run.stderr.is_empty(), "{}", show(&run));

    let run = ctl(&server.url(), &["peers", "list"])?;
    ensure!(run.code == Some(0), "{}", show(&run));
    ensure!(
        run.stdout.lines().count() == 1,
        "only the header: {}",
        show(&run)
    );
    ensure!(run.stdout.starts_with("ID "), "{}", show(&run));
    Ok(())
}

#[test]
fn peers_list_gathers_every_page() -> anyhow::Result<()> {
    let server = Server::start(Fake {
        peer_pages: vec![vec![peer("a"), peer("b")], vec![peer("c")], vec![peer("d")]],
        ..Default::default()
    })?;
    let run = ctl(&server.url(), &["peers", "list", "-o", "json"])?;
    ensure!(run.code == Some(0), "{}", show(&run));
    let peers: Vec<serde_json::Value> = serde_json::from_str(&run.stdout)?;
    let ids: Vec<&str> = peers.iter().filter_map(|p| p["id"].as_str()).collect();
    ensure!(ids == ["a", "b", "c", "d"], "{}", show(&run));
    ensure_calls(
        &server,
        &[
            "ListPeers size=500 token=",
            "ListPeers size=500 token=p1",
            "ListPeers size=500 token=p2",
        ],
    )?;
    Ok(())
}

#[test]
fn invalid_argument_exits_3_with_the_message_on_stderr() -> anyhow::Result<()> {
    let server = Server::start(Fake {
        create_error: Some((
            Code::InvalidArgument,
            "peer id \"bad id\": not [A-Za-z0-9_.-]",
        )),
        ..Default::default()
    })?;
    let args = ["peers", "add", "bad id", "--secret-ref", "env:X"];
    let run = ctl(&server.url(), &args)?;
    ensure!(run.code == Some(3), "{}", show(&run));
    ensure!(run.stdout.is_empty(), "{}", show(&run));
    ensure!(
        run.stderr == "ctl: INVALID_ARGUMENT: peer id \"bad id\": not [A-Za-z0-9_.-]\n",
        "{}",
        show(&run)
    );

    let run = ctl(&server.url(), &[&args[..], &["-o", "json"]].concat())?;
    ensure!(run.code == Some(3), "{}", show(&run));
    ensure!(run.stdout.is_empty(), "{}", show(&run));
    let error: serde_json::Value = serde_json::from_str(&run.stderr)?;
    ensure!(
        error
            == serde_json::json!({"error": {
                "code": "INVALID_ARGUMENT",
                "message": "peer id \"bad id\": not [A-Za-z0-9_.-]"
            }}),
        "{}",
        show(&run)
    );
    Ok(())
}

#[test]
fn a_wrong_token_exits_7_and_the_right_one_works() -> anyhow::Result<()> {
    let server = Server::start(Fake {
        token: Some("right-token".into()),
        ..Default::default()
    })?;
    let run = ctl(&server.url(), &["--token", "wrong-token", "peers", "list"])?;
    ensure!(run.code == Some(7), "{}", show(&run));
    ensure!(
        run.stderr.starts_with("ctl: UNAUTHENTICATED: "),
        "{}",
        show(&run)
    );
    ensure!(!run.stderr.contains("wrong-token"), "{}", show(&run));

    let run = ctl(&server.url(), &["peers", "list"])?;
    ensure!(run.code == Some(7), "no token at all: {}", show(&run));

    let mut command = ctl_command(&server.url(), &["peers", "list", "-o", "json"]);
    command.env("CTL_TOKEN", "right-token");
    let run = support::run(command)?;
    ensure!(run.code == Some(0), "token from CTL_TOKEN: {}", show(&run));
    ensure!(run.stdout == "[]\n", "{}", show(&run));
    Ok(())
}

#[test]
fn each_grpc_code_from_the_server_becomes_its_exit_code() -> anyhow::Result<()> {
    let server = Server::start(Fake::default())?;
    let table = [
        ("INVALID_ARGUMENT", 3),
        ("NOT_FOUND", 4),
        ("ALREADY_EXISTS", 5),
        ("ABORTED", 6),
        ("FAILED_PRECONDITION", 6),
        ("UNAUTHENTICATED", 7),
        ("PERMISSION_DENIED", 7),
        ("UNAVAILABLE", 8),
        ("DEADLINE_EXCEEDED", 8),
        ("INTERNAL", 1),
    ];
    for (code, exit) in table {
        // The fake fails GetPeer with the code the id names.
        let run = ctl(&server.url(), &["peers", "get", code])?;
        ensure!(run.code == Some(exit), "{code}: {}", show(&run));
        ensure!(
            run.stderr == format!("ctl: {code}: fake failure {code}\n"),
            "{code}: {}",
            show(&run)
        );
    }
    Ok(())
}

#[test]
fn an_unreachable_server_exits_8() -> anyhow::Result<()> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let run = ctl(&format!("http://{closed}"), &["status"])?;
    ensure!(run.code == Some(8), "{}", show(&run));
    ensure!(
        run.stderr.starts_with("ctl: UNAVAILABLE: cannot reach"),
        "{}",
        show(&run)
    );
    Ok(())
}

#[test]
fn usage_errors_exit_2_without_calling_the_server() -> anyhow::Result<()> {
    let server = Server::start(Fake::default())?;
    let run = ctl(&server.url(), &["peers", "update", "west", "--etag", "e1"])?;
    ensure!(run.code == Some(2), "{}", show(&run));
    ensure!(run.stderr.contains("nothing to update"), "{}", show(&run));

    let run = server.ctl_line("peers add west --secret-ref hunter2-literal")?;
    ensure!(run.code == Some(2), "{}", show(&run));
    ensure!(!run.stderr.contains("hunter2"), "echoed: {}", show(&run));

    let run = ctl(&server.url(), &["peers", "add", "west"])?;
    ensure!(run.code == Some(2), "clap: {}", show(&run));
    ensure!(server.fake.calls().is_empty(), "{:?}", server.fake.calls());
    Ok(())
}

#[test]
fn a_peer_shows_its_secret_reference_and_never_the_secret() -> anyhow::Result<()> {
    let server = Server::start(Fake {
        peer: peer("west"),
        ..Default::default()
    })?;
    for format in ["table", "json", "yaml"] {
        let mut command = ctl_command(&server.url(), &["peers", "get", "west", "-o", format]);
        command.env("WEST_SECRET", "the-actual-secret-value");
        let run = support::run(command)?;
        ensure!(run.code == Some(0), "{format}: {}", show(&run));
        ensure!(
            run.stdout.contains("env:WEST_SECRET"),
            "{format}: {}",
            show(&run)
        );
        ensure!(
            !run.stdout.contains("the-actual-secret-value"),
            "{format}: {}",
            show(&run)
        );
        ensure!(
            !run.stderr.contains("the-actual-secret-value"),
            "{format}: {}",
            show(&run)
        );
    }
    Ok(())
}

#[test]
fn dry_run_validates_only_and_says_so_on_stderr() -> anyhow::Result<()> {
    let server = Server::start(Fake::default())?;
    let run = server.ctl_line("peers add west --secret-ref env:W --dry-run -o json")?;
    ensure_dry_run(&run)?;
    let peer: serde_json::Value = serde_json::from_str(&run.stdout)?;
    ensure!(peer["id"] == "west", "{}", show(&run));

    let run = server.ctl_line("peers remove west --with-routes --etag e3 --dry-run")?;
    ensure_dry_run(&run)?;
    ensure_calls(
        &server,
        &[
            "CreatePeer validate_only=true",
            "DeletePeer west etag=e3 delete_routes=true validate_only=true",
        ],
    )?;
    Ok(())
}

#[test]
fn update_sends_a_mask_of_exactly_the_flags_given() -> anyhow::Result<()> {
    let server = Server::start(Fake::default())?;
    let run = server.ctl_line("peers update west --credit-limit 5 --clear-max-packet-amount")?;
    ensure!(run.code == Some(0), "{}", show(&run));
    ensure_calls(
        &server,
        &["UpdatePeer mask=max_packet_amount,credit_limit validate_only=false"],
    )?;
    Ok(())
}

#[test]
fn explain_prints_the_next_hop_or_no_route() -> anyhow::Result<()> {
    let hit = Server::start(Fake {
        explain: api::ExplainRouteResponse {
            matched: true,
            prefix: "g.acme.west".into(),
            peer_id: "west".into(),
            source: "static".into(),
            link_state: "up".into(),
        },
        ..Default::default()
    })?;
    let run = ctl(&hit.url(), &["routes", "explain", "g.acme.west.alice"])?;
    ensure!(run.code == Some(0), "{}", show(&run));
    let lines: Vec<&str> = run.stdout.lines().collect();
    ensure!(lines.len() == 2, "{}", show(&run));
    ensure!(lines[0].starts_with("ADDRESS"), "{}", show(&run));
    for cell in ["g.acme.west.alice", "g.acme.west ", "west", "static", "up"] {
        ensure!(lines[1].contains(cell), "{cell}: {}", show(&run));
    }

    let miss = Server::start(Fake::default())?;
    let run = ctl(&miss.url(), &["routes", "explain", "g.nowhere"])?;
    ensure!(run.code == Some(0), "{}", show(&run));
    ensure!(run.stdout == "no route for g.nowhere\n", "{}", show(&run));
    Ok(())
}

#[test]
fn status_shows_version_counts_and_data_planes() -> anyhow::Result<()> {
    let version = |generation| api::ConfigVersion {
        epoch: 4,
        generation,
    };
    let server = Server::start(Fake {
        status: api::NodeStatus {
            node_id: "cp-east".into(),
            current_version: Some(version(12)),
            peer_count: 2,
            route_count: 3,
            data_planes: vec![api::DataPlaneStatus {
                node_id: "east-1".into(),
                connected: true,
                applied_version: Some(version(11)),
                last_nack_version: Some(version(12)),
                last_nack_error: "route g.x names unknown peer".into(),
                last_seen: Some(prost_types::Timestamp {
                    seconds: 1_767_225_600,
                    nanos: 0,
                }),
                links: vec![api::LinkStatus {
                    peer_id: "west".into(),
                    state: "backoff".into(),
                    last_error: "connection refused".into(),
                }],
                balances: vec![api::PeerBalance {
                    peer_id: "west".into(),
                    balance: "-42".into(),
                    pending_incoming: "7".into(),
                }],
                ilp_address: "g.parent.east".into(),
                address_source: "ildcp".into(),
            }],
            settlement: Some(api::Settlement {
                capabilities: vec!["evm-settlement".into()],
                evm_address: "0x52908400098527886E0F7030069857D2E4169EE7".into(),
                xrp_address: String::new(),
            }),
        },
        ..Default::default()
    })?;
    let run = ctl(&server.url(), &["status"])?;
    ensure!(run.code == Some(0), "{}", show(&run));
    for needle in [
        "cp-east",
        "4.12",
        "4.11",
        "4.12: route g.x names unknown peer",
        "2026-01-01T00:00:00Z",
        "backoff",
        "connection refused",
        "-42",
        "evm 0x52908400098527886E0F7030069857D2E4169EE7",
        "g.parent.east (ildcp)",
    ] {
        ensure!(run.stdout.contains(needle), "{needle}: {}", show(&run));
    }

    let run = ctl(&server.url(), &["status", "-o", "json"])?;
    ensure!(run.code == Some(0), "{}", show(&run));
    let status: serde_json::Value = serde_json::from_str(&run.stdout)?;
    ensure!(status["nodeId"] == "cp-east", "{}", show(&run));
    ensure!(status["peerCount"] == 2, "{}", show(&run));
    ensure!(
        status["settlement"]["evmAddress"] == "0x52908400098527886E0F7030069857D2E4169EE7",
        "{}",
        show(&run)
    );
    let plane = &status["dataPlanes"][0];
    ensure!(
        plane["lastNackVersion"]["generation"] == 12,
        "{}",
        show(&run)
    );
    ensure!(
        plane["lastSeen"] == "2026-01-01T00:00:00Z",
        "{}",
        show(&run)
    );
    ensure!(plane["balances"][0]["balance"] == "-42", "{}", show(&run));
    ensure!(plane["ilpAddress"] == "g.parent.east", "{}", show(&run));
    ensure!(plane["addressSource"] == "ildcp", "{}", show(&run));
    Ok(())
}

fn route_event(prefix: &str) -> api::WatchEvent {
    api::WatchEvent {
        time: Some(prost_types::Timestamp {
            seconds: 1_767_225_600,
            nanos: 0,
        }),
        action: "created".into(),
        event: Some(api::watch_event::Event::Route(api::Route {
            prefix: prefix.into(),
            peer_id: "west".into(),
            source: "static".into(),
            create_time: None,
        })),
    }
}

#[test]
fn watch_prints_one_json_object_per_event_until_the_stream_ends() -> anyhow::Result<()> {
    let server = Server::start(Fake {
        events: vec![route_event("g.a"), route_event("g.b")],
        ..Default::default()
    })?;
    let run = ctl(&server.url(), &["watch", "-o", "json"])?;
    ensure!(run.code == Some(0), "{}", show(&run));
    let prefixes: Vec<String> = run
        .stdout
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line)?;
            Ok(event["route"]["prefix"]
                .as_str()
                .unwrap_or_default()
                .to_string())
        })
        .collect::<anyhow::Result<_>>()?;
    ensure!(prefixes == ["g.a", "g.b"], "{}", show(&run));

    let run = ctl(&server.url(), &["watch"])?;
    ensure!(run.code == Some(0), "{}", show(&run));
    ensure!(
        run.stdout
            == "2026-01-01T00:00:00Z  route created  g.a -> west\n\
                2026-01-01T00:00:00Z  route created  g.b -> west\n",
        "{}",
        show(&run)
    );
    Ok(())
}

#[test]
fn watch_stops_cleanly_on_ctrl_c() -> anyhow::Result<()> {
    let server = Server::start(Fake {
        events: vec![route_event("g.a")],
        watch_forever: true,
        ..Default::default()
    })?;
    let mut child = ctl_command(&server.url(), &["watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut first = String::new();
    // The first line proves the stream is open, so the signal lands in the running watch.
    BufReader::new(stdout).read_line(&mut first)?;
    ensure!(first.contains("g.a"), "{first}");

    let pid = i32::try_from(child.id())?;
    // SAFETY: signalling a child we spawned and have not reaped.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait()? {
            ensure!(status.code() == Some(0), "{status:?}");
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("ctl watch did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn help_documents_every_exit_code() -> anyhow::Result<()> {
    for args in [
        &["--help"][..],
        &["peers", "update", "--help"],
        &["watch", "--help"],
    ] {
        let run = ctl("http://127.0.0.1:1", args)?;
        ensure!(run.code == Some(0), "{}", show(&run));
        for line in [
            "0  ok",
            "1  other errors",
            "2  usage errors",
            "3  INVALID_ARGUMENT",
            "4  NOT_FOUND",
            "5  ALREADY_EXISTS",
            "6  ABORTED or FAILED_PRECONDITION (stale etag, peer still has routes)",
            "7  UNAUTHENTICATED or PERMISSION_DENIED",
            "8  UNAVAILABLE or DEADLINE_EXCEEDED (cannot reach the server)",
        ] {
            ensure!(
                run.stdout.contains(line),
                "{args:?} lacks {line}: {}",
                show(&run)
            );
        }
    }
    let mut command = ctl_command("http://127.0.0.1:1", &["--help"]);
    command.env("CTL_TOKEN", "do-not-print-me");
    let run = support::run(command)?;
    ensure!(!run.stdout.contains("do-not-print-me"), "{}", show(&run));
    Ok(())
}

#[test]
fn discovery_list_shows_nodes_and_whether_they_are_peered() -> anyhow::Result<()> {
    let node = |id: &str, peered| api::DiscoveredNode {
        verified: peered,
        node_id: id.into(),
        btp_endpoint: format!("ws://{id}:3000"),
        ilp_address: format!("g.{id}"),
        capabilities: vec!["settle-xrp".into()],
        source_endpoint: "http://discovery:8090".into(),
        last_seen: Some(prost_types::Timestamp {
            seconds: 1_767_225_600,
            nanos: 0,
        }),
        peered,
    };
    let server = Server::start(Fake {
        discovered: vec![node("east", true), node("west", false)],
        ..Fake::default()
    })?;
    let json = ctl(&server.url(), &["discovery", "list", "-o", "json"])?;
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let listed: serde_json::Value = serde_json::from_str(&json.stdout)?;
    assert_eq!(listed[0]["nodeId"], "east");
    assert_eq!(listed[0]["peered"], true);
    assert_eq!(listed[1]["peered"], false);
    assert_eq!(listed[0]["verified"], true);
    assert_eq!(listed[1]["verified"], false);
    assert_eq!(listed[1]["ilpAddress"], "g.west");
    let table = ctl(&server.url(), &["discovery", "list"])?;
    assert!(
        table.stdout.contains("PEERED")
            && table.stdout.contains("VERIFIED")
            && table.stdout.contains("key")
            && table.stdout.contains("west")
            && table.stdout.contains("no"),
        "{}",
        table.stdout
    );
    let empty = Server::start(Fake::default())?;
    assert_eq!(
        ctl(&empty.url(), &["discovery", "list", "-o", "json"])?
            .stdout
            .trim(),
        "[]"
    );
    Ok(())
}
