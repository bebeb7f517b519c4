#!/usr/bin/env bash
# Runs vigil's whole test suite on a fresh machine: unit, property and
# integration tests, the shipped rule pack's checks and tests, and a smoke
# run of the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --all-targets --no-fail-fast
cargo run --quiet -- rules check rules/
cargo run --quiet -- rules test rules/
cargo run --quiet -- demo --users 120 --days 10 --out target/demo-smoke > target/demo-smoke.txt
grep -q "Injected attacks caught" target/demo-smoke.txt
echo "demo smoke run: ok"
