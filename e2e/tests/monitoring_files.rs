//! Static checks of `monitoring/` against the metrics catalogue in `docs/metrics.md`: dashboards
//! are well-formed and use the provisioned datasource, every PromQL expression (dashboards,
//! template variables, rules) names only catalogued metrics and labels, every catalogued metric
//! is charted or alerted on, every alert is complete and unit-tested, and Prometheus scrapes each
//! process on its documented port. No process is started; `monitoring/check.sh` runs promtool.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use yaml_serde::Value as Yaml;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ is inside the workspace")
        .to_path_buf()
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `dir`'s files ending in `extension`, as repository-relative paths, sorted.
fn files(dir: &str, extension: &str) -> Vec<String> {
    let path = repo().join(dir);
    let mut found: Vec<String> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|entry| entry.expect("directory entry").file_name())
        .filter_map(|name| name.to_str().map(str::to_string))
        .filter(|name| name.ends_with(extension))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no *{extension} file in {dir}/");
    found
}

fn yaml(relative: &str) -> Yaml {
    yaml_serde::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn fail_if_any(what: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

// ---- the catalogue ----

struct Metric {
    kind: String,
    labels: BTreeSet<String>,
    job: String,
    not_charted: bool,
}

struct Catalogue {
    metrics: BTreeMap<String, Metric>,
    /// Job name → documented port.
    ports: BTreeMap<String, u16>,
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    is_metric_name(s) && !s.contains(':')
}

/// Parses `docs/metrics.md`: a `## ` heading naming a job in backticks and `port N` opens a
/// process section; a table row whose first cell is a backticked name is a metric.
fn catalogue() -> Catalogue {
    let text = read("docs/metrics.md");
    let mut metrics = BTreeMap::new();
    let mut ports = BTreeMap::new();
    let mut section: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let at = format!("docs/metrics.md:{}", index + 1);
        if let Some(heading) = line.strip_prefix("## ") {
            section = None;
            if let Some((_, rest)) = heading.split_once("job `") {
                let job = rest.split('`').next().unwrap_or_default().to_string();
                let port = heading
                    .split_once("port ")
                    .and_then(|(_, p)| p.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
                    .unwrap_or_else(|| {
                        panic!("{at}: the heading names job `{job}` but no `port N`")
                    });
                ports.insert(job.clone(), port);
                section = Some(job);
            }
            continue;
        }
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert!(
            cells.len() >= 5,
            "{at}: a metric row needs name, type and labels cells"
        );
        let name = cells[1].trim_matches('`');
        assert!(is_metric_name(name), "{at}: {name:?} is not a metric name");
        let job = section.clone().unwrap_or_else(|| {
            panic!("{at}: `{name}` is outside a process section (## ... job `x`, port N)")
        });
        let kind = cells[2].to_string();
        assert!(
            ["counter", "gauge", "histogram"].contains(&kind.as_str()),
            "{at}: `{name}` has type {kind:?}, not counter, gauge or histogram"
        );
        let labels: BTreeSet<String> = if cells[3] == "—" || cells[3] == "-" {
            BTreeSet::new()
        } else {
            cells[3].split(',').map(|l| l.trim().to_string()).collect()
        };
        for label in &labels {
            assert!(
                is_label_name(label),
                "{at}: `{name}`: {label:?} is not a label name"
            );
        }
        let metric = Metric {
            kind,
            labels,
            job,
            not_charted: line.contains("not charted"),
        };
        assert!(
            metrics.insert(name.to_string(), metric).is_none(),
            "{at}: `{name}` is listed twice"
        );
    }
    assert!(!metrics.is_empty(), "docs/metrics.md lists no metric");
    for job in ports.keys() {
        assert!(
            metrics.values().any(|m| &m.job == job),
            "docs/metrics.md: job `{job}` has no metric"
        );
    }
    Catalogue { metrics, ports }
}

/// Labels every scraped series gets from Prometheus.
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

impl Catalogue {
    /// The catalogue entry a series name belongs to (`x_bucket` → histogram `x`), and whether
    /// it is a histogram's `_bucket` series (which also has `le`).
    fn resolve(&self, series: &str) -> Option<(&str, &Metric, bool)> {
        if let Some((name, metric)) = self.metrics.get_key_value(series) {
            return Some((name, metric, false));
        }
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = series.strip_suffix(suffix)
                && let Some((name, metric)) = self.metrics.get_key_value(base)
                && metric.kind == "histogram"
            {
                return Some((name, metric, suffix == "_bucket"));
            }
        }
        None
    }
}

/// The labels a series of that name has: its catalogued labels (plus `le` for a `_bucket`) and
/// the target labels; recorded series and `up` have the target labels (our recording rules
/// aggregate by job and instance). `None` if the name is unknown.
fn labels_of(
    catalogue: &Catalogue,
    recorded: &BTreeSet<String>,
    name: &str,
) -> Option<BTreeSet<String>> {
    let mut labels: BTreeSet<String> = TARGET_LABELS.iter().map(|l| l.to_string()).collect();
    if name == "up" || recorded.contains(name) {
        return Some(labels);
    }
    let (_, metric, bucket) = catalogue.resolve(name)?;
    labels.extend(metric.labels.iter().cloned());
    if bucket {
        labels.insert("le".to_string());
    }
    Some(labels)
}

// ---- PromQL scanning ----

#[derive(Debug, Default, PartialEq)]
struct Scan {
    /// Metric names with the label names of their matchers.
    selectors: Vec<(String, Vec<String>)>,
    /// Label names in `by`, `without`, `on`, `ignoring`, `group_left`, `group_right` lists.
    grouping: Vec<String>,
}

const KEYWORDS: [&str; 14] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "atan2",
    "inf",
    "nan",
];

const AGGREGATIONS: [&str; 14] = [
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "limitk",
    "limit_ratio",
];

/// Scans a PromQL expression for metric names, their matchers' label names and grouping
/// labels. Not a parser (promtool checks syntax): it needs balanced brackets and closed
/// strings, and tells selectors from function calls, keywords and grouping lists.
fn scan(expr: &str) -> Result<Scan, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Scan::default();
    let mut depth: Vec<char> = Vec::new();
    let mut i = 0;
    let skip_space = |mut j: usize| {
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        j
    };
    let ident_end = |mut j: usize| {
        while j < chars.len()
            && (chars[j].is_ascii_alphanumeric() || chars[j] == '_' || chars[j] == ':')
        {
            j += 1;
        }
        j
    };
    let string_end = |start: usize| -> Result<usize, String> {
        let quote = chars[start];
        let mut j = start + 1;
        while j < chars.len() {
            if chars[j] == '\\' && quote != '`' {
                j += 2;
                continue;
            }
            if chars[j] == quote {
                return Ok(j + 1);
            }
            j += 1;
        }
        Err(format!(
            "unterminated string starting at column {}",
            start + 1
        ))
    };
    // A `( label, ... )` list at `j`; returns the names and the index after `)`.
    let label_list = |j: usize| -> Result<(Vec<String>, usize), String> {
        let close = (j..chars.len())
            .find(|&k| chars[k] == ')')
            .ok_or_else(|| format!("unclosed label list at column {}", j + 1))?;
        let names: Vec<String> = chars[j + 1..close]
            .iter()
            .collect::<String>()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for name in &names {
            if !is_label_name(name) {
                return Err(format!("{name:?} in a label list is not a label name"));
            }
        }
        Ok((names, close + 1))
    };
    // The matchers of a `{ ... }` block at `j`; returns their label names and the index after `}`.
    let matchers = |j: usize| -> Result<(Vec<String>, usize), String> {
        let mut names = Vec::new();
        let mut k = j + 1;
        loop {
            k = skip_space(k);
            match chars.get(k) {
                None => return Err(format!("unclosed {{ at column {}", j + 1)),
                Some('}') => return Ok((names, k + 1)),
                Some(',') => k += 1,
                Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
                    let end = ident_end(k);
                    names.push(chars[k..end].iter().collect());
                    k = skip_space(end);
                    let op: String = chars[k..(k + 2).min(chars.len())].iter().collect();
                    k += if op == "=~" || op == "!=" || op == "!~" {
                        2
                    } else if op.starts_with('=') {
                        1
                    } else {
                        return Err(format!("expected a matcher operator at column {}", k + 1));
                    };
                    k = skip_space(k);
                    if !matches!(chars.get(k), Some('"' | '\'' | '`')) {
                        return Err(format!("expected a quoted label value at column {}", k + 1));
                    }
                    k = string_end(k)?;
                }
                Some(c) => {
                    return Err(format!("unexpected {c:?} in a matcher at column {}", k + 1));
                }
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if matches!(c, '"' | '\'' | '`') {
            i = string_end(i)?;
        } else if c == '[' {
            // A range or subquery: durations and Grafana's interval variables, no names.
            i = (i..chars.len())
                .find(|&k| chars[k] == ']')
                .ok_or_else(|| format!("unclosed [ at column {}", i + 1))?
                + 1;
        } else if c == '{' {
            // A selector without a metric name.
            let (_, next) = matchers(i)?;
            i = next;
        } else if c == '(' {
            depth.push(')');
            i += 1;
        } else if c == ')' {
            if depth.pop() != Some(')') {
                return Err(format!("unbalanced ) at column {}", i + 1));
            }
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // Numbers and durations (`0.99`, `1e3`, `5m`).
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c == '$' {
            // A Grafana variable.
            i = ident_end(i + 1);
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let end = ident_end(i);
            let word: String = chars[i..end].iter().collect();
            let next = skip_space(end);
            let lower = word.to_ascii_lowercase();
            if matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            ) {
                if chars.get(next) == Some(&'(') {
                    let (names, after) = label_list(next)?;
                    out.grouping.extend(names);
                    i = after;
                } else if word.starts_with("group_") {
                    i = end;
                } else {
                    return Err(format!("`{word}` without a label list at column {}", i + 1));
                }
            } else if KEYWORDS.contains(&lower.as_str()) || AGGREGATIONS.contains(&word.as_str()) {
                i = end;
            } else if chars.get(next) == Some(&'(') {
                // A function call.
                i = end;
            } else {
                let (labels, after) = if chars.get(next) == Some(&'{') {
                    matchers(next)?
                } else {
                    (Vec::new(), end)
                };
                out.selectors.push((word, labels));
                i = after;
            }
        } else {
            // Operators and commas.
            i += 1;
        }
    }
    if !depth.is_empty() {
        return Err("unclosed (".to_string());
    }
    Ok(out)
}

// ---- what the monitoring files contain ----

/// One PromQL expression and where it is.
struct Query {
    place: String,
    expr: String,
    /// For `label_values(selector, label)` template queries: the label asked for.
    wanted_label: Option<String>,
}

fn dashboard_files() -> Vec<String> {
    files("monitoring/grafana/dashboards", ".json")
}

fn rule_files() -> Vec<String> {
    files("monitoring/prometheus/rules", ".yml")
}

fn dashboard(path: &str) -> Json {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: not valid JSON: {e}"))
}

/// Every panel, rows' collapsed panels included.
fn panels(dashboard: &Json) -> Vec<&Json> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        out.push(panel);
        out.extend(panel["panels"].as_array().into_iter().flatten());
    }
    out
}

fn dashboard_queries() -> Vec<Query> {
    let mut queries = Vec::new();
    for path in dashboard_files() {
        let dashboard = dashboard(&path);
        for panel in panels(&dashboard) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                queries.push(Query {
                    place: format!(
                        "{path}: panel {} {:?} query {}",
                        panel["id"],
                        panel["title"].as_str().unwrap_or("?"),
                        target["refId"].as_str().unwrap_or("?")
                    ),
                    expr: target["expr"].as_str().unwrap_or_default().to_string(),
                    wanted_label: None,
                });
            }
        }
        for variable in dashboard["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if variable["type"] != "query" {
                continue;
            }
            let query = variable["query"]["query"]
                .as_str()
                .or_else(|| variable["query"].as_str())
                .unwrap_or_default();
            let place = format!(
                "{path}: variable ${}",
                variable["name"].as_str().unwrap_or("?")
            );
            // label_values(selector, label) is Grafana's, not PromQL: check its parts.
            match query
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .and_then(|q| q.rsplit_once(','))
            {
                Some((selector, label)) => queries.push(Query {
                    place,
                    expr: selector.to_string(),
                    wanted_label: Some(label.trim().to_string()),
                }),
                None => queries.push(Query {
                    place,
                    expr: query.to_string(),
                    wanted_label: None,
                }),
            }
        }
    }
    queries
}

/// (alert or record name, expression, the rule as YAML, file).
fn rules() -> Vec<(String, String, Yaml, String)> {
    let mut out = Vec::new();
    for path in rule_files() {
        let doc = yaml(&path);
        let groups = doc["groups"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{path}: no `groups` list"));
        for group in groups {
            for rule in group["rules"].as_sequence().into_iter().flatten() {
                let name = rule["alert"]
                    .as_str()
                    .or_else(|| rule["record"].as_str())
                    .unwrap_or_else(|| panic!("{path}: a rule without `alert` or `record`"));
                let expr = rule["expr"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path}: {name} has no `expr` string"));
                out.push((
                    name.to_string(),
                    expr.to_string(),
                    rule.clone(),
                    path.clone(),
                ));
            }
        }
    }
    out
}

fn recorded_names() -> BTreeSet<String> {
    rules()
        .into_iter()
        .filter(|(_, _, rule, _)| rule["record"].as_str().is_some())
        .map(|(name, ..)| name)
        .collect()
}

fn all_queries() -> Vec<Query> {
    let mut queries = dashboard_queries();
    for (name, expr, _, path) in rules() {
        queries.push(Query {
            place: format!("{path}: {name}"),
            expr,
            wanted_label: None,
        });
    }
    queries
}

// ---- tests ----

#[test]
fn the_scanner_tells_metrics_from_functions_keywords_and_labels() {
    let scanned = scan(
        r#"histogram_quantile(0.99, sum by (le, outcome) (rate(ilp_forward_duration_seconds_bucket{instance=~"$instance", outcome!="x{y}"}[$__rate_interval])))
           / on (job, instance) group_left instance:ratio:rate5m > bool 0.5 and up offset 5m"#,
    )
    .unwrap();
    assert_eq!(
        scanned.selectors,
        [
            (
                "ilp_forward_duration_seconds_bucket".to_string(),
                vec!["instance".to_string(), "outcome".to_string()]
            ),
            ("instance:ratio:rate5m".to_string(), vec![]),
            ("up".to_string(), vec![]),
        ]
    );
    assert_eq!(scanned.grouping, ["le", "outcome", "job", "instance"]);
    assert!(scan("sum(rate(x[5m])").is_err());
    assert!(scan(r#"x{a="b"#).is_err());
    assert!(scan(r#"x{a=b}"#).is_err());
    assert!(scan("sum by (a b) (x)").is_err());
}

#[test]
fn the_catalogue_follows_the_naming_rules() {
    let catalogue = catalogue();
    let mut problems = Vec::new();
    for (name, metric) in &catalogue.metrics {
        let counter = metric.kind == "counter";
        if counter != name.ends_with("_total") {
            problems.push(format!(
                "`{name}` is a {}: counters, and only counters, end in _total",
                metric.kind
            ));
        }
        if metric.kind == "histogram" && !name.ends_with("_seconds") && !name.ends_with("_bytes") {
            problems.push(format!(
                "histogram `{name}` does not end in its base unit (_seconds, _bytes)"
            ));
        }
        for bad in ["_milliseconds", "_ms", "_microseconds", "_kilobytes"] {
            if name.contains(bad) {
                problems.push(format!("`{name}` is not in base units ({bad})"));
            }
        }
        for label in &metric.labels {
            if TARGET_LABELS.contains(&label.as_str()) || label == "le" || label.starts_with("__") {
                problems.push(format!(
                    "`{name}` has label {label:?}, which Prometheus reserves or sets"
                ));
            }
        }
    }
    fail_if_any("docs/metrics.md", problems);
}

#[test]
fn dashboards_are_well_formed_and_use_the_provisioned_datasource() {
    let datasources = yaml("monitoring/grafana/provisioning/datasources/prometheus.yml");
    let datasource = &datasources["datasources"][0];
    assert_eq!(datasource["type"].as_str(), Some("prometheus"));
    assert_eq!(datasource["url"].as_str(), Some("http://prometheus:9090"));
    let uid = datasource["uid"]
        .as_str()
        .expect("the provisioned datasource has a fixed uid");
    let providers = yaml("monitoring/grafana/provisioning/dashboards/ilp-connector.yml");
    let provider = &providers["providers"][0];
    assert_eq!(provider["type"].as_str(), Some("file"));
    assert!(
        provider["options"]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with('/')),
        "the dashboard provider needs an absolute options.path"
    );

    let mut problems = Vec::new();
    let mut uids = BTreeSet::new();
    let check_datasource = |place: &str, value: &Json, problems: &mut Vec<String>| {
        if value.is_null() {
            return;
        }
        if value["uid"].as_str() != Some(uid) {
            problems.push(format!("{place}: datasource {value} is not uid {uid:?}"));
        }
    };
    for path in dashboard_files() {
        let dashboard = dashboard(&path);
        for field in ["title", "uid"] {
            if dashboard[field].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{path}: no {field}"));
            }
        }
        if let Some(dashboard_uid) = dashboard["uid"].as_str() {
            if dashboard_uid.len() > 40 {
                problems.push(format!(
                    "{path}: uid {dashboard_uid:?} is longer than Grafana's 40 characters"
                ));
            }
            if !uids.insert(dashboard_uid.to_string()) {
                problems.push(format!(
                    "{path}: uid {dashboard_uid:?} is used by another dashboard"
                ));
            }
        }
        let all = panels(&dashboard);
        if all.iter().all(|p| p["type"] == "row") {
            problems.push(format!("{path}: no panels"));
        }
        let mut ids = BTreeSet::new();
        for panel in all {
            let title = panel["title"].as_str().unwrap_or_default();
            let place = format!("{path}: panel {} {title:?}", panel["id"]);
            if title.is_empty() {
                problems.push(format!("{place}: no title"));
            }
            match panel["id"].as_u64() {
                Some(id) if !ids.insert(id) => {
                    problems.push(format!("{place}: id {id} is used twice"))
                }
                None => problems.push(format!("{place}: no numeric id")),
                _ => {}
            }
            for field in ["h", "w", "x", "y"] {
                if panel["gridPos"][field].as_u64().is_none() {
                    problems.push(format!("{place}: gridPos.{field} missing"));
                }
            }
            if panel["gridPos"]["x"].as_u64().unwrap_or(0)
                + panel["gridPos"]["w"].as_u64().unwrap_or(0)
                > 24
            {
                problems.push(format!("{place}: wider than the 24-column grid"));
            }
            if panel["type"] == "row" {
                continue;
            }
            if panel["type"].as_str().is_none() {
                problems.push(format!("{place}: no type"));
            }
            check_datasource(&place, &panel["datasource"], &mut problems);
            let targets = panel["targets"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if targets.is_empty() {
                problems.push(format!("{place}: no targets"));
            }
            let mut ref_ids = BTreeSet::new();
            for target in targets {
                let ref_id = target["refId"].as_str().unwrap_or_default();
                if ref_id.is_empty() || !ref_ids.insert(ref_id) {
                    problems.push(format!("{place}: missing or repeated refId {ref_id:?}"));
                }
                if target["expr"].as_str().is_none_or(|e| e.trim().is_empty()) {
                    problems.push(format!("{place} query {ref_id}: no expr"));
                }
                check_datasource(
                    &format!("{place} query {ref_id}"),
                    &target["datasource"],
                    &mut problems,
                );
            }
        }
        for variable in dashboard["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let place = format!(
                "{path}: variable ${}",
                variable["name"].as_str().unwrap_or("?")
            );
            if variable["type"] == "query" {
                check_datasource(&place, &variable["datasource"], &mut problems);
            }
        }
    }
    fail_if_any("dashboards", problems);
}

#[test]
fn queries_name_only_catalogued_metrics_and_labels() {
    let catalogue = catalogue();
    let recorded = recorded_names();
    let mut problems = Vec::new();
    for query in all_queries() {
        let scanned = match scan(&query.expr) {
            Ok(scanned) => scanned,
            Err(error) => {
                problems.push(format!("{}: {error} in `{}`", query.place, query.expr));
                continue;
            }
        };
        if scanned.selectors.is_empty() {
            problems.push(format!("{}: no metric in `{}`", query.place, query.expr));
        }
        // The labels this expression's series can have.
        let mut available: BTreeSet<String> = TARGET_LABELS.iter().map(|l| l.to_string()).collect();
        for (name, matchers) in &scanned.selectors {
            let Some(labels) = labels_of(&catalogue, &recorded, name) else {
                problems.push(format!(
                    "{}: `{name}` is not in docs/metrics.md (nor a histogram's _bucket/_sum/_count, `up`, or a recording rule)",
                    query.place
                ));
                continue;
            };
            for label in matchers {
                if !labels.contains(label) && label != "__name__" {
                    problems.push(format!(
                        "{}: `{name}` has no label {label:?} (docs/metrics.md lists: {})",
                        query.place,
                        labels.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            available.extend(labels);
        }
        for label in scanned.grouping.iter().chain(query.wanted_label.iter()) {
            if !available.contains(label) {
                problems.push(format!(
                    "{}: label {label:?} is on none of the metrics of `{}`",
                    query.place, query.expr
                ));
            }
        }
    }
    fail_if_any("PromQL in monitoring/", problems);
}

#[test]
fn every_catalogued_metric_is_charted_or_alerted_on() {
    let catalogue = catalogue();
    let mut used = BTreeSet::new();
    for query in all_queries() {
        for (name, _) in scan(&query.expr).map(|s| s.selectors).unwrap_or_default() {
            if let Some((base, ..)) = catalogue.resolve(&name) {
                used.insert(base.to_string());
            }
        }
    }
    let mut problems = Vec::new();
    for (name, metric) in &catalogue.metrics {
        match (used.contains(name), metric.not_charted) {
            (false, false) => problems.push(format!(
                "`{name}` ({}) is in no dashboard and no rule: chart it, or say `not charted` in its docs/metrics.md row",
                metric.job
            )),
            (true, true) => problems.push(format!(
                "`{name}` is marked `not charted` in docs/metrics.md but is used"
            )),
            _ => {}
        }
    }
    fail_if_any("docs/metrics.md coverage", problems);
}

#[test]
fn every_alert_is_complete_and_unit_tested() {
    // Alert names with at least one firing and at least one quiet expectation in the tests.
    let mut fires: BTreeSet<String> = BTreeSet::new();
    let mut quiet: BTreeSet<String> = BTreeSet::new();
    let mut tested_rule_files: BTreeSet<String> = BTreeSet::new();
    for path in files("monitoring/prometheus/tests", ".yml") {
        let doc = yaml(&path);
        for file in doc["rule_files"].as_sequence().into_iter().flatten() {
            let file = file.as_str().unwrap_or_default();
            let resolved = Path::new(&path)
                .parent()
                .expect("tests/ has a parent")
                .join(file);
            // `tests/../rules/x.yml` → `rules/x.yml`.
            let normalized: PathBuf =
                resolved.components().fold(PathBuf::new(), |mut acc, part| {
                    if part == std::path::Component::ParentDir {
                        acc.pop();
                    } else {
                        acc.push(part);
                    }
                    acc
                });
            tested_rule_files.insert(normalized.display().to_string());
        }
        for test in doc["tests"].as_sequence().into_iter().flatten() {
            for case in test["alert_rule_test"].as_sequence().into_iter().flatten() {
                let name = case["alertname"].as_str().unwrap_or_default().to_string();
                if case["exp_alerts"]
                    .as_sequence()
                    .is_some_and(|a| !a.is_empty())
                {
                    fires.insert(name);
                } else {
                    quiet.insert(name);
                }
            }
        }
    }
    let catalogue = catalogue();
    let recorded = recorded_names();
    let mut problems = Vec::new();
    for path in rule_files() {
        if !tested_rule_files.contains(&path) {
            problems.push(format!(
                "{path}: no file in monitoring/prometheus/tests/ loads it"
            ));
        }
    }
    let mut names = BTreeSet::new();
    for (name, expr, rule, path) in rules() {
        if !names.insert(name.clone()) {
            problems.push(format!("{path}: {name} is defined twice"));
        }
        if rule["record"].as_str().is_some() {
            if !name.contains(':') {
                problems.push(format!(
                    "{path}: recording rule {name} should be named level:metric:operations"
                ));
            }
            continue;
        }
        let place = format!("{path}: alert {name}");
        if rule["for"].as_str().is_none() {
            problems.push(format!("{place}: no `for:`"));
        }
        let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
        if !["critical", "warning", "info"].contains(&severity) {
            problems.push(format!(
                "{place}: severity {severity:?} is not critical, warning or info"
            ));
        }
        let available: BTreeSet<String> = scan(&expr)
            .map(|s| s.selectors)
            .unwrap_or_default()
            .iter()
            .filter_map(|(metric, _)| labels_of(&catalogue, &recorded, metric))
            .flatten()
            .collect();
        for annotation in ["summary", "description"] {
            let text = rule["annotations"][annotation].as_str().unwrap_or_default();
            if text.is_empty() {
                problems.push(format!("{place}: no {annotation} annotation"));
            }
            for (_, rest) in text
                .match_indices("$labels.")
                .map(|(i, _)| text.split_at(i + 8))
            {
                let label: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !available.contains(&label) {
                    problems.push(format!(
                        "{place}: the {annotation} uses $labels.{label}, which its expression's metrics do not have"
                    ));
                }
            }
        }
        if !fires.contains(&name) {
            problems.push(format!("{place}: no promtool test expects it to fire"));
        }
        if !quiet.contains(&name) {
            problems.push(format!(
                "{place}: no promtool test expects it to stay quiet (exp_alerts: [])"
            ));
        }
    }
    fail_if_any("alert rules", problems);
}

#[test]
fn prometheus_scrapes_every_process_on_its_documented_port() {
    let catalogue = catalogue();
    let config = yaml("monitoring/prometheus/prometheus.yml");
    assert_eq!(
        config["global"]["scrape_interval"].as_str(),
        Some("15s"),
        "prometheus.yml: global.scrape_interval"
    );
    let rule_globs: Vec<&str> = config["rule_files"]
        .as_sequence()
        .expect("prometheus.yml: rule_files")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    for path in rule_files() {
        let relative = path.trim_start_matches("monitoring/prometheus/");
        let loaded = rule_globs.iter().any(|glob| {
            // Relative to prometheus.yml, so valid both in the repository and at /etc/prometheus/.
            !glob.starts_with('/')
                && match glob.split_once('*') {
                    Some((prefix, suffix)) => {
                        relative.starts_with(prefix) && relative.ends_with(suffix)
                    }
                    None => *glob == relative,
                }
        });
        assert!(
            loaded,
            "prometheus.yml: no relative rule_files entry loads {path} ({rule_globs:?})"
        );
    }

    let mut scraped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for job in config["scrape_configs"]
        .as_sequence()
        .expect("prometheus.yml: scrape_configs")
    {
        let name = job["job_name"].as_str().expect("job_name").to_string();
        let path = job["metrics_path"].as_str().unwrap_or("/metrics");
        assert_eq!(
            path, "/metrics",
            "prometheus.yml: job {name} scrapes {path}"
        );
        let targets = job["static_configs"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|c| c["targets"].as_sequence().into_iter().flatten())
            .filter_map(Yaml::as_str)
            .map(str::to_string)
            .collect();
        assert!(
            scraped.insert(name.clone(), targets).is_none(),
            "prometheus.yml: job {name} twice"
        );
    }
    let mut problems = Vec::new();
    for (job, port) in &catalogue.ports {
        // The Compose services are named like the jobs.
        let wanted = format!("{job}:{port}");
        match scraped.get(job) {
            None => problems.push(format!("prometheus.yml: no job {job:?} (docs/metrics.md documents it on port {port})")),
            Some(targets) if !targets.contains(&wanted) => problems.push(format!(
                "prometheus.yml: job {job:?} scrapes {targets:?}, not {wanted:?} as documented in docs/metrics.md"
            )),
            _ => {}
        }
    }
    if !scraped.contains_key("prometheus") {
        problems.push(
            "prometheus.yml: Prometheus does not scrape itself (job \"prometheus\")".to_string(),
        );
    }
    fail_if_any("prometheus.yml", problems);
}
