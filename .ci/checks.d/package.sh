#!/usr/bin/env bash
# Each of the five crates packages and builds on its own, as crates.io would receive it:
# `cargo package` lists what goes in (include/exclude in each Cargo.toml), unpacks the .crate
# into target/package and builds it there with default features. A file outside the package
# (a test fixture in ../shared, an include_str! across the crate boundary) fails here.
# The crates are independent (none depends on another), so each packages without the others
# being published.
set -euo pipefail
cd "$(dirname "$0")/../.."
for crate in iotsec-pki iotsec-ota iotsec-sbom iotsec-mqtt-acl iotsec-attest; do
  cargo package --quiet --locked -p "$crate" "$@"
  echo "package: $crate packages and builds from its .crate ($(cargo package --list -p "$crate" "$@" | wc -l) files)"
done
