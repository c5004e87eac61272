#!/usr/bin/env bash
# Runs every test of the workspace. First installs what the tests need when it is missing
# (.ci/install.sh): the thumbv7em target, Debian packages for the real peers, a Python venv
# under target/venv for PyPI tools. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")"
.ci/install.sh
export PATH="$PWD/target/venv/bin:$PATH"
cargo test --workspace "$@"
