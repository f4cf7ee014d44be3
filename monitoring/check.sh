#!/usr/bin/env bash
# Checks the monitoring files with promtool: the Prometheus configuration (and the rule files it
# loads), the alert and recording rules, their unit tests, and the PromQL of every dashboard
# query (wrapped in a throw-away rule file, since promtool has no command for bare queries).
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")"

missing=0
for tool in promtool jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        missing=1
        case "$tool" in
            promtool) echo "promtool not found: install Prometheus' tools, e.g. on Debian/Ubuntu: apt-get install -y --no-install-recommends prometheus" >&2 ;;
            jq) echo "jq not found: install it, e.g. on Debian/Ubuntu: apt-get install -y --no-install-recommends jq" >&2 ;;
        esac
    fi
done
[ "$missing" = 0 ] || exit 2

step() { printf '\n== %s\n' "$*"; }

step "promtool $(promtool --version 2>&1 | head -1 | awk '{print $3}')"

step "check config: prometheus/prometheus.yml"
promtool check config prometheus/prometheus.yml

step "check rules: prometheus/rules/*.yml"
promtool check rules prometheus/rules/*.yml

step "test rules: prometheus/tests/*.yml"
promtool test rules prometheus/tests/*.yml

step "dashboard queries: grafana/dashboards/*.json"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for dashboard in grafana/dashboards/*.json; do
    jq empty "$dashboard"
    rules="$scratch/$(basename "$dashboard" .json).yml"
    # Grafana's variables are not PromQL: a range for $__rate_interval and friends, a regex
    # for the template variables (all of them are used inside =~"...").
    {
        echo "groups:"
        echo "  - name: dashboard"
        echo "    rules:"
        jq -r '[.. | objects | select(has("targets")) | .targets[] | .expr] | to_entries[]
               | "      - record: dashboard_query_\(.key)\n        expr: \(.value | @json)"' "$dashboard" \
            | sed -e 's/\$__rate_interval/1m/g' -e 's/\$__interval/1m/g' -e 's/\$__range/1h/g' \
                  -e 's/\$[A-Za-z_][A-Za-z0-9_]*/.*/g'
    } > "$rules"
    printf '%s: ' "$dashboard"
    if ! output=$(promtool check rules "$rules" 2>&1); then
        echo "FAILED"
        echo "$output" >&2
        echo "(record dashboard_query_N is the Nth query of the file, counting from 0)" >&2
        exit 1
    fi
    echo "$(jq '[.. | objects | select(has("targets")) | .targets[]] | length' "$dashboard") queries parse"
done

step "all monitoring checks passed"
