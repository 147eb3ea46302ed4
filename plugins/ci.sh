#!/usr/bin/env bash
# CI for the placement plugins (issue 3), on a fresh Debian 12 machine as
# root: installs the toolchain from Debian's packages and crates.io,
# rebuilds every component of plugins/components/ from source and fails if
# any differs from the committed one. Idempotent; ≈5 min from scratch,
# ≈20 s when everything is installed and built.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

PKGS="rustc-web cargo-web rust-web-src lld-22 clang-14 lld-14 libclang-rt-14-dev-wasm32 wasi-libc ca-certificates"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "ci.sh: installing$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # rustc-web 1.96 and lld-22 come from bookworm-security.
  $SUDO apt-get install -y --no-install-recommends $missing \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends $missing; }
fi

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
bash "$HERE/build.sh" "$OUT"

status=0
for f in "$HERE"/components/*.wasm; do
  name="$(basename "$f")"
  if [ ! -f "$OUT/$name" ]; then
    echo "ci.sh: FAIL $name is committed but no longer built"; status=1
  elif ! cmp -s "$f" "$OUT/$name"; then
    echo "ci.sh: FAIL $name differs from a rebuild from source (run plugins/build.sh and commit)"; status=1
  else
    echo "ci.sh: ok   $name reproduces byte for byte"
  fi
done
for f in "$OUT"/*.wasm; do
  [ -f "$HERE/components/$(basename "$f")" ] || { echo "ci.sh: FAIL $(basename "$f") is built but not committed"; status=1; }
done
exit $status
