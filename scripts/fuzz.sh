#!/usr/bin/env bash
# Runs vigil's coverage-guided fuzz targets (fuzz/fuzz_targets) with
# cargo-fuzz and libFuzzer, one target after the other, each for SECONDS
# seconds (default 600). Installs cargo-fuzz the first time. Each run first
# replays the target's seed corpus (fuzz/corpus/<target>, kept in git) and
# what earlier runs found (fuzz/grown/<target>, not kept), then mutates;
# new inputs go to fuzz/grown/<target>, a crashing or hanging input to
# fuzz/artifacts/<target>/ and the whole output to fuzz/logs/<target>.log.
# Prints per target the runs, coverage, corpus size and whether it crashed,
# and exits non-zero if any target crashed, hung or could not run.
#
#   scripts/fuzz.sh                 # every target, 10 minutes each
#   scripts/fuzz.sh 20              # the CI pass: replay the seeds, fuzz briefly
#   scripts/fuzz.sh 600 config      # one target
#
# cargo-fuzz passes nightly-only flags to rustc (sanitizer coverage);
# RUSTC_BOOTSTRAP=1 makes the stable toolchain accept them. Targets are
# built without a sanitizer, since vigil forbids unsafe code and the runs
# hunt panics, overflows and hangs; VIGIL_FUZZ_SANITIZER=address turns
# AddressSanitizer on for the dependencies' unsafe code.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo_fuzz_version=0.13.2
seconds=${1:-600}
shift || true
sanitizer=${VIGIL_FUZZ_SANITIZER:-none}
root=$(pwd)/fuzz
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version > /dev/null 2>&1; then
  echo "installing cargo-fuzz $cargo_fuzz_version" >&2
  cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build --sanitizer "$sanitizer"

# The last libFuzzer status line ("#N DONE cov: … ft: … corp: N/SIZE …").
status_field() {
  local line=$1 name=$2
  awk -v name="$name" '{ for (i = 1; i < NF; i++) if ($i == name) print $(i + 1) }' <<< "$line"
}

failed=0
summary=()
for target in "${targets[@]}"; do
  grown=$root/grown/$target
  log=$root/logs/$target.log
  mkdir -p "$grown" "$root/logs" "$root/artifacts/$target"
  dict=()
  if [ -f "$root/dict/$target.dict" ]; then
    dict=("-dict=$root/dict/$target.dict")
  fi

  echo "fuzzing $target for ${seconds}s" >&2
  outcome=ok
  cargo fuzz run --sanitizer "$sanitizer" "$target" "$grown" "$root/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 "${dict[@]}" \
    > "$log" 2>&1 || outcome=failed

  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  runs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$log" | tail -n 1)
  runs=${runs:-$(cut -d' ' -f1 <<< "$last" | tr -d '#')}
  line="$target: ${runs:-0} runs, cov $(status_field "$last" cov:), ft $(status_field "$last" ft:)"
  line+=", corpus $(status_field "$last" corp:)"
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  if [ -n "$artifact" ]; then
    failed=1
    line+=", CRASHED: $artifact"
    grep -A 3 -E 'panicked at|ERROR: libFuzzer' "$log" | head -n 20 >&2 || true
  elif [ "$outcome" = failed ]; then
    failed=1
    line+=", did not run: see $log"
    tail -n 20 "$log" >&2
  else
    line+=", no crash"
  fi
  echo "$line" >&2
  summary+=("$line")
done

printf '%s\n' "${summary[@]}"
exit "$failed"
