#!/usr/bin/env bash
# Semver discipline (RELEASING.md): once a crate has a release tag CRATE-vX.Y.Z, every CI run
# checks its public API against that release with cargo-semver-checks (installed here on first
# need: it takes minutes to build, so a repository without any release does not pay for it).
set -euo pipefail
cd "$(dirname "$0")/../.."
crates=(iotsec-pki iotsec-ota iotsec-sbom iotsec-mqtt-acl iotsec-attest)
tagged=()
for crate in "${crates[@]}"; do
  if [ -n "$(git tag --list "$crate-v*" | head -n 1)" ]; then
    tagged+=("$crate")
  fi
done
if [ ${#tagged[@]} -eq 0 ]; then
  echo "semver: no crate has a release tag yet (CRATE-vX.Y.Z): nothing to compare with"
  exit 0
fi
if ! cargo semver-checks --version >/dev/null 2>&1; then
  cargo install --locked --quiet cargo-semver-checks@0.51.0
fi
exec .ci/semver.sh "${tagged[@]}"
