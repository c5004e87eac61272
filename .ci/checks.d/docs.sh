#!/usr/bin/env bash
# The five library crates' API docs build without warnings (broken intra-doc links, bare URLs,
# unescaped brackets): every public item is documented (the missing_docs lint) and its docs
# must render as written.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps \
  -p iotsec-pki -p iotsec-ota -p iotsec-sbom -p iotsec-mqtt-acl -p iotsec-attest \
  --features iotsec-attest/aws-lc
echo "docs: the five crates document without warnings"
