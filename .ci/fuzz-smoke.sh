#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each briefly from its seed corpus (default 10 s each).
# Long fuzzing belongs elsewhere: `cd fuzz && cargo fuzz run TARGET` on a developer machine.
# Works on a stable toolchain: RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags (stable ships
# the sanitizer runtimes).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-10}"
export RUSTC_BOOTSTRAP=1
if ! compgen -G 'fuzz_targets/*.rs' >/dev/null; then
  echo "fuzz: no targets yet"
  exit 0
fi
cargo fuzz build
for target in $(cargo fuzz list); do
  scratch="../target/fuzz-corpus/$target"
  mkdir -p "$scratch" "corpus/$target"
  echo "fuzz: $target for ${seconds}s"
  cargo fuzz run "$target" "$scratch" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 3
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: $target failed"; exit 1; }
done
