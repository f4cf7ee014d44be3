#!/usr/bin/env bash
# Usage: rebuild.sh [-f COMPOSE_FILE]... [-p PROJECT] [--env-file FILE] [--host-binaries] [--no-restart]
#
# Rebuilds the images (ilp-connector/{dataplane,controlplane,discovery-server,tools}:$IMAGE_TAG,
# default latest) from the working tree with deploy/docker/Dockerfile, then recreates the
# containers of the Compose project whose image changed (docker compose up -d). Run it where
# you run docker compose, or pass the same -f/-p options; --no-restart only builds.
#
# --host-binaries: compile with cargo on this machine and build the same runtime stages from
# those binaries (deploy/test/build-test-images.sh) instead of compiling inside Docker; for
# machines that cannot pull the Rust image. The host must run Debian bookworm.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$repo/deploy/scripts/lib.sh"
parse_compose_args "$@"
host_binaries=false
restart=true
for arg in "${REST_ARGS[@]}"; do
    case "$arg" in
        --host-binaries) host_binaries=true ;;
        --no-restart) restart=false ;;
        -h | --help)
            sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done
tag="${IMAGE_TAG:-latest}"

if $host_binaries; then
    (cd "$repo" && cargo build --release --locked -p dataplane -p controlplane -p discovery-server -p ctl -p testpeer)
    IMAGE_TAG="$tag" "$repo/deploy/test/build-test-images.sh"
else
    # One build stage serves every target: after the first, the others come from the cache.
    for target in dataplane controlplane discovery-server tools; do
        echo "building ilp-connector/$target:$tag"
        docker build --force-rm -f "$repo/deploy/docker/Dockerfile" --target "$target" \
            -t "ilp-connector/$target:$tag" "$repo"
    done
fi

if $restart; then
    if [[ ${#COMPOSE_ARGS[@]} -eq 0 && ! -f docker-compose.yml && ! -f compose.yaml ]]; then
        echo "images built; no Compose file here to restart (pass -f FILE or run from its directory)"
        exit 0
    fi
    compose up -d
    compose ps
fi
