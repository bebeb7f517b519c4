#!/usr/bin/env bash
# Measures `vigil run` end to end on a generated file of about one million
# events with one and two shards, and the profile memory per user on
# 100,000 users. Prints events per second and bytes per user.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
vigil=target/release/vigil
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "generating events..."
"$vigil" gen --users 2000 --days 14 --seed 1 --attacks > "$work/events.jsonl"
echo "events: $(wc -l < "$work/events.jsonl") lines, $(du -h "$work/events.jsonl" | cut -f1)"

for shards in 1 2; do
  for run in 1 2 3; do
    "$vigil" run --shards "$shards" --input "$work/events.jsonl" --incidents /dev/null 2>&1 \
      | grep -E '^elapsed' | sed "s/^/shards=$shards run=$run: /"
  done
done

echo "memory on 100,000 users:"
"$vigil" gen --users 100000 --days 1 --seed 2 > "$work/users.jsonl"
"$vigil" run --shards 2 --input "$work/users.jsonl" --incidents /dev/null 2>&1 | grep -E '^records|^elapsed|peak'
