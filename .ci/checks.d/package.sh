#!/usr/bin/env bash
# Each of the five crates packages and builds on its own, as crates.io would receive it:
# `cargo package` lists what goes in (include/exclude in each Cargo.toml), unpacks the .crate
# into target/package and builds it there with default features. A file outside the package
# (a test fixture in ../shared, an include_str! across the crate boundary) fails here.
# The crates are independent (none depends on another), so each packages without the others
# being published.
#
# Then the package's own tests, as a user runs them: `cargo test` in the unpacked .crate, with
# default features, outside the workspace (a copy in a temporary directory). Path
# dev-dependencies are dropped from a published manifest, so tests that need the repository's
# scaffolding are left out of the package (`!` entries in `include`) and tests of optional
# parts declare `required-features` (RELEASING.md lists both). CI is unset for that run: a
# user's `cargo test` skips a peer program that is not installed instead of failing, and the
# repository's own test run (with CI=true) is where every peer is required.
# Set PACKAGE_TESTS=0 to only package and build; PACKAGE_CRATES="iotsec-pki ..." for a subset.
set -euo pipefail
cd "$(dirname "$0")/../.."
meta="$(cargo metadata --format-version 1 --no-deps --locked)"
target_dir="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' <<<"$meta")"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for crate in ${PACKAGE_CRATES:-iotsec-pki iotsec-ota iotsec-sbom iotsec-mqtt-acl iotsec-attest}; do
  cargo package --quiet --locked -p "$crate" "$@"
  echo "package: $crate packages and builds from its .crate ($(cargo package --list -p "$crate" "$@" | wc -l) files)"
  [ "${PACKAGE_TESTS:-1}" = 0 ] && continue
  version="$(python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == sys.argv[1]))' "$crate" <<<"$meta")"
  tar -xzf "$target_dir/package/$crate-$version.crate" -C "$scratch"
  # A .crate stores every file with one fixed old mtime, and cargo judges freshness by mtime:
  # without this, a test binary built from an earlier package would be taken as up to date.
  find "$scratch/$crate-$version" -type f -exec touch {} +
  start=$SECONDS
  # Its own target dir, shared by the five packages (they share most dependencies).
  if ! (cd "$scratch/$crate-$version" && env -u CI CARGO_TARGET_DIR="$target_dir/package-tests" \
        cargo test --locked) >"$scratch/$crate.log" 2>&1; then
    cat "$scratch/$crate.log"
    echo "package: $crate's tests FAIL from its .crate" >&2
    exit 1
  fi
  passed="$(grep -oE '^test result: ok\. [0-9]+ passed' "$scratch/$crate.log" | awk '{n += $4} END {print n + 0}')"
  echo "package: $crate's tests pass from its .crate ($passed tests, $((SECONDS - start)) s)"
done
# On CI the package builds (~4 GB) are not used again; a developer keeps them for the next run.
if [ "${CI:-}" = true ]; then rm -rf "$target_dir/package-tests"; fi
