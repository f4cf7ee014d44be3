#!/usr/bin/env bash
# Every scenario of docs/performance.md in one run, release build. Writes the JSON lines to
# $OUT (default bench-results.jsonl) and the readable summaries to stderr.
#   bench/scripts/run-all.sh [count]      (count: packets per load run, default 20000)
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT="${1:-20000}"
OUT="${OUT:-bench-results.jsonl}"
command -v jq >/dev/null || { echo "jq is needed (apt-get install jq)" >&2; exit 1; }
cargo build --release --locked -p bench -p dataplane -p controlplane >&2
BENCH=target/release/bench
: > "$OUT"
run() { echo "== bench $*" >&2; "$BENCH" "$@" | tee -a "$OUT"; }

run compare --count "$COUNT" --concurrency 1
run compare --count "$COUNT" --concurrency 10
# At concurrency 100 a run of COUNT packets lasts a fraction of a second: five times as many.
run compare --count "$((COUNT * 5))" --concurrency 100
# Half of the one-hop saturation rate measured just above (concurrency 100), for relay, one-hop
# and two-hops in one invocation: p99 added per hop = one-hop p99 - relay p99.
saturation=$(jq -s '[.[] | select(.scenario=="one-hop" and .concurrency==100 and (has("rate")|not))] | last | .packetsPerSecond' "$OUT")
half=$(jq -n "$saturation / 2 | floor")
run compare --count "$((COUNT * 2))" --concurrency 100 --rate "$half"
for routes in 10000 100000; do
    run one-hop-routes --routes "$routes" --count "$COUNT" --concurrency 10
done
TRACK_BALANCES=true run one-hop --count "$COUNT" --concurrency 10
TRACK_BALANCES=false run one-hop --count "$COUNT" --concurrency 10
run route-push --routes 1,10000,100000 --changes 10
run footprint --peers 1000 --routes 100000 --starts 5
echo "results in $OUT" >&2
