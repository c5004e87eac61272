#!/usr/bin/env bash
# Dogfooding (iotsec-sbom): generate the CycloneDX SBOM of iotsec-cloud (it composes all five
# crates) with cargo-cyclonedx and gate it with our own CLI against the RustSec OSV database,
# under iotsec-sbom/dogfood-policy.toml. The verdict is explained in iotsec-sbom/README.md.
# Exit status: the gate's (0 pass/warn, 1 fail, 2 bad input).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/sbom-dogfood
mkdir -p "$out"
name=iotsec-dogfood-sbom
# cargo-cyclonedx writes one file next to every workspace member's Cargo.toml; keep iotsec-cloud's.
cargo cyclonedx --quiet --format json --spec-version 1.5 --override-filename "$name"
mv "examples/cloud/$name.json" "$out/sbom.cdx.json"
find . -path ./target -prune -o -name "$name.json" -type f -print0 | xargs -0 rm -f
cargo build --quiet -p iotsec-cloud
target/debug/iotsec-cloud --format json sbom gate \
  --sbom "$out/sbom.cdx.json" \
  --advisories ../shared/data/rustsec-osv \
  --policy iotsec-sbom/dogfood-policy.toml \
  > "$out/decision.json" && status=0 || status=$?
target/debug/iotsec-cloud --format text sbom gate \
  --sbom "$out/sbom.cdx.json" \
  --advisories ../shared/data/rustsec-osv \
  --policy iotsec-sbom/dogfood-policy.toml 2>/dev/null || true
echo "sbom-dogfood: verdict $(grep -o '"verdict":"[a-z]*"' "$out/decision.json"), exit $status (report: $out/decision.json)"
exit "$status"
