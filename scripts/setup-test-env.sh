#!/usr/bin/env bash
# Install what the test suite needs, idempotently:
#  - Debian's minisign (the judge of ferry's signatures)
#  - .venv-test: a Python venv with pip, uv, huggingface_hub and transformers (judges of bundles),
#  - .venv-test/wheels: real setuptools/wheel wheels the local test index serves for sdist builds.
# Package downloads go through pip's and apt's own configuration.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v minisign >/dev/null 2>&1; then
  echo "setup: installing minisign (Debian package)" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq minisign >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv-test/bin/python ]; then
  echo "setup: creating .venv-test with $($PY --version)" >&2
  $PY -m venv .venv-test
fi
if ! .venv-test/bin/python -c "import huggingface_hub, transformers, uv, tokenizers" >/dev/null 2>&1; then
  echo "setup: installing pip, uv, huggingface_hub, transformers into .venv-test" >&2
  .venv-test/bin/python -m pip install -q --upgrade pip
  .venv-test/bin/python -m pip install -q uv huggingface_hub transformers setuptools wheel
fi
# pylock.toml judges: pip 26.1 or later reads PEP 751 locks; cyclonedx-python-lib validates SBOMs.
if ! .venv-test/bin/python -c "import sys, pip; sys.exit(tuple(map(int, pip.__version__.split('.')[:2])) < (26, 1))" >/dev/null 2>&1; then
  echo "setup: upgrading pip in .venv-test (26.1+ reads pylock.toml)" >&2
  .venv-test/bin/python -m pip install -q --upgrade "pip>=26.1"
fi
if ! .venv-test/bin/python -c "import cyclonedx.validation.json, jsonschema" >/dev/null 2>&1; then
  echo "setup: installing cyclonedx-python-lib[json-validation] into .venv-test (the SBOM judge)" >&2
  .venv-test/bin/python -m pip install -q "cyclonedx-python-lib[json-validation]"
fi
if ! ls .venv-test/wheels/setuptools-*.whl >/dev/null 2>&1; then
  .venv-test/bin/python -m pip download -q --no-deps --only-binary :all: -d .venv-test/wheels setuptools wheel
fi
echo "setup: ok ($(minisign -v 2>&1 | head -1); $(.venv-test/bin/python -c 'import huggingface_hub as h; print("huggingface_hub", h.__version__)'))" >&2
