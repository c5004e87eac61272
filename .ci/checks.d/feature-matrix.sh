#!/usr/bin/env bash
# Every cargo feature of each listed crate builds on its own (with --no-default-features), and
# so does the crate with none: a feature that only compiles beside another is a defect a user
# finds first. cargo-hack is not installed; the features come from `cargo metadata`.
# Usage: feature-matrix.sh [CRATE...]   (default: the crates in CRATES below)
set -euo pipefail
cd "$(dirname "$0")/../.."
CRATES=("$@")
if [ ${#CRATES[@]} -eq 0 ]; then
  CRATES=(iotsec-pki iotsec-ota iotsec-sbom iotsec-mqtt-acl iotsec-attest)
fi
metadata=$(cargo metadata --no-deps --format-version 1)
for crate in "${CRATES[@]}"; do
  features=$(printf '%s' "$metadata" | python3 -c '
import json, sys
name = sys.argv[1]
pkg = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == name)
print("\n".join(sorted(f for f in pkg["features"] if f != "default")))
' "$crate")
  for f in "" $features; do
    echo "feature-matrix: $crate --features '$f'"
    # A warning (dead code behind a feature, say) fails the check as clippy's -D warnings would.
    if ! out=$(cargo check --quiet --message-format short -p "$crate" --no-default-features \
      --features "$f" --lib 2>&1) || grep -q "warning\|error" <<<"$out"; then
      printf '%s\n' "$out"
      echo "feature-matrix: $crate --features '$f' fails" >&2
      exit 1
    fi
  done
done
echo "feature-matrix: every feature of ${CRATES[*]} builds on its own"
