#!/usr/bin/env bash
# The five library crates' API docs build without warnings (broken intra-doc links, bare URLs,
# unescaped brackets): every public item is documented (the missing_docs lint) and its docs
# must render as written.
#
# Two builds per crate:
# - as a user's `cargo doc` renders them (default features);
# - as docs.rs renders them ([package.metadata.docs.rs]: all features, `--cfg docsrs`), which
#   turns on `feature(doc_cfg)` so every feature-gated item is labelled with its feature.
#   doc_cfg is a nightly feature (it absorbed doc_auto_cfg); RUSTC_BOOTSTRAP lets the stable
#   toolchain render it as docs.rs's nightly does, without installing a second toolchain.
set -euo pipefail
cd "$(dirname "$0")/../.."
crates=(iotsec-pki iotsec-ota iotsec-sbom iotsec-mqtt-acl iotsec-attest)
flags="-D warnings -D rustdoc::broken_intra_doc_links"
for crate in "${crates[@]}"; do
  RUSTDOCFLAGS="$flags" cargo doc --quiet --no-deps -p "$crate"
  RUSTC_BOOTSTRAP=1 RUSTDOCFLAGS="$flags --cfg docsrs" cargo doc --quiet --no-deps -p "$crate" --all-features
  echo "docs: $crate documents without warnings (default features, and as on docs.rs)"
done
