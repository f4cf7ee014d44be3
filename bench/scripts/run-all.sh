#!/usr/bin/env bash
# Every scenario of docs/performance.md in one run, release build. Writes the JSON lines to
# $OUT (default bench-results.jsonl) and the readable summaries to stderr.
#   bench/scripts/run-all.sh [count]      (count: packets per load run, default 20000)
# REPEAT (default 5) rounds per comparison; each figure is the median over the rounds.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT="${1:-20000}"
REPEAT="${REPEAT:-5}"
OUT="${OUT:-bench-results.jsonl}"
command -v jq >/dev/null || { echo "jq is needed (apt-get install jq)" >&2; exit 1; }
cargo build --release --locked -p bench -p dataplane -p controlplane >&2
BENCH=target/release/bench
: > "$OUT"
run() { echo "== bench $*" >&2; "$BENCH" "$@" | tee -a "$OUT"; }

run compare --count "$COUNT" --concurrency 1 --repeat "$REPEAT"
run compare --count "$COUNT" --concurrency 10 --repeat "$REPEAT"
# At concurrency 100 a run of COUNT packets lasts a fraction of a second: fifteen times as many.
run compare --count "$((COUNT * 15))" --concurrency 100 --repeat "$REPEAT"
# Half of the one-hop saturation rate measured just above (median of the rounds, concurrency
# 100), for relay, one-hop and two-hops in the same rounds: addedMicrosPerHop.p99 is the
# median over the rounds of (p99 - the relay's p99) / hops.
saturation=$(jq -s '[.[] | select(.scenario=="one-hop" and .concurrency==100 and (has("rate")|not))] | last | .packetsPerSecond' "$OUT")
half=$(jq -n "$saturation / 2 | floor")
run compare --count "$((COUNT * 10))" --concurrency 100 --rate "$half" --repeat "$REPEAT"
for routes in 10000 100000; do
    run one-hop-routes --routes "$routes" --count "$((COUNT * 5))" --concurrency 10 --repeat 3
done
TRACK_BALANCES=true run one-hop --count "$((COUNT * 5))" --concurrency 10 --repeat 3
TRACK_BALANCES=false run one-hop --count "$((COUNT * 5))" --concurrency 10 --repeat 3
run route-push --routes 1,10000,100000 --changes 10
run footprint --peers 1000 --routes 100000 --starts 5
run footprint --peers 1000 --routes 100000 --starts 5 --config-format json
echo "results in $OUT" >&2
