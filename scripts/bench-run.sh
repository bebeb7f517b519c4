#!/usr/bin/env bash
# Measures `vigil run` end to end (read, parse, profile, detect, incidents)
# on a generated file of about one million events, with one and two shards,
# the same with metrics served (their cost), and the profile memory per user
# on 100,000 users. Prints events per second (the median of five runs) and
# bytes per user.
set -euo pipefail
cd "$(dirname "$0")/.."

# The same build as scripts/bench-kafka.sh, so running one after the other
# does not rebuild the dependencies with other features.
cargo build --release --quiet --examples --bin vigil
vigil=target/release/vigil
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Alert emails of the generated attacks stay in the scratch folder.
export VIGIL_EMAIL_OUTBOX_DIR="$work/outbox"
runs=5

echo "generating events..."
"$vigil" gen --users 1000 --days 14 --seed 1 --attacks > "$work/events.jsonl" 2>/dev/null
echo "events: $(wc -l < "$work/events.jsonl") lines, $(du -h "$work/events.jsonl" | cut -f1)"

median_rate() {
  local shards=$1
  shift
  for _ in $(seq "$runs"); do
    "$vigil" run --shards "$shards" --input "$work/events.jsonl" --incidents /dev/null "$@" 2>&1 \
      | awk '/^elapsed/ { print $4 }'
  done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

one=$(median_rate 1)
two=$(median_rate 2)
echo "shards=1: $one events/s (median of $runs runs)"
echo "shards=2: $two events/s (median of $runs runs)"
awk -v a="$one" -v b="$two" 'BEGIN { printf "speed-up with 2 shards: %.2fx\n", b / a }'
served=$(median_rate 2 --listen 127.0.0.1:0)
echo "shards=2 with metrics served: $served events/s (median of $runs runs)"
awk -v a="$two" -v b="$served" 'BEGIN { printf "cost of metrics: %.1f%%\n", (a - b) / a * 100 }'

echo "memory on 100,000 users:"
"$vigil" gen --users 100000 --days 1 --seed 2 > "$work/users.jsonl" 2>/dev/null
"$vigil" run --shards 2 --input "$work/users.jsonl" --incidents /dev/null 2>&1 \
  | grep -E '^records|^elapsed|^peak'

echo "state snapshot of 100,000 users (written when the run ends):"
printf '[state]\ndir = "%s"\n' "$work/state" > "$work/state.toml"
"$vigil" run --shards 2 --config "$work/state.toml" --input "$work/users.jsonl" --incidents /dev/null 2>&1 \
  | grep -E 'State snapshot written' | sed 's/.*State snapshot written//'
TIMEFORMAT="resuming from it (load, empty input, write again): %R s"
time "$vigil" run --shards 2 --config "$work/state.toml" --input /dev/null --incidents /dev/null 2> /dev/null
