#!/usr/bin/env bash
# Usage: derive-test-dockerfile.sh DOCKERFILE OUT
#
# Writes OUT: DOCKERFILE with its first stage (`FROM rust:... AS build`, the Rust toolchain)
# replaced by a stage of the same name that copies binaries compiled on the host into the same
# paths (/out/bin/*, /out/ca-certificates.crt). Everything from the second FROM on is kept byte
# for byte, so the images built from OUT are the runtime images users build, minus the compile.
#
# The legacy builder (no BuildKit) runs every stage before the target and cannot pull the
# rust image here; this is how tests build the real runtime stages anyway. The build context
# for OUT must hold bin/<binary> and ca-certificates.crt (build-test-images.sh prepares it).
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 DOCKERFILE OUT" >&2
    exit 2
fi
src="$1"
out="$2"

mapfile -t from_lines < <(grep -n '^FROM ' "$src" | cut -d: -f1)
if [[ ${#from_lines[@]} -lt 2 ]]; then
    echo "$src: expected a build stage followed by runtime stages, found ${#from_lines[@]} FROM lines" >&2
    exit 1
fi
first="${from_lines[0]}"
second="${from_lines[1]}"
first_line="$(sed -n "${first}p" "$src")"
if ! [[ "$first_line" =~ ^FROM\ rust:[^[:space:]]+\ AS\ build$ ]]; then
    echo "$src:$first: the first stage must be 'FROM rust:<tag> AS build', found: $first_line" >&2
    exit 1
fi
build_stage="$(sed -n "${first},$((second - 1))p" "$src")"
# The replacement provides exactly what the runtime stages copy from the build stage; if the
# build stage stops producing these paths, the derivation must be revisited.
for contract in '/out/bin/' '/out/ca-certificates.crt'; do
    if ! grep -qF -- "$contract" <<<"$build_stage"; then
        echo "$src: the build stage no longer mentions $contract; update $0" >&2
        exit 1
    fi
done
if [[ "$(grep -c ' AS build$' "$src")" -ne 1 ]]; then
    echo "$src: more than one stage named build" >&2
    exit 1
fi
used="$(sed -n "${second},\$p" "$src" | awk '$1 == "COPY" && $2 == "--from=build" { for (i = 3; i < NF; i++) print $i }' | sort -u)"
for path in $used; do
    case "$path" in
        /out/bin/* | /out/ca-certificates.crt) ;;
        *)
            echo "$src: a runtime stage copies $path from the build stage, which the test stage does not provide" >&2
            exit 1
            ;;
    esac
done

{
    echo "# Derived from $src by $(basename "$0"): only the build stage differs."
    echo "FROM scratch AS build"
    echo "COPY bin/ /out/bin/"
    echo "COPY ca-certificates.crt /out/ca-certificates.crt"
    echo
    sed -n "${second},\$p" "$src"
} >"$out"

# Final check: everything after the replaced stage is identical to the original.
orig_tail="$(sed -n "${second},\$p" "$src" | sha256sum)"
new_second="$(grep -n '^FROM ' "$out" | sed -n 2p | cut -d: -f1)"
new_tail="$(sed -n "${new_second},\$p" "$out" | sha256sum)"
if [[ "$orig_tail" != "$new_tail" ]]; then
    echo "derived Dockerfile differs from $src after the build stage" >&2
    exit 1
fi
