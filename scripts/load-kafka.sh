#!/usr/bin/env bash
# A long run at a steady rate from the broker: publishes generated events
# (with attacks) to a 3-partition topic at RATE events per second for
# SECONDS, while `vigil run` consumes them with snapshots every minute and
# its metrics listener on. Samples vigil's resident memory (RSS) every 30
# seconds, then checks that every published event was read and accounted
# for (processed, dropped as a duplicate or refused) and prints RSS at the
# start, the end and its peak. Not run in CI: it takes SECONDS plus about a
# minute. Starts its own broker (installing tansu if missing).
#
#   scripts/load-kafka.sh [RATE] [SECONDS]      (defaults: 2000 events/s, 600 s)
set -euo pipefail
cd "$(dirname "$0")/.."

rate=${1:-2000}
seconds=${2:-600}
port=${VIGIL_LOAD_KAFKA_PORT:-19292}
listen_port=${VIGIL_LOAD_LISTEN_PORT:-19898}
total=$((rate * seconds))

cargo build --release --quiet --examples --bin vigil
vigil=$PWD/target/release/vigil
work=$(mktemp -d)
broker_dir=$work/broker
vigil_pid=
cleanup() {
  if [ -n "$vigil_pid" ]; then kill "$vigil_pid" 2>/dev/null || true; fi
  scripts/kafka-broker.sh stop "$broker_dir"
  rm -rf "$work"
}
trap cleanup EXIT
export VIGIL_EMAIL_OUTBOX_DIR="$work/outbox"
brokers=$(scripts/kafka-broker.sh start "$broker_dir" "$port")
scripts/kafka-broker.sh topic "$broker_dir" load-events 3

# Enough generated days for the whole run; users are a fixed population,
# so once each has a profile, memory should stop growing.
users=2000
days=$(( total / (users * 50) + 2 ))
{ "$vigil" gen --users "$users" --days "$days" --seed 11 --attacks 2>/dev/null || true; } \
  | head -n "$total" > "$work/events.jsonl"
published=$(wc -l < "$work/events.jsonl")
echo "events to publish: $published ($users users, $days days) at $rate/s"

cat > "$work/vigil.toml" <<TOML
[kafka]
brokers = "$brokers"
topics = ["load-events"]
group_id = "load"
dead_letter_topic = ""
incidents_topic = ""
[state]
dir = "$work/state"
snapshot_interval_secs = 60
TOML

"$vigil" run --config "$work/vigil.toml" --listen "127.0.0.1:$listen_port" \
  --incidents "$work/incidents.jsonl" --dead-letter "$work/dead.jsonl" \
  2> "$work/vigil.log" &
vigil_pid=$!

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$vigil_pid/status"; }
processed() {
  curl -s "http://127.0.0.1:$listen_port/metrics" \
    | awk '/^vigil_events_processed_total/ { n += $2 } END { printf "%d\n", n }'
}

sleep 5
"$vigil" produce --brokers "$brokers" --topic load-events --rate "$rate" \
  --input "$work/events.jsonl" 2> "$work/produce.log" &
producer_pid=$!

: > "$work/rss"
start=$(date +%s)
while kill -0 "$producer_pid" 2>/dev/null; do
  sleep 30
  now=$(( $(date +%s) - start ))
  rss=$(rss_kib)
  echo "$now $rss" >> "$work/rss"
  echo "t=${now}s  rss=$((rss / 1024)) MiB  processed=$(processed)"
done
wait "$producer_pid"
cat "$work/produce.log"

# Let vigil catch up with the last events, then stop it cleanly.
for _ in $(seq 60); do
  [ "$(processed)" -ge "$published" ] && break
  sleep 1
done
end_rss=$(rss_kib)
kill -TERM "$vigil_pid"
wait "$vigil_pid"
vigil_pid=
grep -E '^records|rejected' "$work/vigil.log" || true

summary=$(grep -E '^records' "$work/vigil.log")
records=$(echo "$summary" | awk '{ print $2 }')
events=$(echo "$summary" | awk '{ print $4 }')
duplicates=$(echo "$summary" | awk '{ print $6 }')
rejected=$(echo "$summary" | awk '{ print $8 }')
first_rss=$(head -1 "$work/rss" | awk '{ print $2 }')
peak_rss=$(sort -k2 -n "$work/rss" | tail -1 | awk '{ print $2 }')
echo "RSS: $((first_rss / 1024)) MiB after 30 s, $((end_rss / 1024)) MiB at the end," \
  "peak $((peak_rss / 1024)) MiB (samples every 30 s: $(awk '{ printf "%d ", $2 / 1024 }' "$work/rss")MiB)"
echo "published $published, read $records: events $events + duplicates $duplicates + rejected $rejected"
if [ "$records" -ne "$published" ] || [ $((events + duplicates + rejected)) -ne "$published" ]; then
  echo "LOST EVENTS: read or accounted for fewer than published" >&2
  exit 1
fi
echo "no events lost"
