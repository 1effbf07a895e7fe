#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, integration and end-to-end
# tests. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
# A one-off build (CI's fresh clone) gains nothing from incremental data,
# which doubles target/ and slows that build; set it to 1 to keep it.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

scripts/install-test-deps.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Build the binaries the process-level tests start.
cargo build --workspace --bins --locked
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  # nextest does not run doctests.
  cargo test --workspace --doc --locked
else
  cargo test --workspace --locked --no-fail-fast
fi
