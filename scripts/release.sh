#!/usr/bin/env bash
# Build the ferry binary that runs on old offline hosts: x86_64 Linux with glibc 2.17 or newer
# (RHEL/CentOS 7 and everything since), stripped, then check what it needs.
#
#   scripts/release.sh            -> dist/ferry-VERSION-x86_64-linux-glibc2.17 (+ .sha256)
#
# Tools come from the package registries through their ordinary clients and stay inside this repo's
# .tools/ folder: cargo-zigbuild (crates.io, `cargo install`) and the zig toolchain (the Python package
# `ziglang`, `pip install`) which links against glibc 2.17's symbol versions. Nothing is installed
# system-wide. Checks: the highest GLIBC_x.y symbol version the binary needs is <= 2.17 (objdump -T,
# readelf as fallback) and its size is below MAX_MB (default 40).
set -euo pipefail
cd "$(dirname "$0")/.."

GLIBC=${GLIBC:-2.17}
TRIPLE=x86_64-unknown-linux-gnu
MAX_MB=${MAX_MB:-40}
TOOLS=${TOOLS:-$PWD/.tools}
mkdir -p "$TOOLS/bin" dist

# cargo-zigbuild from crates.io, into .tools/.
if [ ! -x "$TOOLS/bin/cargo-zigbuild" ]; then
    echo "release: installing cargo-zigbuild into $TOOLS" >&2
    cargo install --locked --root "$TOOLS" cargo-zigbuild
fi
# zig from the Python package index (package `ziglang`), in a venv under .tools/, behind a `zig` shim.
if [ ! -x "$TOOLS/zig-venv/bin/python" ]; then
    echo "release: installing ziglang into $TOOLS/zig-venv" >&2
    python3 -m venv "$TOOLS/zig-venv"
    "$TOOLS/zig-venv/bin/python" -m pip install --quiet ziglang
fi
cat > "$TOOLS/bin/zig" <<EOF
#!/bin/sh
exec "$TOOLS/zig-venv/bin/python" -m ziglang "\$@"
EOF
chmod +x "$TOOLS/bin/zig"
export PATH="$TOOLS/bin:$PATH"

# Release profile, stripped and without debug info (Cargo.toml's release profile keeps line tables
# for profiling; a shipped binary does not need them).
export CARGO_PROFILE_RELEASE_DEBUG=0
export CARGO_PROFILE_RELEASE_STRIP=symbols
export CARGO_PROFILE_RELEASE_LTO=thin
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=${CODEGEN_UNITS:-16}
echo "release: building ferry for $TRIPLE.$GLIBC" >&2
cargo zigbuild --release --locked --bin ferry --target "$TRIPLE.$GLIBC"

BIN=target/$TRIPLE/release/ferry
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
OUT=dist/ferry-$VERSION-x86_64-linux-glibc$GLIBC
cp "$BIN" "$OUT"

# The highest GLIBC symbol version the binary asks the dynamic loader for.
symbols() {
    if command -v objdump >/dev/null; then objdump -T "$1"; else readelf --dyn-syms --wide "$1"; fi
}
highest=$(symbols "$OUT" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n | uniq | tail -n1)
size=$(stat -c %s "$OUT")
echo "release: $OUT: $((size / 1024 / 1024)) MiB ($size bytes), highest GLIBC symbol version $highest" >&2
if [ "$(printf '%s\n%s\n' "$highest" "$GLIBC" | sort -t. -k1,1n -k2,2n -k3,3n | tail -n1)" != "$GLIBC" ]; then
    echo "release: FAIL: needs GLIBC_$highest, newer than $GLIBC" >&2
    exit 1
fi
if [ "$size" -gt $((MAX_MB * 1024 * 1024)) ]; then
    echo "release: FAIL: $size bytes is more than $MAX_MB MiB" >&2
    exit 1
fi
if file "$OUT" 2>/dev/null | grep -q 'not stripped'; then
    echo "release: FAIL: $OUT is not stripped" >&2
    exit 1
fi
"$OUT" --version >&2
(cd dist && sha256sum "$(basename "$OUT")" > "$(basename "$OUT").sha256")
echo "$OUT"
