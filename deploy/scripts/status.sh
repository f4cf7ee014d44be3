#!/usr/bin/env bash
# Usage: status.sh [-f COMPOSE_FILE]... [-p PROJECT] [--env-file FILE] [--strict]
#
# Health of a running Compose network: every container (state, health check, restarts, user),
# then every control plane's view of its data planes and their links (ctl status, run in a
# tools container that shares the control plane's network namespace, so no port needs to be
# published). Run it where you run docker compose, or pass the same -f/-p options.
#
# Exit status 0 when every container runs (and is healthy, if it has a health check) and every
# link between two nodes of this network is up. Links to peers outside the network are listed
# but only count with --strict. TOOLS_IMAGE overrides the image ctl runs from.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_compose_args "$@"
strict=false
for arg in "${REST_ARGS[@]}"; do
    case "$arg" in
        --strict) strict=true ;;
        -h | --help)
            sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

mapfile -t ids < <(compose ps -q)
if [[ ${#ids[@]} -eq 0 ]]; then
    echo "no containers: is the network up (docker compose up -d) and are you in its directory?" >&2
    exit 1
fi

failed=0
control_planes=()
node_ids=()
printf '%-28s %-10s %-10s %-9s %s\n' SERVICE STATE HEALTH RESTARTS USER
for id in "${ids[@]}"; do
    IFS='|' read -r service state health restarts user entrypoint < <(docker inspect -f \
        '{{index .Config.Labels "com.docker.compose.service"}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}|{{.RestartCount}}|{{if .Config.User}}{{.Config.User}}{{else}}root{{end}}|{{join .Config.Entrypoint " "}}' \
        "$id")
    printf '%-28s %-10s %-10s %-9s %s\n' "$service" "$state" "$health" "$restarts" "$user"
    if [[ "$state" != running ]] || [[ "$health" != healthy && "$health" != - ]]; then
        failed=1
    fi
    if [[ "$entrypoint" == controlplane && "$state" == running ]]; then
        control_planes+=("$id")
        node_ids+=("$(container_env "$id" NODE_ID)")
    fi
done

for id in "${control_planes[@]}"; do
    node="$(container_env "$id" NODE_ID)"
    port="$(container_env "$id" GRPC_PORT)"
    port="${port:-50051}"
    image="$(docker inspect -f '{{.Config.Image}}' "$id")"
    tools_image="${TOOLS_IMAGE:-${image/\/controlplane:/\/tools:}}"
    token="${CTL_TOKEN:-}"
    if [[ -z "$token" ]]; then
        ref="$(container_env "$id" API_TOKEN_REF)"
        if [[ "$ref" == env:* ]]; then
            token="$(container_env "$id" "${ref#env:}")"
        fi
    fi
    echo
    echo "== $node (control plane)"
    if [[ -z "$token" ]]; then
        echo "cannot read its API token (API_TOKEN_REF is not env:NAME); set CTL_TOKEN" >&2
        failed=1
        continue
    fi
    run_ctl() {
        CTL_TOKEN="$token" docker run --rm --network "container:$id" -e CTL_TOKEN \
            "$tools_image" ctl --server "http://127.0.0.1:$port" "$@"
    }
    if ! run_ctl status; then
        failed=1
        continue
    fi
    # Pretty JSON lists each link as "peerId" then "state"; nothing else has a "state" key.
    while read -r peer link_state; do
        internal=false
        for other in "${node_ids[@]}"; do
            [[ "$peer" == "$other" ]] && internal=true
        done
        if [[ "$link_state" != up ]] && { $internal || $strict; }; then
            echo "link $node → $peer is $link_state"
            failed=1
        fi
    done < <(run_ctl -o json status | awk -F'"' '/"peerId":/ { peer = $4 } /"state":/ { print peer, $4 }')
done

echo
if [[ $failed -eq 0 ]]; then
    echo "OK: every container healthy, every link between the nodes up"
else
    echo "NOT OK: see above"
fi
exit $failed
