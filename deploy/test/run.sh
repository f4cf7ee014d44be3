#!/usr/bin/env bash
# The deployment test, run by CI after the Rust tests: builds the images, checks every Compose
# file, runs the development network and the production stack for real, and checks what the
# deployment issue promises. Every wait is bounded; containers, networks and volumes it created
# are removed on exit, failure included; a failure names its step and shows the services' logs.
#
#   deploy/test/run.sh                 # from anywhere; needs docker, docker-compose, cargo, root
#                                      # (apt-get, for debootstrap/promtool if missing)
#
# Images are built from host binaries through the real runtime stages (see
# derive-test-dockerfile.sh), tagged ilp-connector/*:$IMAGE_TAG (default deploy-test).
# DEPLOY_TEST_TOPOLOGIES=line skips the mesh and hub networks; DEPLOY_TEST_PREBUILT=1 skips the
# cargo build and uses the binaries already in target/release (for iterating on deploy/ only).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export IMAGE_TAG="${IMAGE_TAG:-deploy-test}"
topologies="${DEPLOY_TEST_TOPOLOGIES:-line mesh hub}"
started_at=$SECONDS
work="$(mktemp -d /tmp/ilp-deploy-test.XXXXXX)"
projects=()
current_step="setup"

log() { printf '%s\n' "$*"; }
step() {
    current_step="$*"
    printf '\n== [%4ss] %s\n' "$((SECONDS - started_at))" "$*"
}
fail() {
    printf '\nFAILED in step "%s": %s\n' "$current_step" "$*" >&2
    exit 1
}

compose_project() {
    # compose_project PROJECT ENV_FILE FILE... -- ARGS...
    local project="$1" env_file="$2"
    shift 2
    local files=()
    while [[ "$1" != -- ]]; do
        files+=(-f "$1")
        shift
    done
    shift
    docker-compose -p "$project" --env-file "$env_file" "${files[@]}" "$@"
}

cleanup() {
    local status=$?
    trap - EXIT
    for entry in "${projects[@]}"; do
        IFS='|' read -r project env_file files <<<"$entry"
        read -ra file_list <<<"$files"
        if [[ $status -ne 0 ]]; then
            printf '\n---- last log lines of project %s ----\n' "$project" >&2
            compose_project "$project" "$env_file" "${file_list[@]}" -- logs --no-color --tail 25 >&2 2>&1 || true
        fi
        local file_args=() file
        for file in "${file_list[@]}"; do
            file_args+=(-f "$file")
        done
        timeout 180 docker-compose -p "$project" --env-file "$env_file" "${file_args[@]}" \
            down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    done
    rm -rf "$work"
    if [[ $status -eq 0 ]]; then
        printf '\nDeployment test passed in %ss\n' "$((SECONDS - started_at))"
    else
        printf '\nDeployment test FAILED after %ss (step: %s)\n' "$((SECONDS - started_at))" "$current_step" >&2
    fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND once a second until it succeeds.
wait_until() {
    local limit="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            fail "timed out after ${limit}s waiting for: $what"
        fi
        sleep 1
    done
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

set_env() {
    # set_env FILE NAME VALUE: replaces NAME's line in an env file, or appends it.
    local file="$1" name="$2" value="$3"
    if grep -q "^$name=" "$file"; then
        sed -i "s|^$name=.*|$name=$value|" "$file"
    else
        printf '%s=%s\n' "$name" "$value" >>"$file"
    fi
}

# all_healthy PROJECT ENV FILES...: every container of the project is running, and healthy if
# it has a health check; at least MIN_CONTAINERS of them.
all_healthy() {
    local project="$1" env_file="$2"
    shift 2
    local ids
    mapfile -t ids < <(compose_project "$project" "$env_file" "$@" -- ps -q)
    [[ ${#ids[@]} -ge ${MIN_CONTAINERS:-1} ]] || return 1
    local id line
    for id in "${ids[@]}"; do
        line="$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")"
        [[ "$line" == "running healthy" || "$line" == "running none" ]] || return 1
    done
}

show_health() {
    local project="$1" env_file="$2"
    shift 2
    local id
    for id in $(compose_project "$project" "$env_file" "$@" -- ps -q); do
        docker inspect -f '  {{index .Config.Labels "com.docker.compose.service"}}: {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} restarts={{.RestartCount}}' "$id"
    done
}

# send_until_fulfilled PROJECT ENV LIMIT FILES...: runs the `sender` service until every packet
# is fulfilled (links come up asynchronously after the containers are healthy).
send_until_fulfilled() {
    local project="$1" env_file="$2" limit="$3"
    shift 3
    local deadline=$((SECONDS + limit)) output file files=()
    for file in "$@"; do
        files+=(-f "$file")
    done
    while true; do
        if output="$(timeout 60 docker-compose -p "$project" --env-file "$env_file" "${files[@]}" run --rm -T sender 2>&1)"; then
            log "  sender: $(tail -n 1 <<<"$output")"
            python3 -c 'import json, sys; r = json.loads(sys.argv[1]); sys.exit(0 if r["sent"] == r["fulfilled"] > 0 else 1)' \
                "$(tail -n 1 <<<"$output")" || fail "sender exited 0 but its summary is not all-fulfilled: $output"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            fail "test packets not fulfilled within ${limit}s; last sender output: $output"
        fi
        sleep 2
    done
}

# check_non_root CONTAINER: no process of the container runs with uid 0 (real, effective, saved
# or file-system uid).
check_non_root() {
    local id="$1" service uids uid pid real_uids
    service="$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")"
    uids="$(docker top "$id" -eo pid,uid | awk 'NR > 1 { print $2 }' | sort -u | xargs)"
    [[ -n "$uids" ]] || fail "$service: no processes"
    for uid in $uids; do
        [[ "$uid" != 0 ]] || fail "$service runs a process as root"
    done
    for pid in $(docker top "$id" -eo pid | tail -n +2); do
        real_uids="$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")"
        [[ " $real_uids " != *" 0 "* ]] || fail "$service: pid $pid has a root uid ($real_uids)"
    done
    log "  $service: uid $uids"
}

# check_json_logs NAME CONTAINER: every line of the container's output (stdout and stderr) is a
# JSON object at INFO, WARN or ERROR, and there is at least one INFO line.
check_json_logs() {
    local service="$1" id="$2"
    docker logs "$id" >"$work/log" 2>&1
    python3 - "$service" "$work/log" <<'PY' || fail "$service: logs are not JSON lines at INFO (see above)"
import json, sys
service, path = sys.argv[1], sys.argv[2]
levels = {}
for number, line in enumerate(open(path, encoding="utf-8"), 1):
    line = line.strip()
    if not line:
        continue
    try:
        record = json.loads(line)
    except ValueError:
        sys.exit(f"{service}: line {number} is not JSON: {line[:200]}")
    level = str(record.get("level", "")).upper()
    if level not in ("INFO", "WARN", "ERROR"):
        sys.exit(f"{service}: line {number} has level {level!r}: {line[:200]}")
    levels[level] = levels.get(level, 0) + 1
if not levels.get("INFO"):
    sys.exit(f"{service}: no INFO lines at all")
print(f"  {service}: " + ", ".join(f"{n} {level}" for level, n in sorted(levels.items())))
PY
}

# ---------------------------------------------------------------------------------------------
step "prerequisites"
for tool in docker docker-compose cargo python3 objcopy timeout; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done
docker info >/dev/null 2>&1 || fail "cannot reach the Docker engine"
log "  $(docker version -f 'engine {{.Server.Version}}'), $(docker-compose version --short 2>/dev/null || docker-compose version | head -1)"

step "Dockerfile covers every workspace member"
members="$(python3 -c '
import re, sys
text = open("Cargo.toml").read()
block = re.search(r"members\s*=\s*\[(.*?)\]", text, re.S).group(1)
print("\n".join(re.findall(r"\"([^\"]+)\"", block)))')"
for member in $members; do
    grep -qx "COPY $member/Cargo.toml $member/" deploy/docker/Dockerfile \
        || fail "deploy/docker/Dockerfile does not copy $member/Cargo.toml (workspace member): add 'COPY $member/Cargo.toml $member/'"
done
log "  $(wc -w <<<"$members") members listed"

step "base image debian:bookworm-slim"
timeout 1200 deploy/test/make-base-image.sh || fail "could not make the base image"

step "release binaries (cargo build --release --locked)"
if [[ "${DEPLOY_TEST_PREBUILT:-}" == 1 ]]; then
    log "  DEPLOY_TEST_PREBUILT=1: using the binaries already in target/release"
else
    # The data plane with its TigerBeetle ledger: Zig and libclang from PyPI, cached.
    eval "$(deploy/tigerbeetle/toolchain.sh env)" || fail "the TigerBeetle toolchain could not be installed"
    timeout 3600 cargo build --release --locked -p dataplane -p controlplane -p discovery-server -p ctl -p testpeer -p otlp-sink \
        --features dataplane/tigerbeetle || fail "cargo build failed"
fi

step "images from the Dockerfile's runtime stages (tag $IMAGE_TAG)"
timeout 900 deploy/test/build-test-images.sh || fail "building the images failed"
sink_ctx="$work/otlp-sink"
mkdir -p "$sink_ctx"
objcopy --compress-debug-sections=zlib "${CARGO_TARGET_DIR:-target}/release/otlp-sink" "$sink_ctx/otlp-sink"
docker build --quiet --force-rm -f deploy/test/otlp-sink.Dockerfile --build-arg "RUNTIME_IMAGE=ilp-connector/runtime:$IMAGE_TAG" \
    -t "ilp-connector/otlp-sink:$IMAGE_TAG" "$sink_ctx" >/dev/null 2>"$work/build.err" \
    || { cat "$work/build.err" >&2; fail "docker build of the otlp-sink image failed"; }

step "image contents: size, user, health check, ports, no shell/tools/sources"
declare -A expected_ports=([dataplane]="3000/tcp 8080/tcp" [controlplane]="50051/tcp 8081/tcp" [discovery-server]="8090/tcp" [tools]="")
for image in dataplane controlplane discovery-server tools; do
    ref="ilp-connector/$image:$IMAGE_TAG"
    size=$(docker image inspect -f '{{.Size}}' "$ref")
    user=$(docker image inspect -f '{{.Config.User}}' "$ref")
    health=$(docker image inspect -f '{{if .Config.Healthcheck}}{{join .Config.Healthcheck.Test " "}}{{end}}' "$ref")
    ports=$(docker image inspect -f '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}' "$ref" | xargs)
    log "  $ref: $((size / 1000000)) MB, user $user, ports [${ports}], healthcheck [$health]"
    ((size < 200000000)) || fail "$ref is $size bytes (limit 200 MB)"
    [[ "$user" == 10001:10001 ]] || fail "$ref runs as '$user', expected 10001:10001"
    [[ "$ports" == "${expected_ports[$image]}" ]] || fail "$ref exposes [$ports], expected [${expected_ports[$image]}]"
    if [[ "$image" != tools ]]; then
        [[ "$health" == "CMD $image healthcheck"* ]] || fail "$ref health check is [$health], expected its binary's healthcheck subcommand"
    fi
    env_defaults=$(docker image inspect -f '{{range .Config.Env}}{{.}} {{end}}' "$ref")
    [[ "$env_defaults" == *"LOG_LEVEL=info"* && "$env_defaults" == *"LOG_FORMAT=json"* ]] \
        || fail "$ref does not default to LOG_LEVEL=info LOG_FORMAT=json: $env_defaults"
    container=$(docker create "$ref")
    image_files="$(docker export "$container" | tar -t)"
    docker rm "$container" >/dev/null
    unwanted="$(grep -E '(^|/)(sh|bash|dash|busybox|apt|apt-get|dpkg|cargo|rustc|gcc|cc|ld|make)$|\.rs$|Cargo\.toml$|(^|/)src/' <<<"$image_files" || true)"
    [[ -z "$unwanted" ]] || fail "$ref contains build tools, a shell or sources: $(head -5 <<<"$unwanted" | xargs)"
done

# TigerBeetle's image is a database server's: a shell for its format-then-start entrypoint, the
# same unprivileged user, and a health check that asks the cluster.
ref="ilp-connector/tigerbeetle:$IMAGE_TAG"
user=$(docker image inspect -f '{{.Config.User}}' "$ref")
ports=$(docker image inspect -f '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}' "$ref" | xargs)
health=$(docker image inspect -f '{{if .Config.Healthcheck}}{{join .Config.Healthcheck.Test " "}}{{end}}' "$ref")
log "  $ref: $(($(docker image inspect -f '{{.Size}}' "$ref") / 1000000)) MB, user $user, ports [$ports], healthcheck [$health]"
[[ "$user" == 10001:10001 ]] || fail "$ref runs as '$user', expected 10001:10001"
[[ "$ports" == 3000/tcp ]] || fail "$ref exposes [$ports], expected [3000/tcp]"
[[ "$health" == *"tigerbeetle repl"* ]] || fail "$ref has no health check asking the cluster: [$health]"
docker run --rm --entrypoint tigerbeetle "$ref" version 2>&1 | grep -q "0.16.78" \
    || fail "$ref does not run TigerBeetle 0.16.78"

step "docker-compose config -q for every Compose file (example env files)"
check_config() {
    local dir="$1" env_file="$2"
    shift 2
    (cd "$dir" && ENV_FILE="$env_file" docker-compose --env-file "$env_file" "$@" config -q) \
        || fail "docker-compose config failed for $dir $*"
    log "  ok: $dir ${*:-docker-compose.yml} (env $env_file)"
}
for topology in line mesh hub; do
    check_config "deploy/dev/$topology" .env.example
done
(cd deploy/dev/line && API_TOKEN_D=x SECRET_C_D=x docker-compose --env-file .env.example \
    -f docker-compose.yml -f ../node-template.yml config -q) || fail "docker-compose config failed for the node template"
log "  ok: deploy/dev/line + ../node-template.yml"
check_config deploy/single-node .env.production.example
check_config deploy/stack .env.example
COMPOSE_PROFILES=monitoring,tracing check_config deploy/stack .env.example  # every profile
(cd deploy/stack && ENV_FILE=.env.example TEST_SENDER_SECRET=x TEST_RECEIVER_SECRET=y docker-compose \
    --env-file .env.example -f docker-compose.yml -f ../test/stack.test.yml config -q) || fail "docker-compose config failed for the stack test overlay"
log "  ok: deploy/stack + ../test/stack.test.yml"
(cd deploy/stack && ENV_FILE=.env.example docker-compose --env-file .env.example -f docker-compose.yml \
    -f tigerbeetle-cluster.yml config -q) || fail "docker-compose config failed for the three-replica TigerBeetle overlay"
log "  ok: deploy/stack + tigerbeetle-cluster.yml"
stack_services="$(cd deploy/stack && ENV_FILE=.env.example docker-compose --env-file .env.example config --services | sort | xargs)"
for service in controlplane dataplane tigerbeetle discovery-server prometheus grafana jaeger; do
    [[ " $stack_services " == *" $service "* ]] || fail "the production stack has no service named $service"
done

step "ctl setup's .env drives the production stack, COMPOSE_PROFILES picks the optional services"
setup_env="$work/setup.env"
target/release/ctl setup --non-interactive --node-id deploy-test --settlement evm \
    --evm-address 0x00000000000000000000000000000000000000a1 --monitoring on --tracing on \
    --output "$setup_env" >"$work/setup.out" 2>&1 || { cat "$work/setup.out"; fail "ctl setup failed"; }
# Stand-ins for the Prometheus, Grafana and Jaeger images (no registry here): the containers
# are only created, never started.
grep -qx "ENV_FILE=$setup_env" "$setup_env" || fail "ctl setup did not point ENV_FILE at the file it wrote"
grep -qx "OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4317" "$setup_env" || fail "ctl setup with tracing on did not send traces to jaeger"
{
    echo "IMAGE_TAG=$IMAGE_TAG"
    for name in PROMETHEUS GRAFANA JAEGER; do echo "${name}_IMAGE=ilp-connector/tools:$IMAGE_TAG"; done
} >>"$setup_env"
PROJECT="ilpdeploytest-profiles-$$"
projects+=("$PROJECT|$setup_env|$repo/deploy/stack/docker-compose.yml")
created_services() {
    docker-compose -p "$PROJECT" --env-file "$setup_env" -f deploy/stack/docker-compose.yml up --no-start >"$work/up.out" 2>&1 \
        || { cat "$work/up.out"; fail "docker-compose up --no-start failed with ctl setup's .env"; }
    docker ps -a --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Label "com.docker.compose.service"}}' | sort | xargs
    docker-compose -p "$PROJECT" --env-file "$setup_env" -f deploy/stack/docker-compose.yml down -v >/dev/null 2>&1
}
for profiles in "monitoring,tracing|controlplane dataplane discovery-server grafana jaeger prometheus tigerbeetle" \
    "monitoring|controlplane dataplane discovery-server grafana prometheus tigerbeetle" \
    "|controlplane dataplane discovery-server tigerbeetle"; do
    set_env "$setup_env" COMPOSE_PROFILES "${profiles%%|*}"
    created="$(created_services)"
    [[ "$created" == "${profiles#*|}" ]] \
        || fail "COMPOSE_PROFILES=${profiles%%|*} created [$created], expected [${profiles#*|}]"
    log "  COMPOSE_PROFILES=${profiles%%|*}: $created"
done
projects=("${projects[@]:0:${#projects[@]}-1}")

step "promtool checks (monitoring/check.sh)"
if ! command -v promtool >/dev/null || ! command -v jq >/dev/null; then
    log "  installing promtool (Debian package prometheus) and jq"
    timeout 600 apt-get install -y --no-install-recommends prometheus jq >/dev/null 2>&1 \
        || { timeout 300 apt-get update >/dev/null 2>&1 && timeout 600 apt-get install -y --no-install-recommends prometheus jq >/dev/null 2>&1; } \
        || fail "cannot install promtool and jq"
fi
timeout 300 monitoring/check.sh | sed 's/^/  /' || fail "monitoring/check.sh failed"

# ---------------------------------------------------------------------------------------------
# bring_up TOPOLOGY: starts deploy/dev/TOPOLOGY under a unique project name with fresh secrets
# and ephemeral loopback ports; sets PROJECT, ENV_FILE, FILE.
bring_up() {
    local topology="$1" containers="$2"
    PROJECT="ilpdeploytest-$topology-$$"
    FILE="$repo/deploy/dev/$topology/docker-compose.yml"
    ENV_FILE="$work/$topology.env"
    deploy/scripts/init-env.sh "deploy/dev/$topology/.env.example" "$ENV_FILE" >/dev/null
    set_env "$ENV_FILE" IMAGE_TAG "$IMAGE_TAG"
    local name
    while read -r name; do
        set_env "$ENV_FILE" "$name" ""
    done < <(sed -n 's/^\([A-Z0-9_]*_BTP_HOST_PORT\)=.*/\1/p' "$ENV_FILE")
    projects+=("$PROJECT|$ENV_FILE|$FILE")
    timeout 300 docker-compose -p "$PROJECT" --env-file "$ENV_FILE" -f "$FILE" up -d --quiet-pull 2>&1 | sed 's/^/  /' \
        || fail "docker-compose up failed"
    MIN_CONTAINERS="$containers" wait_until 180 "every container of $topology running and healthy" \
        all_healthy "$PROJECT" "$ENV_FILE" "$FILE"
    show_health "$PROJECT" "$ENV_FILE" "$FILE"
}

tear_down() {
    timeout 180 docker-compose -p "$PROJECT" --env-file "$ENV_FILE" -f "$FILE" down -v --remove-orphans -t 5 >/dev/null 2>&1 \
        || fail "docker-compose down failed"
    projects=("${projects[@]:0:${#projects[@]}-1}")
}

step "development network (line): up and healthy"
bring_up line 7

step "line: test packets A → C"
send_until_fulfilled "$PROJECT" "$ENV_FILE" 90 "$FILE"
timeout 120 deploy/scripts/status.sh -p "$PROJECT" --env-file "$ENV_FILE" -f "$FILE" | sed 's/^/  /' \
    || fail "status.sh reports a problem"

step "line: a crashed data plane is restarted and its links come back"
victim="$(docker-compose -p "$PROJECT" --env-file "$ENV_FILE" -f "$FILE" ps -q connector-b)"
old_pid="$(docker inspect -f '{{.State.Pid}}' "$victim")"
old_restarts="$(docker inspect -f '{{.RestartCount}}' "$victim")"
log "  kill -9 $old_pid (connector-b's dataplane process, from the host)"
kill -9 "$old_pid"
restarted() {
    local state
    state="$(docker inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.Pid}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$victim")"
    read -r restarts status pid health <<<"$state"
    [[ $restarts -gt $old_restarts && "$status" == running && "$pid" != "$old_pid" && "$health" == healthy ]]
}
wait_until 120 "connector-b restarted by Docker and healthy again" restarted
log "  restarted: $(docker inspect -f 'restarts={{.RestartCount}} pid={{.State.Pid}} {{.State.Health.Status}}' "$victim")"
send_until_fulfilled "$PROJECT" "$ENV_FILE" 90 "$FILE"

step "line: every process runs as a non-root user"
for id in $(docker-compose -p "$PROJECT" --env-file "$ENV_FILE" -f "$FILE" ps -q); do
    check_non_root "$id"
done

step "line: container logs are JSON lines at INFO (no DEBUG)"
# The receiver is testpeer, a test tool that prints one plain line; the services log JSON.
for id in $(docker-compose -p "$PROJECT" --env-file "$ENV_FILE" -f "$FILE" ps -q); do
    service="$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")"
    [[ "$service" == receiver ]] && continue
    check_json_logs "$service" "$id"
done
tear_down

for topology in $topologies; do
    [[ "$topology" == line ]] && continue
    case "$topology" in
        mesh) containers=9 ;;
        hub) containers=9 ;;
        *) fail "unknown topology $topology" ;;
    esac
    step "development network ($topology): up, healthy, test packets end to end"
    bring_up "$topology" "$containers"
    send_until_fulfilled "$PROJECT" "$ENV_FILE" 90 "$FILE"
    timeout 120 deploy/scripts/status.sh -p "$PROJECT" --env-file "$ENV_FILE" -f "$FILE" >"$work/status" 2>&1 \
        || { cat "$work/status"; fail "status.sh reports a problem"; }
    log "  status.sh: $(tail -n 1 "$work/status")"
    tear_down
done

# ---------------------------------------------------------------------------------------------
step "production single node: healthy, only the BTP port published"
PROJECT="ilpdeploytest-node-$$"
ENV_FILE="$work/node.env"
FILE="$repo/deploy/single-node/docker-compose.yml"
deploy/scripts/init-env.sh deploy/single-node/.env.production.example "$ENV_FILE" >/dev/null
node_btp_port="$(free_port)"
set_env "$ENV_FILE" NODE_ID node-test
set_env "$ENV_FILE" ILP_ADDRESS test.node-test
set_env "$ENV_FILE" BTP_PORT "$node_btp_port"
set_env "$ENV_FILE" BTP_BIND_ADDRESS 127.0.0.1
set_env "$ENV_FILE" IMAGE_TAG "$IMAGE_TAG"
set_env "$ENV_FILE" ENV_FILE "$ENV_FILE"
projects+=("$PROJECT|$ENV_FILE|$FILE")
timeout 300 docker-compose -p "$PROJECT" --env-file "$ENV_FILE" -f "$FILE" up -d 2>&1 | sed 's/^/  /' \
    || fail "docker-compose up failed"
MIN_CONTAINERS=2 wait_until 120 "controlplane and dataplane healthy" all_healthy "$PROJECT" "$ENV_FILE" "$FILE"
for id in $(docker-compose -p "$PROJECT" --env-file "$ENV_FILE" -f "$FILE" ps -q); do
    service="$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")"
    published="$(docker inspect -f '{{range $port, $bindings := .NetworkSettings.Ports}}{{range $bindings}}{{.HostIp}}:{{.HostPort}}->{{$port}} {{end}}{{end}}' "$id" | xargs)"
    case "$service" in
        dataplane) expected="127.0.0.1:$node_btp_port->$node_btp_port/tcp" ;;
        *) expected="" ;;
    esac
    [[ "$published" == "$expected" ]] || fail "$service publishes [$published], expected [$expected]"
    read_only="$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.RestartPolicy.Name}}' "$id")"
    [[ "$read_only" == "true unless-stopped" ]] || fail "$service: read-only root and restart policy are [$read_only]"
    log "  $service: healthy, published [${published:-nothing}], read-only root, restart unless-stopped"
done
tear_down

step "production stack: controlplane, dataplane, discovery-server exporting traces to a collector"
PROJECT="ilpdeploytest-stack-$$"
ENV_FILE="$work/stack.env"
STACK_FILES=("$repo/deploy/stack/docker-compose.yml" "$repo/deploy/test/stack.test.yml")
deploy/scripts/init-env.sh deploy/stack/.env.example "$ENV_FILE" >/dev/null
btp_port="$(free_port)"
set_env "$ENV_FILE" NODE_ID stack-test
set_env "$ENV_FILE" ILP_ADDRESS test.stack
set_env "$ENV_FILE" BTP_PORT "$btp_port"
set_env "$ENV_FILE" BTP_BIND_ADDRESS 127.0.0.1
set_env "$ENV_FILE" HEALTH_PORT "$(free_port)"
set_env "$ENV_FILE" DISCOVERY_HOST_PORT "$(free_port)"
set_env "$ENV_FILE" PEER_DISCOVERY_ENABLED true
set_env "$ENV_FILE" PEER_ANNOUNCE_ADDRESS "ws://dataplane:$btp_port"
set_env "$ENV_FILE" COMPOSE_PROFILES ""
set_env "$ENV_FILE" OTEL_EXPORTER_OTLP_ENDPOINT http://otlp-sink:4317
set_env "$ENV_FILE" OTEL_TRACES_SAMPLER always_on
set_env "$ENV_FILE" IMAGE_TAG "$IMAGE_TAG"
set_env "$ENV_FILE" ENV_FILE "$ENV_FILE"
set_env "$ENV_FILE" PEERS_CONFIG "$work/stack-peers.yaml"
set_env "$ENV_FILE" TEST_SENDER_SECRET "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
set_env "$ENV_FILE" TEST_RECEIVER_SECRET "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$work/stack-peers.yaml" <<'EOF'
peers:
  - { id: sender, relation: child, secretRef: env:TEST_SENDER_SECRET }
  - { id: receiver, relation: child, secretRef: env:TEST_RECEIVER_SECRET }
routes:
  - { prefix: test.stack.receiver, peer: receiver }
EOF
chmod 0644 "$work/stack-peers.yaml"
chmod 0755 "$work"
projects+=("$PROJECT|$ENV_FILE|${STACK_FILES[*]}")
stack() { compose_project "$PROJECT" "$ENV_FILE" "${STACK_FILES[@]}" -- "$@"; }
timeout 300 docker-compose -p "$PROJECT" --env-file "$ENV_FILE" -f "${STACK_FILES[0]}" -f "${STACK_FILES[1]}" \
    up -d otlp-sink controlplane tigerbeetle dataplane discovery-server receiver 2>&1 | sed 's/^/  /' \
    || fail "docker-compose up failed"
MIN_CONTAINERS=6 wait_until 240 "controlplane, tigerbeetle, dataplane, discovery-server healthy" \
    all_healthy "$PROJECT" "$ENV_FILE" "${STACK_FILES[@]}"
show_health "$PROJECT" "$ENV_FILE" "${STACK_FILES[@]}"
for service in controlplane tigerbeetle dataplane discovery-server; do
    health="$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$(stack ps -q "$service")")"
    [[ "$health" == healthy ]] || fail "$service reports '$health'"
done
started="$(stack ps --services --filter status=running | sort | xargs)"
for service in prometheus grafana jaeger; do
    [[ " $started " != *" $service "* ]] || fail "$service started although its image is not available here"
done

step "stack: a test packet, and the data plane's spans at the collector"
send_until_fulfilled "$PROJECT" "$ENV_FILE" 90 "${STACK_FILES[@]}"

sink="$(stack ps -q otlp-sink)"
dataplane_spans() {
    docker logs "$sink" 2>/dev/null | python3 -c '
import json, sys
spans = [s for s in map(str.strip, sys.stdin) if s.startswith("{")]
spans = [json.loads(s) for s in spans]
sys.exit(0 if any(s.get("service") == "dataplane" and s.get("name") == "ilp.forward" and s.get("traceId") for s in spans) else 1)'
}
wait_until 60 "an ilp.forward span from service dataplane at the otlp-sink" dataplane_spans
docker logs "$sink" 2>/dev/null | python3 -c '
import collections, json, sys
spans = [json.loads(s) for s in map(str.strip, sys.stdin) if s.startswith("{") and "traceId" in s]
count = collections.Counter(s.get("service") for s in spans)
names = sorted({s.get("name") for s in spans if s.get("service") == "dataplane"})
print("  spans received:", dict(count))
print("  dataplane span names:", ", ".join(names[:12]))'

step "stack: the packets' money is in TigerBeetle, and stays there across a kill -9 of the data plane"
stack_health_port="$(grep '^HEALTH_PORT=' "$ENV_FILE" | cut -d= -f2)"
sender_balance() {
    python3 - "$stack_health_port" <<'PY' 2>/dev/null
import json, sys, urllib.request
health = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=5))
assert health["ledger"]["kind"] == "tigerbeetle", health["ledger"]
print(next(p["balance"] for p in health["peers"] if p["id"] == "sender"))
PY
}
balance_moved() { [[ "$(sender_balance)" =~ ^[1-9][0-9]*$ ]]; }
wait_until 30 "the sender's balance, read from TigerBeetle, to show the test packets" balance_moved
before="$(sender_balance)"
log "  sender owes $before (read from TigerBeetle)"
# From the host, as a crash: `docker kill` would count as a stop and not be restarted.
victim="$(stack ps -q dataplane)"
old_restarts="$(docker inspect -f '{{.RestartCount}}' "$victim")"
kill -9 "$(docker inspect -f '{{.State.Pid}}' "$victim")"
dataplane_restarted() {
    [[ "$(docker inspect -f '{{.RestartCount}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$victim")" \
        == "$((old_restarts + 1)) running healthy" ]]
}
wait_until 120 "the data plane restarted by Docker and healthy" dataplane_restarted
same_balance_after_restart() { [[ "$(sender_balance)" == "$before" ]]; }
wait_until 60 "the restarted data plane to read the same balance from TigerBeetle" same_balance_after_restart
log "  after kill -9 and the restart: still $before"

step "stack: processes non-root, container logs JSON lines at INFO (no DEBUG)"
check_non_root "$(stack ps -q tigerbeetle)"
for service in controlplane dataplane discovery-server; do
    check_non_root "$(stack ps -q "$service")"
    check_json_logs "$service" "$(stack ps -q "$service")"
done

step "done"
