#!/usr/bin/env bash
# Usage: init-env.sh EXAMPLE OUT [--force]
#
# Writes OUT from EXAMPLE with every value "generate-me" replaced by a fresh random secret
# (32 bytes from /dev/urandom, hex), readable by the owner only (0600). Refuses to overwrite
# OUT unless --force: replacing live secrets breaks every link that uses them.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 || ( $# -eq 3 && "$3" != "--force" ) ]]; then
    echo "usage: $0 EXAMPLE OUT [--force]" >&2
    exit 2
fi
example="$1"
out="$2"
if [[ ! -r "$example" ]]; then
    echo "$example: cannot read" >&2
    exit 1
fi
if [[ -e "$out" && "${3:-}" != "--force" ]]; then
    echo "$out exists; keeping it (pass --force to replace it and every secret in it)" >&2
    exit 1
fi

random_hex() {
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}

tmp="$(mktemp "$(dirname "$out")/.env.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
chmod 0600 "$tmp"
generated=0
while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=generate-me$ ]]; then
        printf '%s=%s\n' "${BASH_REMATCH[1]}" "$(random_hex)"
        generated=$((generated + 1))
    else
        printf '%s\n' "$line"
    fi
done <"$example" >"$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out ($generated secrets generated, mode 0600)"
