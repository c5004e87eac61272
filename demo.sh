#!/usr/bin/env bash
# The fleet demo on a fresh Debian machine with only the Rust toolchain: installs what is
# missing (mosquitto and the other peers, through .ci/install.sh), builds the mosquitto plugin
# and iotsec-cloud (release), then runs `iotsec-cloud demo` with the arguments given, e.g.
#   ./demo.sh --devices 1000 --format json
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/sbin/mosquitto ] && ! command -v mosquitto >/dev/null 2>&1; then
  echo "demo: mosquitto is missing; installing the peers (.ci/install.sh)" >&2
  .ci/install.sh
fi
cargo build --release --quiet -p iotsec-mosquitto-plugin -p iotsec-cloud
# Each device holds a broker connection and HTTPS connections: raise the descriptor limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "${CARGO_TARGET_DIR:-target}/release/iotsec-cloud" demo "$@"
