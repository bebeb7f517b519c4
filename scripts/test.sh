#!/usr/bin/env bash
# Runs vigil's whole test suite on a fresh machine: starts a Kafka-protocol
# broker and an SMTP server on 127.0.0.1 (installing them the first time),
# then runs the unit, property and integration tests, the shipped rule
# pack's checks and tests, the checks of the Prometheus, Grafana and compose
# files (installing promtool and docker-compose the first time), a smoke
# run of the demo, and a short pass of every fuzz target (installing
# cargo-fuzz the first time). The archive's HTML report is rendered in headless
# Chromium, installed the first time (VIGIL_SKIP_BROWSER_TESTS=1 skips that
# test instead). The broker and the SMTP server are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

broker_dir=target/test-broker
broker_port=${VIGIL_TEST_KAFKA_PORT:-19092}
smtp_dir=target/test-smtp
export VIGIL_TEST_SMTP_PORT=${VIGIL_TEST_SMTP_PORT:-12525}
scripts/kafka-broker.sh stop "$broker_dir"
scripts/smtp-server.sh stop "$smtp_dir"
rm -rf "$broker_dir" "$smtp_dir"
trap 'scripts/kafka-broker.sh stop "$broker_dir"; scripts/smtp-server.sh stop "$smtp_dir"' EXIT
export VIGIL_TEST_KAFKA_BROKERS
VIGIL_TEST_KAFKA_BROKERS=$(scripts/kafka-broker.sh start "$broker_dir" "$broker_port")
export VIGIL_TEST_SMTP_MAILDIR
VIGIL_TEST_SMTP_MAILDIR=$(scripts/smtp-server.sh start "$smtp_dir" "$VIGIL_TEST_SMTP_PORT")

if [ "${VIGIL_SKIP_BROWSER_TESTS:-}" != 1 ] && [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
fi

# Also installs the Prometheus server the end-to-end metrics test scrapes with.
scripts/check-configs.sh
cargo test --all-targets --no-fail-fast
cargo run --quiet -- rules check rules/
cargo run --quiet -- rules test rules/
cargo run --quiet -- demo --users 120 --days 10 --out target/demo-smoke > target/demo-smoke.txt
grep -q "Injected attacks caught" target/demo-smoke.txt
echo "demo smoke run: ok"
target/debug/vigil audit verify target/demo-smoke/audit.jsonl

# Replays each fuzz target's seed corpus, then fuzzes it for 20 seconds.
scripts/fuzz.sh 20
