#!/usr/bin/env bash
# Measures the fuzz targets: runs each for MINUTES (decimals allowed), one at a time, and prints a
# Markdown table (also appended to target/run-all.md) with, per target, the executions, the
# executions per second, the coverage libFuzzer reports (edges `cov` and features `ft`), the
# corpus size and the findings (crash/leak/timeout/oom artifacts written during the run).
# Not part of CI (.ci/fuzz-smoke.sh is the CI smoke run); see FUZZING.md.
#
#   fuzz/run-all.sh MINUTES [TARGET...]     (default: every target of `cargo fuzz list`)
#
# FUZZ_BIN_DIR=DIR runs the already built binaries DIR/TARGET instead of building (useful when
# the build directory is shared and busy).
#
# Each target starts from its seed corpus (corpus/TARGET, read only) plus a scratch corpus in
# ../target/fuzz-corpus/TARGET that persists between runs, so repeated runs go deeper.
set -uo pipefail
cd "$(dirname "$0")"
minutes="${1:?usage: fuzz/run-all.sh MINUTES [TARGET...]}"
shift
seconds=$(awk -v m="$minutes" 'BEGIN { s = int(m * 60); if (s < 1) s = 1; print s }')
export RUSTC_BOOTSTRAP=1
targets=("$@")
bins="${FUZZ_BIN_DIR:-}"
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
if [ -n "$bins" ]; then
  for target in "${targets[@]}"; do
    [ -x "$bins/$target" ] || { echo "run-all: no $bins/$target" >&2; exit 2; }
  done
elif [ $# -eq 0 ]; then
  cargo fuzz build >&2 || { echo "run-all: cargo fuzz build failed" >&2; exit 2; }
else
  for target in "${targets[@]}"; do
    cargo fuzz build "$target" >&2 || { echo "run-all: cannot build $target" >&2; exit 2; }
  done
fi

mkdir -p target
table="target/run-all.md"
host="$(nproc) CPU, $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ)"
{
  echo
  echo "Run of ${minutes} min per target ($seconds s), $host, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'):"
  echo
  echo "| target | executions | exec/s | edges (cov) | features (ft) | corpus | findings |"
  echo "|---|---:|---:|---:|---:|---:|---|"
} | tee -a "$table"

for target in "${targets[@]}"; do
  scratch="../target/fuzz-corpus/$target"
  artifacts="artifacts/$target"
  mkdir -p "$scratch" "corpus/$target" "$artifacts"
  before=$(find "$artifacts" -type f | wc -l)
  log="target/run-all-$target.log"
  marker="target/run-all-$target.start"
  touch "$marker"
  flags=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1)
  if [ -n "$bins" ]; then
    "$bins/$target" -artifact_prefix="$artifacts/" "${flags[@]}" "$scratch" "corpus/$target" \
      >"$log" 2>&1
  else
    cargo fuzz run "$target" "$scratch" "corpus/$target" -- "${flags[@]}" >"$log" 2>&1
  fi
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  # The last status line: "#N  REDUCE cov: 1234 ft: 5678 corp: 90/12Kb ...".
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  after=$(find "$artifacts" -type f | wc -l)
  new=$((after - before))
  if [ "$new" -gt 0 ]; then
    findings="$new: $(find "$artifacts" -type f -newer "$marker" -printf '%f ' 2>/dev/null | head -c 200)"
  elif [ "$status" -ne 0 ]; then
    findings="exit $status, see fuzz/$log"
  else
    findings="none"
  fi
  echo "| $target | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $findings |" |
    tee -a "$table"
done
