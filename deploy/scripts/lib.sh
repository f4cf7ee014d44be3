# shellcheck shell=bash
# Shared by the helper scripts: Compose invocation and argument handling. Sourced, not run.

# Compose v2 (`docker compose`) when installed, else v1 (`docker-compose`).
compose() {
    if docker compose version >/dev/null 2>&1; then
        docker compose "${COMPOSE_ARGS[@]}" "$@"
    else
        docker-compose "${COMPOSE_ARGS[@]}" "$@"
    fi
}

# Collects the Compose options every script accepts (-f FILE, -p PROJECT, --env-file FILE)
# into COMPOSE_ARGS; the other arguments are left in REST_ARGS.
parse_compose_args() {
    COMPOSE_ARGS=()
    REST_ARGS=()
    while [[ $# -gt 0 ]]; do
        case "$1" in
            -f | --file | -p | --project-name | --env-file)
                if [[ $# -lt 2 ]]; then
                    echo "$1 needs a value" >&2
                    exit 2
                fi
                COMPOSE_ARGS+=("$1" "$2")
                shift 2
                ;;
            *)
                REST_ARGS+=("$1")
                shift
                ;;
        esac
    done
}

# The value of NAME in a container's environment (empty if unset).
container_env() {
    docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$1" | sed -n "s/^$2=//p" | head -n 1
}
