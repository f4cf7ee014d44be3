#!/usr/bin/env bash
# Builds the images from binaries compiled on this host (cargo build --release), through the
# runtime stages of deploy/docker/Dockerfile: for machines whose Docker cannot pull the Rust
# image (legacy builder, no registry). Tags ilp-connector/{runtime,dataplane,controlplane,
# discovery-server,tools,tigerbeetle}:$IMAGE_TAG (default: latest). The data plane must have
# been built with `--features dataplane/tigerbeetle`; the TigerBeetle server is
# $TIGERBEETLE_BIN, else what deploy/tigerbeetle/toolchain.sh server builds (cached).
#
# The host must run the same Debian release as the runtime image (bookworm): the binaries link
# its glibc. deploy/test/make-base-image.sh provides debian:bookworm-slim when it cannot be pulled.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tag="${IMAGE_TAG:-latest}"
release="${CARGO_TARGET_DIR:-$repo/target}/release"
binaries=(dataplane controlplane discovery-server ctl testpeer)
ca_bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

for b in "${binaries[@]}"; do
    if [[ ! -x "$release/$b" ]]; then
        echo "missing $release/$b: run cargo build --release --locked -p dataplane -p controlplane -p discovery-server -p ctl -p testpeer" >&2
        exit 1
    fi
done
if [[ ! -r "$ca_bundle" ]]; then
    echo "missing CA bundle $ca_bundle (apt-get install ca-certificates, or set CA_BUNDLE)" >&2
    exit 1
fi

ctx="$(mktemp -d /tmp/ilp-image-context.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT
mkdir "$ctx/bin"
# The same post-processing as the build stage, so image sizes match what users get.
for b in "${binaries[@]}"; do
    objcopy --compress-debug-sections=zlib "$release/$b" "$ctx/bin/$b"
done
# A static Zig binary: copied as it is.
cp "${TIGERBEETLE_BIN:-$("$repo/deploy/tigerbeetle/toolchain.sh" server)}" "$ctx/bin/tigerbeetle"
cp "$ca_bundle" "$ctx/ca-certificates.crt"
"$repo/deploy/test/derive-test-dockerfile.sh" "$repo/deploy/docker/Dockerfile" "$ctx/Dockerfile"

for target in runtime dataplane controlplane discovery-server tools tigerbeetle; do
    echo "building ilp-connector/$target:$tag"
    # The legacy builder's deprecation notice goes to stderr; show stderr only on failure.
    if ! docker build --quiet --force-rm -f "$ctx/Dockerfile" --target "$target" -t "ilp-connector/$target:$tag" "$ctx" \
        >/dev/null 2>"$ctx/build.err"; then
        cat "$ctx/build.err" >&2
        echo "docker build --target $target failed" >&2
        exit 1
    fi
done
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep "^ilp-connector/.*:$tag " || true
