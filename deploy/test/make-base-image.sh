#!/usr/bin/env bash
# Builds a local stand-in for debian:bookworm-slim from Debian's own packages.
# Machines without access to a container registry cannot pull the base image the
# Dockerfile names, so we debootstrap the same release and import it under that tag.
# Idempotent: does nothing when the tag already exists (pass --force to rebuild).
set -euo pipefail

TAG="${BASE_IMAGE_TAG:-debian:bookworm-slim}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [[ "${1:-}" != "--force" ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "base image $TAG already present"
    exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "installing debootstrap"
    apt-get install -y --no-install-recommends debootstrap >/dev/null \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends debootstrap >/dev/null; }
fi

ROOTFS="$(mktemp -d /tmp/bookworm-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT

echo "debootstrap bookworm (minbase) into $ROOTFS"
timeout 900 debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >/dev/null

# The official slim image drops docs, man pages, locales and apt caches; do the same
# so the size of images built on this stand-in is comparable.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
    "$ROOTFS"/usr/share/locale/* "$ROOTFS"/var/log/*.log "$ROOTFS"/var/cache/debconf/*-old \
    "$ROOTFS"/tmp/* "$ROOTFS"/debootstrap

tar -C "$ROOTFS" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$TAG" >/dev/null
docker image ls "$TAG"
