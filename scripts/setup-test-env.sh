#!/usr/bin/env bash
# Install what the test suite needs, idempotently:
#  - Debian's minisign (the judge of ferry's signatures); nginx, docker-registry, skopeo, aria2, opentracker
#    (the judges of serve --export, push/pull and torrents)
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

# Intranet judges (tests/serve.rs, tests/oci.rs, tests/torrent.rs): nginx serves `serve --export`, the CNCF
# distribution registry and skopeo judge push/pull, aria2c and opentracker judge the torrents.
missing=""
for pair in nginx:nginx docker-registry:docker-registry skopeo:skopeo aria2c:aria2 opentracker:opentracker; do
  tool=${pair%%:*}; pkg=${pair##*:}
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ] && [ ! -x "/usr/bin/$tool" ]; then
    missing="$missing $pkg"
  fi
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing (Debian packages)" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  # No service is started: the tests run each tool themselves on 127.0.0.1.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
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
# bcrypt writes the htpasswd file of the registry that asks for credentials, cryptography signs the tokens of
# the registry that asks for a bearer token (tests/oci.rs, tests/support/token_server.py).
if ! .venv-test/bin/python -c "import bcrypt, cryptography" >/dev/null 2>&1; then
  echo "setup: installing bcrypt and cryptography into .venv-test (registry auth tests)" >&2
  .venv-test/bin/python -m pip install -q bcrypt cryptography
fi
if ! ls .venv-test/wheels/setuptools-*.whl >/dev/null 2>&1; then
  .venv-test/bin/python -m pip download -q --no-deps --only-binary :all: -d .venv-test/wheels setuptools wheel
fi
echo "setup: ok ($(minisign -v 2>&1 | head -1); $(.venv-test/bin/python -c 'import huggingface_hub as h; print("huggingface_hub", h.__version__)'))" >&2
