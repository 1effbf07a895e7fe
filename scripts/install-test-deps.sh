#!/usr/bin/env bash
# Installs what the test suite needs from Debian's packages: iptables and
# iproute2 for the transparent-interception tests in network namespaces,
# tcpdump for the test that captures proxy-to-proxy traffic on the wire,
# prometheus for the test that scrapes a running mesh with a real one,
# chromium (and playwright-core from npm, pinned by its lock file) for the
# dashboard's browser test.
# Tests that need them check for them and fail loudly when absent.
set -euo pipefail

need=()
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

browser="$(dirname "$0")/../crates/cli/tests/browser"
if [ ! -d "$browser/node_modules/playwright-core" ] && command -v npm >/dev/null 2>&1; then
  npm ci --prefix "$browser" --no-audit --no-fund --silent \
    || echo "install-test-deps: npm ci failed; the dashboard's browser test will fail and say so" >&2
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing ${need[*]} and not root; the tests that need them will fail and say so" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
echo "install-test-deps: installed ${need[*]}"
