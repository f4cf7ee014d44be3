#!/usr/bin/env bash
# What building with TigerBeetle needs, from registries only, cached between runs.
#
#   eval "$(deploy/tigerbeetle/toolchain.sh env)"     # ZIG_PATH, LIBCLANG_PATH, BINDGEN_EXTRA_CLANG_ARGS
#   deploy/tigerbeetle/toolchain.sh server            # prints the path of a built tigerbeetle server
#
# The server is TigerBeetle 0.16.78, whose source ships inside the crates.io crate
# tigerbeetle-unofficial-sys (the client the data plane's `tigerbeetle` feature uses, so client
# and server always match). Zig 0.14.1 and libclang 18 come from PyPI. Everything lands in
# $ILP_CACHE (default ~/.cache/ilp-connector); a second run costs nothing. Measured on 2 cores:
# the server takes 4-5 minutes to build, the toolchain one minute to download.
set -euo pipefail

RELEASE=0.16.78
# The release's commit: the build refuses to run outside a git checkout without one.
COMMIT=c3d9b09dc88e94dde9ac915c6e94a4c650332080
SYS_CRATE="tigerbeetle-unofficial-sys-0.14.28+${RELEASE}"
CACHE="${ILP_CACHE:-$HOME/.cache/ilp-connector}"
VENV="$CACHE/zig-venv"
SERVER="$CACHE/tigerbeetle-$RELEASE/tigerbeetle"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"

log() { echo "toolchain.sh: $*" >&2; }

site_packages() {
    "$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
}

ensure_venv() {
    if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import ziglang, clang' 2>/dev/null; then
        return
    fi
    log "installing ziglang==0.14.1 and libclang==18.1.1 into $VENV"
    mkdir -p "$CACHE"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q ziglang==0.14.1 libclang==18.1.1 >&2
}

print_env() {
    ensure_venv
    local site
    site="$(site_packages)"
    echo "export ZIG_PATH='$site/ziglang/zig'"
    echo "export LIBCLANG_PATH='$site/clang/native'"
    # Without it bindgen cannot find stddef.h.
    echo "export BINDGEN_EXTRA_CLANG_ARGS='-isystem $site/ziglang/lib/include'"
    # The client's build script builds Zig's debug mode whenever cargo's profile has debug info
    # (ours keep line tables): a debug client fills every released 1 MiB message buffer, 15 %
    # of the data plane's CPU under load in a profile. The release client, always.
    echo "export TB_CLIENT_DEBUG=false"
}

sys_crate_source() {
    (cd "$ROOT" && cargo fetch -q) >&2
    local found
    found="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$SYS_CRATE" 2>/dev/null | head -1)"
    if [[ -z "$found" || ! -d "$found/tigerbeetle" ]]; then
        log "cannot find $SYS_CRATE in the cargo registry after cargo fetch"
        exit 1
    fi
    echo "$found/tigerbeetle"
}

build_server() {
    if [[ -x "$SERVER" ]]; then
        echo "$SERVER"
        return
    fi
    ensure_venv
    local source zig
    source="$(sys_crate_source)"
    zig="$(site_packages)/ziglang/zig"
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
    local work="$WORK"
    # Never build inside the cargo registry: a copy.
    cp -a "$source" "$work/tigerbeetle"
    log "building the TigerBeetle $RELEASE server (4-5 minutes on 2 cores)"
    (cd "$work/tigerbeetle" && "$zig" build -Drelease -Dgit-commit="$COMMIT" \
        -Dconfig-release="$RELEASE" -Dconfig-release-client-min=0.16.4) >&2
    mkdir -p "$(dirname "$SERVER")"
    cp "$work/tigerbeetle/zig-out/bin/tigerbeetle" "$SERVER.tmp"
    mv "$SERVER.tmp" "$SERVER"
    echo "$SERVER"
}

case "${1:-}" in
    env) print_env ;;
    server) build_server ;;
    *)
        echo "usage: $0 env|server" >&2
        exit 2
        ;;
esac
