#!/usr/bin/env bash
# ferry's main job, end to end, on a fresh machine: build ferry, make a signing key, bundle the
# quickstart manifest (resolved for its target through your configured package index: pip.conf,
# PIP_INDEX_URL, or pip's default), verify the signed bundle and show what it holds.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --bin ferry
FERRY=target/debug/ferry
OUT=${OUT:-quickstart-out}
mkdir -p "$OUT"
[ -f "$OUT/ferry.key" ] || $FERRY keygen -s "$OUT/ferry.key" -p "$OUT/ferry.pub" --unencrypted
$FERRY bundle manifests/quickstart.yaml -s "$OUT/ferry.key" -o "$OUT/quickstart.ferry.tar" --force
$FERRY verify "$OUT/quickstart.ferry.tar" -p "$OUT/ferry.pub"
$FERRY inspect "$OUT/quickstart.ferry.tar"
