#!/usr/bin/env bash
# Builds every plugin component from source into plugins/components/:
#   spread.wasm binpack.wasm zone-spread.wasm   (Rust, wit-bindgen 0.61)
#   example-c-firstfit.wasm                     (C, wit-bindgen's C generator)
#
# Needs Debian 12 packages (plugins/ci.sh installs them):
#   rustc-web cargo-web rust-web-src lld-22 clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32
# The Rust guests use Debian's rustc-web (not rustup: its wasm32 targets
# cannot be downloaded here) with -Zbuild-std, so std is built from
# rust-web-src for wasm32-unknown-unknown. Output is deterministic: paths
# are remapped, codegen-units=1, no timestamps.
#
# Usage: plugins/build.sh [OUT_DIR]   (default: plugins/components)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:-$HERE/components}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# Debian's toolchain for this build only; the project's stays rustup's.
export PATH="/usr/bin:$PATH"
export CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc
unset RUSTUP_TOOLCHAIN RUSTC_WRAPPER RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$HERE/target"
export SOURCE_DATE_EPOCH=0
CARGO_HOME_DIR="${CARGO_HOME:-$HOME/.cargo}"
SYSROOT="$(/usr/bin/rustc --print sysroot)"
REMAP="--remap-path-prefix=$HERE=/twip/plugins --remap-path-prefix=$CARGO_HOME_DIR=/cargo --remap-path-prefix=$SYSROOT=/rust"

for t in /usr/bin/cargo /usr/bin/rustc /usr/bin/lld-22 /usr/bin/clang-14 /usr/bin/wasm-ld-14; do
  [ -x "$t" ] || { echo "build.sh: missing $t — install the Debian packages listed at the top of this script (plugins/ci.sh does)" >&2; exit 2; }
done
# rustc links wasm32 with `rust-lld -flavor wasm`; Debian ships LLVM's lld
# as lld-22 only, so give it that name on a private PATH entry.
LLD_DIR="$(mktemp -d)"
trap 'rm -rf "$LLD_DIR"' EXIT
ln -s /usr/bin/lld-22 "$LLD_DIR/rust-lld"
export PATH="$LLD_DIR:$PATH"
echo "build.sh: $(/usr/bin/rustc --version), $(/usr/bin/clang-14 --version | head -1)"

cd "$HERE"
# 1. The host-side tool (core module -> component, C bindings).
RUSTFLAGS="$REMAP" /usr/bin/cargo build --locked --release -q -p twip-wasm-tool
TOOL="$CARGO_TARGET_DIR/release/twip-wasm-tool"

# 2. Rust guests for wasm32-unknown-unknown, std built from source.
# LLVM's loop strength reduction is off for wasm32: it rewrites a loop's
# `base + constant` addresses into separate adds, where wasm loads carry a
# free constant offset (`i64.load offset=N`). With it on, the inner scan of
# every built-in has one extra add per load (BENCHMARKS.md, "Placement").
RUSTFLAGS="$REMAP -C llvm-args=-disable-lsr" /usr/bin/cargo build --locked --release -q \
  --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort \
  -p twip-policy-spread -p twip-policy-binpack -p twip-policy-zone-spread
for p in spread binpack zone-spread; do
  core="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/twip_policy_${p//-/_}.wasm"
  "$TOOL" component "$core" "$OUT/$p.wasm"
done

# 3. The C example: bindings from the WIT, clang-14 for wasm32, no libc I/O.
C_OUT="$CARGO_TARGET_DIR/c-example"
rm -rf "$C_OUT" && mkdir -p "$C_OUT"
"$TOOL" c-bindings "$HERE/wit" policy "$C_OUT"
/usr/bin/clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -nostartfiles \
  -ffile-prefix-map="$HERE"=/twip/plugins -ffile-prefix-map="$C_OUT"=/twip/c-out \
  -I "$C_OUT" -Wall -Wextra -Werror -Wno-unused-parameter \
  -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-all \
  -o "$C_OUT/firstfit.core.wasm" \
  "$HERE/c/firstfit.c" "$C_OUT/policy.c" "$C_OUT/policy_component_type.o"
"$TOOL" component "$C_OUT/firstfit.core.wasm" "$OUT/example-c-firstfit.wasm"

( cd "$OUT" && sha256sum spread.wasm binpack.wasm zone-spread.wasm example-c-firstfit.wasm )
