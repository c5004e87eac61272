#!/usr/bin/env bash
# A user's view of the five crates: a project outside the workspace (in a temporary directory)
# depends on each crate by path and builds, once with its default features, once with
# `default-features = false`, and for each device feature set of .ci/nostd-builds.txt for
# thumbv7em-none-eabihf. Outside the workspace nothing is inherited: no feature unification with
# the examples, no workspace lints, no [patch]; a crate that only builds because a sibling
# enables a feature of a shared dependency fails here.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Share the workspace's build cache for registry dependencies; the scratch project's own lock
# starts from the workspace's, so the same dependency versions are built.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

# consumer NAME CRATE DEP_SPEC [cargo build args...]
consumer() {
  local name=$1 crate=$2 spec=$3
  shift 3
  local dir="$scratch/$name"
  mkdir -p "$dir/src"
  cat >"$dir/Cargo.toml" <<TOML
[package]
name = "scratch-$name"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
$crate = { path = "$root/$crate"$spec }

[workspace]
TOML
  printf '#![no_std]\npub use %s;\n' "${crate//-/_}" >"$dir/src/lib.rs"
  cp "$root/Cargo.lock" "$dir/Cargo.lock"
  (cd "$dir" && cargo build --quiet "$@")
  echo "scratch-consumer: $crate${spec:- (default features)} ${*:-(host)}: builds"
}

for crate in iotsec-pki iotsec-ota iotsec-sbom iotsec-mqtt-acl iotsec-attest; do
  consumer "$crate-default" "$crate" ""
  consumer "$crate-bare" "$crate" ", default-features = false"
done

n=0
while read -r crate features; do
  [ -n "$crate" ] || continue
  n=$((n + 1))
  spec=", default-features = false"
  [ -n "${features:-}" ] && spec="$spec, features = [\"${features//,/\", \"}\"]"
  consumer "device-$n" "$crate" "$spec" --target thumbv7em-none-eabihf
done < <(grep -vE '^[[:space:]]*(#|$)' .ci/nostd-builds.txt)
