#!/usr/bin/env bash
# Run every ```sh runnable block of README.md and docs/ (guide, bundle and lock formats) against a local
# package index and hub, exactly as written, and check that no document links outside the repository.
# The same test runs in the whole suite (scripts/test.sh); this runs it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --test docs_commands -- --test-threads=1 "$@"
