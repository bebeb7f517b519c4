#!/usr/bin/env bash
# Measures vigil on Kafka against the broker's own limit, on this machine:
#  1. throughput: generated events (with attacks) on a 3-partition topic,
#     read once by a drain-only librdkafka consumer and once by `vigil run`;
#     prints both rates (first message to last) and their ratio;
#  2. latency: events published at a steady rate while `vigil run`
#     consumes them; prints produce-to-incident p50/p99/p99.9, once with the
#     incidents read back from their topic (two trips through the broker)
#     and once as vigil writes them (one trip), beside the broker's own
#     produce-to-consume latency.
# Starts its own broker (installing tansu if missing) and stops it after.
#
#   scripts/bench-kafka.sh [USERS] [DAYS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."

users=${1:-400}
days=${2:-14}
rate=${3:-500}
port=${VIGIL_BENCH_KAFKA_PORT:-19192}

cargo build --release --quiet --examples --bin vigil
vigil=target/release/vigil
work=$(mktemp -d)
broker_dir=$work/broker
trap 'scripts/kafka-broker.sh stop "$broker_dir"; rm -rf "$work"' EXIT
# Alert emails of the generated attacks stay in the scratch folder.
export VIGIL_EMAIL_OUTBOX_DIR="$work/outbox"
brokers=$(scripts/kafka-broker.sh start "$broker_dir" "$port")

"$vigil" gen --users "$users" --days "$days" --seed 1 --attacks > "$work/events.jsonl" 2>/dev/null
total=$(grep -c . "$work/events.jsonl")
echo "events: $total"
scripts/kafka-broker.sh topic "$broker_dir" bench-events 3
"$vigil" produce --brokers "$brokers" --topic bench-events --input "$work/events.jsonl"

drain=$(target/release/examples/kafka_drain "$brokers" bench-events "$total")
echo "$drain"
drain_rate=$(echo "$drain" | awk '{ print $(NF-1) }')

cat > "$work/vigil.toml" <<TOML
[kafka]
brokers = "$brokers"
topics = ["bench-events"]
group_id = "bench-vigil"
dead_letter_topic = ""
incidents_topic = "bench-incidents"
[kafka.properties]
"fetch.wait.max.ms" = "10"
TOML
scripts/kafka-broker.sh topic "$broker_dir" bench-incidents 1
"$vigil" run --config "$work/vigil.toml" --incidents /dev/null --idle-exit-secs 10 \
  2> "$work/run.log"
grep -E '^records' "$work/run.log"
vigil_rate=$(awk '/Kafka input ended/ {
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^messages=/) { split($i, m, "="); n = m[2] }
      if ($i ~ /^active_secs=/) { split($i, s, "="); t = s[2] }
    }
  } END { printf "%.0f", n / t }' "$work/run.log")
echo "vigil run: $vigil_rate events/s (first message to last)"
awk -v d="$drain_rate" -v v="$vigil_rate" \
  'BEGIN { printf "vigil / drain-only consumer: %.2f\n", v / d }'

echo "latency at $rate events/s:"
scripts/kafka-broker.sh topic "$broker_dir" latency-events 3
scripts/kafka-broker.sh topic "$broker_dir" latency-incidents 1
# For latency, the consumer asks the broker to answer a fetch at once
# rather than wait up to 10 ms for more data to batch.
sed -e 's/bench-events/latency-events/; s/bench-incidents/latency-incidents/' \
  -e 's/bench-vigil/latency-vigil/' \
  -e 's/"fetch.wait.max.ms" = "10"/"fetch.wait.max.ms" = "1"/' \
  "$work/vigil.toml" > "$work/latency.toml"
"$vigil" run --config "$work/latency.toml" --incidents /dev/null --idle-exit-secs 30 \
  2> "$work/latency.log" &
vigil_pid=$!
for _ in $(seq 300); do
  grep -q "Partitions assigned" "$work/latency.log" && break
  sleep 0.1
done
target/release/examples/kafka_latency "$brokers" latency-events latency-incidents "$rate" 20
kill -TERM "$vigil_pid"
wait "$vigil_pid"

# The same without the incidents topic's trip back through the broker:
# vigil writes incidents to a FIFO the latency client reads.
echo "latency at $rate events/s, incidents as vigil writes them:"
scripts/kafka-broker.sh topic "$broker_dir" written-events 3
sed -e 's/latency-events/written-events/; s/latency-vigil/written-vigil/' \
  "$work/latency.toml" > "$work/written.toml"
mkfifo "$work/incidents.fifo"
"$vigil" run --config "$work/written.toml" --incidents "$work/incidents.fifo" \
  --idle-exit-secs 30 2> "$work/written.log" &
vigil_pid=$!
target/release/examples/kafka_latency "$brokers" written-events - "$rate" 20 \
  < "$work/incidents.fifo"
kill -TERM "$vigil_pid"
wait "$vigil_pid" || true
