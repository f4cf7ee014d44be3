//! `ctl health`: asks a node's data plane and control plane how they are, over their plain
//! HTTP health endpoints (not the gRPC API, so it needs no token and works when the API is
//! down).

use std::time::Duration;

use serde::Serialize;

use crate::exit_code::UsageError;
use crate::output::{self, Format};
use service_runtime::http_client;

/// Exit status when an endpoint could not be reached (as for UNAVAILABLE elsewhere in ctl).
pub const UNREACHABLE: u8 = 8;
/// Exit status when every endpoint answered but one is not healthy.
pub const UNHEALTHY: u8 = 9;

pub const HELP: &str = "\
Exit codes:
  0  every endpoint is healthy
  2  usage errors (e.g. a URL that is not http://)
  8  an endpoint could not be reached
  9  every endpoint answered, but one is not healthy";

#[derive(clap::Args)]
pub struct Args {
    /// Base URL of the data plane's health server (/health, /health/live, /health/ready).
    #[arg(
        long,
        env = "DATAPLANE_HEALTH_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub dataplane: String,
    /// Base URL of the control plane's HTTP server (/health).
    #[arg(
        long,
        env = "CONTROLPLANE_HEALTH_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub controlplane: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Healthy,
    Unhealthy,
    Unreachable,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Healthy => "healthy",
            State::Unhealthy => "unhealthy",
            State::Unreachable => "unreachable",
        }
    }
}

/// One endpoint's answer and the fields worth seeing at a glance.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub component: &'static str,
    pub endpoint: String,
    pub state: State,
    pub http_status: Option<u16>,
    pub node_id: Option<String>,
    pub ready: Option<bool>,
    pub links_up: Option<usize>,
    pub links_total: Option<usize>,
    /// `epoch.generation`.
    pub config_version: Option<String>,
    /// The data plane's last minute: share of Prepares fulfilled, and p99 in ms.
    pub packet_success_rate: Option<f64>,
    pub p99_latency_ms: Option<f64>,
    /// Dependencies that are not connected, with their last error.
    pub dependencies_down: Vec<String>,
    pub detail: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    healthy: bool,
    checks: &'a [Check],
}

/// Where a base URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    /// The base path without a trailing slash ("" for the root).
    base: String,
    /// The URL as given, without a trailing slash, for display.
    display: String,
}

fn target(flag: &str, text: &str) -> Result<Target, UsageError> {
    let bad = |problem: &str| UsageError(format!("--{flag} {text}: {problem}"));
    let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "http" {
        return Err(bad(
            "must be an http:// URL (health endpoints are plain HTTP)",
        ));
    }
    let host = match url.host() {
        Some(url::Host::Domain(name)) => name.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(bad("has no host")),
    };
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must be a base URL, without ?query or #fragment"));
    }
    Ok(Target {
        host,
        port: url.port_or_known_default().unwrap_or(80),
        base: url.path().trim_end_matches('/').to_string(),
        display: text.trim_end_matches('/').to_string(),
    })
}

/// Runs every check and prints them; returns the exit status.
pub fn run(args: &Args, format: Format, timeout: Duration) -> anyhow::Result<u8> {
    let dataplane = target("dataplane", &args.dataplane)?;
    let controlplane = target("controlplane", &args.controlplane)?;
    // Concurrently: an unreachable host costs one timeout, not one per endpoint.
    let checks: Vec<Check> = std::thread::scope(|scope| {
        let probes = [
            ("dataplane", &dataplane, "/health/live"),
            ("dataplane", &dataplane, "/health/ready"),
            ("dataplane", &dataplane, "/health"),
            ("controlplane", &controlplane, "/health"),
        ];
        let handles: Vec<_> = probes
            .into_iter()
            .map(|(component, target, path)| {
                scope.spawn(move || probe(component, target, path, timeout))
            })
            .collect();
        handles
            .into_iter()
            .zip(probes)
            .map(|(handle, (component, target, path))| {
                handle.join().unwrap_or_else(|_| Check {
                    detail: "the check itself failed".into(),
                    ..blank(component, target, path, State::Unreachable)
                })
            })
            .collect()
    });
    output::emit(&render(format, &checks)?)?;
    let code = exit_status(&checks);
    if code != 0 && format == Format::Table {
        let failing: Vec<String> = checks
            .iter()
            .filter(|c| c.state != State::Healthy)
            .map(|c| format!("{} {}", c.endpoint, c.state.as_str()))
            .collect();
        output::note(&format!("ctl: not healthy: {}", failing.join(", ")));
    }
    Ok(code)
}

fn exit_status(checks: &[Check]) -> u8 {
    if checks.iter().any(|c| c.state == State::Unreachable) {
        UNREACHABLE
    } else if checks.iter().any(|c| c.state == State::Unhealthy) {
        UNHEALTHY
    } else {
        0
    }
}

fn blank(component: &'static str, target: &Target, path: &str, state: State) -> Check {
    Check {
        component,
        endpoint: format!("{}{path}", target.display),
        state,
        http_status: None,
        node_id: None,
        ready: None,
        links_up: None,
        links_total: None,
        config_version: None,
        packet_success_rate: None,
        p99_latency_ms: None,
        dependencies_down: Vec::new(),
        detail: String::new(),
    }
}

fn probe(component: &'static str, target: &Target, path: &str, timeout: Duration) -> Check {
    let full_path = format!("{}{path}", target.base);
    match http_client::get_from(&target.host, target.port, &full_path, timeout) {
        Err(error) => Check {
            detail: error.to_string(),
            ..blank(component, target, path, State::Unreachable)
        },
        Ok(response) => judge(
            blank(component, target, path, State::Healthy),
            path,
            response.status,
            &response.body,
        ),
    }
}

/// Reads one answer: 200 with the expected body is healthy, anything else is not.
fn judge(mut check: Check, path: &str, status: u16, body: &str) -> Check {
    check.http_status = Some(status);
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let reported = field("status");
    check.node_id = field("nodeId");
    check.ready = json
        .as_ref()
        .and_then(|j| j.get("ready"))
        .and_then(|v| v.as_bool());
    if let Some(peers) = json
        .as_ref()
        .and_then(|j| j.get("peers"))
        .and_then(|v| v.as_array())
    {
        check.links_total = Some(peers.len());
        check.links_up = Some(
            peers
                .iter()
                .filter(|p| p.get("linkState").and_then(|s| s.as_str()) == Some("up"))
                .count(),
        );
    }
    check.config_version = json
        .as_ref()
        .and_then(|j| j.get("configVersion"))
        .and_then(config_version);
    let number = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(|v| v.as_f64())
    };
    check.packet_success_rate = number("packetSuccessRate");
    check.p99_latency_ms = number("p99LatencyMs");
    check.dependencies_down = json
        .as_ref()
        .and_then(|j| j.get("dependencies"))
        .and_then(|v| v.as_array())
        .map(|all| {
            all.iter()
                .filter(|d| {
                    // `up` says it; a service from before that field has only its state.
                    let state = d.get("state").and_then(|s| s.as_str()).unwrap_or("?");
                    let up = d.get("up").and_then(|v| v.as_bool());
                    !up.unwrap_or_else(|| service_runtime::dependencies::is_up(state))
                })
                .map(|d| {
                    let text = |key: &str| d.get(key).and_then(|v| v.as_str()).unwrap_or("?");
                    match d.get("lastError").and_then(|v| v.as_str()) {
                        Some(error) => format!("{} {} ({error})", text("name"), text("state")),
                        None => format!("{} {}", text("name"), text("state")),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    // /health must also say "ok" (a data plane that is starting or draining answers 200 there
    // with its state); /health/live and /health/ready speak through their status code.
    let body_ok = path != "/health" || reported.as_deref() == Some("ok");
    check.state = if status == 200 && body_ok {
        State::Healthy
    } else {
        State::Unhealthy
    };
    check.detail = match (&reported, status) {
        (Some(reported), _) => format!("status {reported}"),
        (None, 0) => "not an HTTP response".into(),
        (None, _) => format!("HTTP {status} without a JSON status"),
    };
    for down in &check.dependencies_down {
        check.detail.push_str(&format!("; {down}"));
    }
    check
}

/// `{"epoch": 3, "generation": 2}` or `"3.2"`.
fn config_version(value: &serde_json::Value) -> Option<String> {
    if let Some(text) = value.as_str() {
        return Some(text.to_string());
    }
    let epoch = value.get("epoch")?.as_u64()?;
    let generation = value.get("generation")?.as_u64()?;
    Some(format!("{epoch}.{generation}"))
}

fn render(format: Format, checks: &[Check]) -> anyhow::Result<String> {
    let report = Report {
        healthy: checks.iter().all(|c| c.state == State::Healthy),
        checks,
    };
    Ok(match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        Format::Yaml => yaml_serde::to_string(&report)?,
        Format::Table => {
            let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            output::table(
                &[
                    "COMPONENT",
                    "ENDPOINT",
                    "STATE",
                    "HTTP",
                    "NODE",
                    "READY",
                    "LINKS UP",
                    "CONFIG VERSION",
                    "SUCCESS 1M",
                    "P99 MS",
                    "DETAIL",
                ],
                checks
                    .iter()
                    .map(|c| {
                        vec![
                            c.component.to_string(),
                            c.endpoint.clone(),
                            c.state.as_str().to_string(),
                            dash(c.http_status.map(|s| s.to_string())),
                            dash(c.node_id.clone()),
                            dash(c.ready.map(|r| if r { "yes" } else { "no" }.to_string())),
                            dash(
                                c.links_total
                                    .map(|t| format!("{}/{t}", c.links_up.unwrap_or(0))),
                            ),
                            dash(c.config_version.clone()),
                            dash(c.packet_success_rate.map(|r| format!("{:.1}%", r * 100.0))),
                            dash(c.p99_latency_ms.map(|ms| format!("{ms}"))),
                            dash(Some(c.detail.clone()).filter(|d| !d.is_empty())),
                        ]
                    })
                    .collect(),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str) -> Check {
        let target = target("dataplane", "http://127.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"));
        blank("dataplane", &target, path, State::Healthy)
    }

    #[test]
    fn base_urls_are_parsed_and_others_refused() {
        let t =
            target("dataplane", "http://dp.internal:9000/ops/").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.host.as_str(), t.port, t.base.as_str()),
            ("dp.internal", 9000, "/ops")
        );
        let t = target("dataplane", "http://[::1]:8080").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.host.as_str(), t.port, t.base.as_str()),
            ("::1", 8080, "")
        );
        assert_eq!(target("x", "http://h").map(|t| t.port).ok(), Some(80));
        for bad in ["https://h:1", "h:8080", "http://h/?q=1", "ftp://h"] {
            let error = target("dataplane", bad)
                .err()
                .map(|e| e.0)
                .unwrap_or_default();
            assert!(
                error.starts_with(&format!("--dataplane {bad}: ")),
                "{error}"
            );
        }
    }

    #[test]
    fn a_data_plane_health_body_gives_ready_links_and_state() {
        let body = r#"{"status":"ok","nodeId":"n1","ready":true,"peers":[
            {"id":"a","linkState":"up"},{"id":"b","linkState":"backoff"}]}"#;
        let c = judge(check("/health"), "/health", 200, body);
        assert_eq!(c.state, State::Healthy);
        assert_eq!((c.links_up, c.links_total), (Some(1), Some(2)));
        assert_eq!((c.ready, c.node_id.as_deref()), (Some(true), Some("n1")));
        let with_figures = judge(
            check("/health"),
            "/health",
            200,
            r#"{"status":"ok","packetSuccessRate":0.75,"p99LatencyMs":2.5,"dependencies":[
                {"name":"controlplane","state":"connecting","lastError":"refused"},
                {"name":"ledger","state":"ok","up":true},
                {"name":"discovery","state":"reachable"},
                {"name":"ledger2","state":"failing","up":false,"lastError":"disk full"}]}"#,
        );
        assert_eq!(with_figures.packet_success_rate, Some(0.75));
        assert_eq!(with_figures.p99_latency_ms, Some(2.5));
        assert_eq!(
            with_figures.dependencies_down,
            [
                "controlplane connecting (refused)",
                "ledger2 failing (disk full)"
            ]
        );
        assert!(
            with_figures
                .detail
                .contains("controlplane connecting (refused)"),
            "{}",
            with_figures.detail
        );
        let starting = judge(
            check("/health"),
            "/health",
            200,
            r#"{"status":"starting","ready":false}"#,
        );
        assert_eq!(starting.state, State::Unhealthy);
        assert_eq!(starting.detail, "status starting");
        assert_eq!(
            judge(check("/health"), "/health", 200, "<html>").state,
            State::Unhealthy
        );
    }

    #[test]
    fn live_and_ready_are_judged_by_status_code() {
        assert_eq!(
            judge(check("/health/ready"), "/health/ready", 200, "{}").state,
            State::Healthy
        );
        let not_ready = judge(
            check("/health/ready"),
            "/health/ready",
            503,
            r#"{"status":"starting"}"#,
        );
        assert_eq!(not_ready.state, State::Unhealthy);
        assert_eq!(not_ready.http_status, Some(503));
        assert_eq!(
            judge(check("/health/live"), "/health/live", 500, "").state,
            State::Unhealthy
        );
    }

    #[test]
    fn config_versions_read_as_epoch_dot_generation() {
        let c = judge(
            check("/health"),
            "/health",
            200,
            r#"{"status":"ok","configVersion":{"epoch":4,"generation":2}}"#,
        );
        assert_eq!(c.config_version.as_deref(), Some("4.2"));
    }

    #[test]
    fn unreachable_wins_over_unhealthy_in_the_exit_status() {
        let mut checks = vec![check("/health"), check("/health/ready")];
        assert_eq!(exit_status(&checks), 0);
        checks[0].state = State::Unhealthy;
        assert_eq!(exit_status(&checks), UNHEALTHY);
        checks[1].state = State::Unreachable;
        assert_eq!(exit_status(&checks), UNREACHABLE);
    }
}
