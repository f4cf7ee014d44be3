#!/usr/bin/env bash
# The ledger as a dimension (docs/performance.md): one-hop at concurrency 1, 10 and 100 with
# LEDGER=memory, embedded and tigerbeetle (one replica, then three), each beside the relay of
# its own round (`compare`). Release build of the data plane with TigerBeetle; the server and
# toolchain from deploy/tigerbeetle/toolchain.sh (cached). JSON lines to $OUT (default
# bench-ledgers.jsonl), summaries to stderr.
#   bench/scripts/ledgers.sh [count]      (packets per run at concurrency 1 and 10; x10 at 100)
# REPEAT (default 3) rounds per comparison.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT="${1:-10000}"
REPEAT="${REPEAT:-3}"
OUT="${OUT:-bench-ledgers.jsonl}"
eval "$(deploy/tigerbeetle/toolchain.sh env)"
TIGERBEETLE="$(deploy/tigerbeetle/toolchain.sh server)"
cargo build --release --locked -p bench -p dataplane --features dataplane/tigerbeetle >&2
BENCH="${CARGO_TARGET_DIR:-target}/release/bench"
work="$(mktemp -d /tmp/bench-ledgers.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
: >"$OUT"

# Starts a cluster of $1 replicas on free ports; sets ADDRESSES.
start_cluster() {
    local count="$1" replica ports=() port
    for ((replica = 0; replica < count; replica++)); do
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        ports+=("127.0.0.1:$port")
    done
    ADDRESSES="$(IFS=,; echo "${ports[*]}")"
    for ((replica = 0; replica < count; replica++)); do
        local file="$work/c${count}_$replica.tigerbeetle"
        "$TIGERBEETLE" format --cluster=0 --replica="$replica" --replica-count="$count" --development "$file" 2>/dev/null
        "$TIGERBEETLE" start --addresses="$ADDRESSES" --development "$file" >"$work/c${count}_$replica.log" 2>&1 &
        pids+=($!)
    done
    for ((replica = 0; replica < count; replica++)); do
        for _ in $(seq 1 120); do
            grep -q "listening on" "$work/c${count}_$replica.log" && break
            sleep 0.5
        done
        grep -q "listening on" "$work/c${count}_$replica.log" || { echo "replica $replica did not start" >&2; exit 1; }
    done
}
stop_cluster() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
}

run_ledger() {
    local label="$1"
    shift
    for concurrency in 1 10 100; do
        local count="$COUNT"
        [[ "$concurrency" == 100 ]] && count=$((COUNT * 10))
        echo "== $label: compare --concurrency $concurrency" >&2
        env "$@" "$BENCH" compare --count "$count" --concurrency "$concurrency" --repeat "$REPEAT" \
            | jq -c --arg setup "$label" '. + {ledgerSetup: $setup}' | tee -a "$OUT"
    done
}

run_ledger memory LEDGER=memory
run_ledger embedded LEDGER=embedded
start_cluster 1
run_ledger tigerbeetle-1 LEDGER=tigerbeetle TIGERBEETLE_ADDRESSES="$ADDRESSES" TIGERBEETLE_CLUSTER_ID=0
stop_cluster
start_cluster 3
run_ledger tigerbeetle-3 LEDGER=tigerbeetle TIGERBEETLE_ADDRESSES="$ADDRESSES" TIGERBEETLE_CLUSTER_ID=0
stop_cluster
echo "results in $OUT" >&2
