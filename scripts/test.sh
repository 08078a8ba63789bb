#!/usr/bin/env bash
# The whole test suite: set up the judges (minisign, pip, uv, huggingface_hub), then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
export PATH="$PWD/.venv-test/bin:$PATH"
# Two cores: keep test threads bounded; servers in tests bind 127.0.0.1:0.
cargo test --locked --all-targets -- --test-threads="${FERRY_TEST_THREADS:-4}"
