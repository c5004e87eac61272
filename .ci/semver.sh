#!/usr/bin/env bash
# Semver check of each crate's public API against its previous release (RELEASING.md).
# Run by .ci/checks.d/semver.sh for the crates that have a release tag (none yet: it then
# installs nothing and checks nothing). Each check builds the crate's rustdoc JSON twice
# (baseline and current) with every feature.
#
#   .ci/semver.sh [CRATE...]                 each crate against its newest tag CRATE-vX.Y.Z
#   SEMVER_BASELINE=REV .ci/semver.sh ...    against a commit instead (e.g. main, for a review)
#
# The required kind of release comes from the version change between the baseline and the
# working tree (0.1.x -> 0.2.0 may break the API; 0.1.0 -> 0.1.1 may not). A crate without a
# release tag has no earlier API to compare with: the first release is not checked (said so).
# Exit 0 all compatible (or nothing to compare), 1 a crate breaks semver, 2 the tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo semver-checks --version >/dev/null 2>&1; then
  echo "semver: cargo-semver-checks is not installed (cargo install --locked cargo-semver-checks)" >&2
  exit 2
fi
crates=("$@")
[ ${#crates[@]} -gt 0 ] || crates=(iotsec-pki iotsec-ota iotsec-sbom iotsec-mqtt-acl iotsec-attest)
status=0
for crate in "${crates[@]}"; do
  baseline="${SEMVER_BASELINE:-$(git tag --list "$crate-v*" --sort=-v:refname | head -n 1)}"
  if [ -z "$baseline" ]; then
    echo "semver: $crate: no release tag $crate-vX.Y.Z yet: first release, nothing to compare with"
    continue
  fi
  echo "semver: $crate against $baseline"
  cargo semver-checks check-release -p "$crate" --baseline-rev "$baseline" --all-features || status=1
done
exit "$status"
