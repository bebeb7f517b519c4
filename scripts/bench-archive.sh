#!/usr/bin/env bash
# Measures the archive: what archiving costs `vigil run` (events per
# second with and without `[archive]`, the median of five runs on about one
# million generated events), then how long a grouped count over about ten
# million archived events takes with `vigil query` (the median of three
# runs). Not run in CI: it needs a few minutes and about 2 GB of disk.
#
#   scripts/bench-archive.sh [--skip-cost] [--skip-query]
set -euo pipefail
cd "$(dirname "$0")/.."

skip_cost=false
skip_query=false
for arg in "$@"; do
  case $arg in
    --skip-cost) skip_cost=true ;;
    --skip-query) skip_query=true ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done

# The same build as scripts/bench-kafka.sh, so running one after the other
# does not rebuild the dependencies with other features.
cargo build --release --quiet --examples --bin vigil
vigil=$PWD/target/release/vigil
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=5

median() {
  sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

if ! $skip_cost; then
  echo "generating events..."
  "$vigil" gen --users 1000 --days 14 --seed 1 --attacks > "$work/events.jsonl" 2>/dev/null
  echo "events: $(wc -l < "$work/events.jsonl") lines, $(du -h "$work/events.jsonl" | cut -f1)"
  printf '[archive]\npath = "%s/archive"\nretention_days = 0\n' "$work" > "$work/archive.toml"

  rate() {
    "$vigil" run --input "$work/events.jsonl" --incidents /dev/null "$@" 2>&1 \
      | awk '/^elapsed/ { print $4 }'
  }
  # Runs alternate between the two settings so that drift in the
  # machine's load hits both alike.
  : > "$work/plain"
  : > "$work/archived"
  for _ in $(seq "$runs"); do
    rate >> "$work/plain"
    rm -rf "$work/archive"
    rate --config "$work/archive.toml" >> "$work/archived"
  done
  plain=$(median < "$work/plain")
  archived=$(median < "$work/archived")
  echo "without archive: $plain events/s (median of $runs runs: $(tr '\n' ' ' < "$work/plain"))"
  echo "with archive:    $archived events/s (median of $runs runs: $(tr '\n' ' ' < "$work/archived"))"
  awk -v a="$plain" -v b="$archived" 'BEGIN { printf "cost of archiving: %.1f%%\n", (a - b) / a * 100 }'
  echo "archive size: $(du -sh "$work/archive" | cut -f1)"
  rm -rf "$work/archive" "$work/events.jsonl"
fi

if ! $skip_query; then
  echo "archiving about ten million events (generated and piped straight into vigil run)..."
  printf '[archive]\npath = "%s/big"\nretention_days = 0\n' "$work" > "$work/big.toml"
  "$vigil" gen --users 10000 --days 16 --seed 2 2>/dev/null \
    | "$vigil" run --config "$work/big.toml" --input - --incidents /dev/null 2>&1 \
    | grep -E '^(records|elapsed|archive)'
  "$vigil" query --archive "$work/big" "SELECT count(*) AS events FROM events"
  echo "archive size: $(du -sh "$work/big" | cut -f1), files: $(find "$work/big" -name '*.parquet' | wc -l)"
  sql="SELECT event_type, count(*) AS n FROM events GROUP BY event_type ORDER BY n DESC"
  "$vigil" query --archive "$work/big" "$sql"
  for _ in 1 2 3; do
    start=$(date +%s.%N)
    "$vigil" query --archive "$work/big" "$sql" > /dev/null
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
  done > "$work/times"
  echo "grouped count over the events table: $(median < "$work/times") s" \
    "(median of 3 runs: $(tr '\n' ' ' < "$work/times"))"
fi
