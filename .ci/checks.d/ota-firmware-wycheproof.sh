#!/usr/bin/env bash
# iotsec-ota: runs Wycheproof's ECDSA P-256 P1363 and Ed25519 vectors through the device's
# verifier on an emulated Cortex-M4 (QEMU mps2-an386, examples/firmware-verify's
# `firmware-wycheproof`), once per backend: RustCrypto `p256` (feature es256) and `p256-cm4`
# (feature es256-cm4) for ES256, `ed25519-dalek`'s verify_strict for EdDSA. Every verdict must
# equal Wycheproof's expected result, which is also the host's verdict on every vector (iotsec-ota
# tests/signature_vectors.rs, wycheproof_*_every_case), so the backends decide alike, vector by
# vector. `salty`, a Cortex-M-optimised Ed25519, is run as a candidate: its verdicts and timer
# ticks are reported, and a difference is a finding, not a failure (it is not the crate's verifier).
#
# Without qemu-system-arm the check skips loudly, or fails with CI=true; without ../shared/data it
# skips loudly.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
data="$repo/../shared/data/wycheproof"

if ! command -v qemu-system-arm >/dev/null; then
  if [ "${CI:-}" = true ]; then
    echo "ota-firmware-wycheproof: FAIL: qemu-system-arm is not installed (.ci/apt-packages.txt)" >&2
    exit 1
  fi
  echo "ota-firmware-wycheproof: SKIPPED: qemu-system-arm is not installed" >&2
  exit 0
fi
if [ ! -d "$data" ]; then
  echo "ota-firmware-wycheproof: SKIPPED: $data is absent (../shared/data)" >&2
  exit 0
fi

export CARGO_TARGET_DIR="$repo/target/firmware-qemu"
work="$CARGO_TARGET_DIR/wycheproof"
rm -rf "$work"
mkdir -p "$work"

# $work/$1.bin for the firmware (algorithm u8, then records key_len u8 | key | sig_len u8 | sig |
# msg_len u16 LE | msg) from Wycheproof file $2 (key field $3, algorithm tag $4), and $work/$1.txt
# with the expected verdicts, one character per vector.
pack() {
  python3 - "$data/$2" "$work/$1.bin" "$3" "$4" >"$work/$1.txt" <<'PY'
import json, struct, sys
doc = json.load(open(sys.argv[1]))
packed, expected = bytearray([int(sys.argv[4])]), []
for group in doc["testGroups"]:
    key = bytes.fromhex(group["publicKey"][sys.argv[3]])
    for test in group["tests"]:
        sig, msg = bytes.fromhex(test["sig"]), bytes.fromhex(test["msg"])
        packed += bytes([len(key)]) + key + bytes([len(sig)]) + sig + struct.pack("<H", len(msg)) + msg
        expected.append({"valid": "1", "invalid": "0"}[test["result"]])
open(sys.argv[2], "wb").write(packed)
print("".join(expected))
PY
}
pack es256 ecdsa_secp256r1_sha256_p1363_test.json uncompressed 0
pack eddsa ed25519_test.json pk 1

failures=0 passed=0
# $1 = vectors (es256|eddsa), $2 = firmware features; $3 = "measure" when a mismatch is a finding
# to report (a candidate backend), not a failure.
run() {
  local elf="$work/firmware-wycheproof-${2//,/-}.elf" code=0 got want total
  (cd examples/firmware-verify &&
    cargo build --quiet --release --target thumbv7em-none-eabihf --no-default-features \
      --features "qemu,$2" --bin firmware-wycheproof)
  cp "$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/firmware-wycheproof" "$elf"
  # See examples/firmware-verify/qemu-ldm-fixup.py (one UNPREDICTABLE LDM.W in p256-cm4).
  python3 examples/firmware-verify/qemu-ldm-fixup.py "$elf" >/dev/null
  cp "$work/$1.bin" "$work/vectors.bin"
  (cd "$work" && timeout 600 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=0 -kernel "$elf" \
    </dev/null >"out-$1-${2//,/-}.txt" 2>&1) || code=$?
  got=$(head -1 "$work/out-$1-${2//,/-}.txt")
  want=$(head -1 "$work/$1.txt")
  total=${#want}
  local summary
  summary=$(tail -1 "$work/out-$1-${2//,/-}.txt")
  if [ "$code" -ne 0 ]; then
    echo "ota-firmware-wycheproof: FAIL: $1 with $2: exit $code: $summary" >&2
    failures=$((failures + 1))
  elif [ "$got" != "$want" ]; then
    local diff
    diff=$(python3 -c 'import sys; g, w = sys.argv[1], sys.argv[2]; print(" ".join(f"{i}:{a}/{b}" for i, (a, b) in enumerate(zip(g, w)) if a != b))' "$got" "$want")
    if [ "${3:-}" = measure ]; then
      echo "ota-firmware-wycheproof: $1 with $2 (candidate): differs from the expected verdicts at vector:got/want $diff ($summary)"
    else
      echo "ota-firmware-wycheproof: FAIL: $1 with $2: verdicts differ at vector:got/want $diff" >&2
      failures=$((failures + 1))
    fi
  else
    echo "ota-firmware-wycheproof: $1 with $2 on Cortex-M4: $total of $total verdicts as expected ($summary)"
    [ "${3:-}" = measure ] || passed=$((passed + 1))
  fi
}

run es256 es256,sha2-compact
run es256 es256-cm4,sha2-compact
run eddsa ed25519,sha2-compact
run eddsa ed25519,sha2-compact,bench-salty measure
echo "ota-firmware-wycheproof: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
