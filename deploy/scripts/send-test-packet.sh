#!/usr/bin/env bash
# Usage: send-test-packet.sh [-f COMPOSE_FILE]... [-p PROJECT] [--env-file FILE] [-- TESTPEER ARGS]
#
# Sends test packets through a running development network and reports the result: runs the
# network's one-off `sender` service (testpeer, a child peer of the first node) which sends to
# the `receiver` service behind the last node. Without arguments, its default: 10 packets of
# 100 units. After --, the testpeer command line to run instead, e.g.
#   send-test-packet.sh -- testpeer send --destination test.connector-c.receiver.x --count 100 --concurrency 10
# Exit status 0 only if every packet was fulfilled.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_compose_args "$@"
command=()
if [[ ${#REST_ARGS[@]} -gt 0 ]]; then
    if [[ "${REST_ARGS[0]}" == -h || "${REST_ARGS[0]}" == --help ]]; then
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
    fi
    if [[ "${REST_ARGS[0]}" != -- ]]; then
        echo "unknown argument: ${REST_ARGS[0]} (testpeer arguments go after --)" >&2
        exit 2
    fi
    command=("${REST_ARGS[@]:1}")
fi

if ! compose config --services | grep -qx sender; then
    echo "this Compose project has no 'sender' service (the development networks under deploy/dev have one)" >&2
    exit 2
fi
set +e
summary="$(compose run --rm -T sender "${command[@]}")"
status=$?
set -e
echo "$summary"
if [[ $status -eq 0 ]]; then
    echo "OK: every packet fulfilled"
else
    echo "FAILED (exit $status): rejected packets are counted by ILP error code above; see" \
        "status.sh and the nodes' logs (docker compose logs)" >&2
fi
exit $status
