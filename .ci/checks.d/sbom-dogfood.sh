#!/usr/bin/env bash
# Dogfooding (iotsec-sbom): generate the CycloneDX SBOM of iotsec-cloud (it composes all five
# crates) with cargo-cyclonedx and gate it with our own CLI against the RustSec OSV database,
# under iotsec-sbom/dogfood-policy.toml and the VEX statements in iotsec-sbom/dogfood-vex.json.
# The verdict is explained in iotsec-sbom/README.md.
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

# The VEX says: rustls-webpki 0.102.8 is reached only through rumqttc 0.25.1, which names
# webpki::Error in one error variant and calls nothing of it. Check both claims on the sources
# this build uses, so the statements fail this check as soon as they stop being true.
vex=iotsec-sbom/dogfood-vex.json
if cargo tree -q -i rustls-webpki@0.102.8 --depth 1 --prefix none -e normal > "$out/webpki-0.102.txt" 2> /dev/null; then
  dependents=$(grep -v '^rustls-webpki ' "$out/webpki-0.102.txt" | sed 's/ (\*)$//' | sort -u | tr '\n' ' ')
  if [ "$dependents" != "rumqttc v0.25.1 " ]; then
    echo "sbom-dogfood: rustls-webpki 0.102.8 is now used by: $dependents; review $vex" >&2
    exit 1
  fi
  src=$(cargo metadata --format-version 1 --locked | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "rumqttc" and p["version"] == "0.25.1":
        print(p["manifest_path"].rsplit("/", 1)[0])')
  uses=$(grep -rn 'webpki' "$src/src" | grep -v 'WebPki(#\[from\] webpki::Error),' || true)
  if [ -z "$src" ] || [ -n "$uses" ]; then
    echo "sbom-dogfood: rumqttc 0.25.1 uses rustls-webpki 0.102 beyond its error type; review $vex:" >&2
    echo "$uses" >&2
    exit 1
  fi
  echo "sbom-dogfood: rustls-webpki 0.102.8 is reached only as rumqttc 0.25.1's error type (as $vex states)"
fi
cargo build --quiet -p iotsec-cloud
target/debug/iotsec-cloud --format json sbom gate \
  --sbom "$out/sbom.cdx.json" \
  --advisories ../shared/data/rustsec-osv \
  --policy iotsec-sbom/dogfood-policy.toml \
  --vex "$vex" \
  > "$out/decision.json" && status=0 || status=$?
target/debug/iotsec-cloud --format text sbom gate \
  --sbom "$out/sbom.cdx.json" \
  --advisories ../shared/data/rustsec-osv \
  --policy iotsec-sbom/dogfood-policy.toml \
  --vex "$vex" 2>/dev/null || true
echo "sbom-dogfood: verdict $(grep -o '"verdict":"[a-z]*"' "$out/decision.json"), exit $status (report: $out/decision.json)"
exit "$status"
