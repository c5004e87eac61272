#!/usr/bin/env bash
# iotsec-ota: runs the device verifier as firmware on an emulated Cortex-M4 (QEMU mps2-an386,
# examples/firmware-verify's `firmware-qemu` binary) against inputs signed by the real signer
# (`iotsec-cloud ota keygen / root init / sign`), for the Ed25519 and the ES256 builds, and
# asserts exact verdicts (the semihosting exit code and the reason it prints), each one also
# checked against the host verifier (`iotsec-cloud ota verify`). Then reports instruction
# counts. Then the same for the MCUboot path (`--features mcuboot`): images signed by
# `iotsec-cloud ota mcuboot sign` with the test keys of iotsec-ota/tests/fixtures/mcuboot, each
# refusal checked against `iotsec-cloud ota mcuboot verify`. In between, iotsec-ota's own SHA-256
# (`sha256-m4`, `firmware-sha256`) hashes the image and prefixes across the padding boundaries in
# odd-sized pieces: every digest must equal the host's (Python hashlib). Under `-icount shift=0` virtual time advances 1 ns per guest instruction and the
# board's timer ticks at 25 MHz, so one tick is 40 instructions (instructions, not cycles).
#
# Without qemu-system-arm the check skips loudly, or fails with CI=true.
# IOTSEC_CLOUD=path uses an already built `iotsec-cloud` instead of building it.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

if ! command -v qemu-system-arm >/dev/null; then
  if [ "${CI:-}" = true ]; then
    echo "ota-firmware-qemu: FAIL: qemu-system-arm is not installed (.ci/apt-packages.txt)" >&2
    exit 1
  fi
  echo "ota-firmware-qemu: SKIPPED: qemu-system-arm is not installed (apt-get install qemu-system-arm)" >&2
  exit 0
fi

cloud=${IOTSEC_CLOUD:-}
if [ -z "$cloud" ]; then
  cargo build --quiet -p iotsec-cloud --bin iotsec-cloud
  cloud="$repo/target/debug/iotsec-cloud"
fi

export CARGO_TARGET_DIR="$repo/target/firmware-qemu"
work="$CARGO_TARGET_DIR/run"
rm -rf "$work"
mkdir -p "$work"
readonly VENDOR=11111111-1111-1111-1111-111111111111 CLASS=22222222-2222-2222-2222-222222222222
readonly IMAGE_BYTES=$((256 * 1024)) TICK_INSNS=40
failures=0 passed=0

fail() {
  echo "ota-firmware-qemu: FAIL: $*" >&2
  failures=$((failures + 1))
}

build() { # $1 = opt-level, $2 = feature; prints the path of a copy of the ELF
  (cd examples/firmware-verify &&
    CARGO_PROFILE_RELEASE_OPT_LEVEL="$1" cargo build --quiet --release \
      --target thumbv7em-none-eabihf --no-default-features --features "qemu,$2" --bin firmware-qemu)
  local elf="$work/firmware-$2-O$1.elf"
  cp "$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/firmware-qemu" "$elf"
  qemu_fixup "$elf" "$2"
  echo "$elf"
}

# QEMU faults on the one UNPREDICTABLE single-register LDM.W in p256-cm4's assembly, which
# Cortex-M4 silicon executes as a load (see examples/firmware-verify/qemu-ldm-fixup.py): the QEMU
# copy of a `*-cm4` build gets it rewritten to the equivalent LDR.W, exactly once.
qemu_fixup() { # $1 = ELF, $2 = feature
  local rewritten want=0
  [[ "$2" != *cm4* ]] || want=1
  rewritten=$(python3 examples/firmware-verify/qemu-ldm-fixup.py "$1")
  if [ "$rewritten" != "$want" ]; then
    echo "ota-firmware-qemu: FAIL: $1: rewrote $rewritten single-register LDM.W, want $want" >&2
    exit 1
  fi
}

flip_byte() { # $1 = file, $2 = offset (negative: from the end); flips the byte's lowest bit
  local size offset byte
  size=$(stat -c %s "$1")
  offset=$2
  [ "$offset" -ge 0 ] || offset=$((size + offset))
  byte=$(od -An -tu1 -j "$offset" -N1 "$1" | tr -d ' ')
  # shellcheck disable=SC2059 # the format is the octal escape of the new byte
  printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$1" bs=1 seek="$offset" conv=notrunc status=none
}

# Runs QEMU in case directory $1 (root.cbor, manifest.cbor, image.bin) with firmware $2;
# leaves its output in $1/qemu.out and prints its exit code.
run_qemu() {
  local code=0
  (cd "$1" && timeout 300 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=0 -kernel "$2" </dev/null >qemu.out 2>&1) ||
    code=$?
  echo "$code"
}

phase() { # $1 = qemu.out, $2 = phase, $3 = ticks|stack; prints the phase's ticks or stack bytes
  awk -v p="$2" -v f="$3" '$1 == "ticks" && $2 == p { print (f == "ticks" ? $3 : $5) }' "$1"
}

# Signed inputs for algorithm $1 in $work/$1: keys, trust root (1-of-1 roles), image, and
# manifests with security counter 3 (the device's) and 2 (a rollback).
sign_inputs() {
  local dir="$work/$1"
  mkdir -p "$dir"
  "$cloud" ota keygen --alg "$1" --out "$dir/root-key.json" >/dev/null
  "$cloud" ota keygen --alg "$1" --out "$dir/release-key.json" >/dev/null
  "$cloud" ota root init --root-key "$dir/root-key.json" --root-threshold 1 \
    --release-key "$dir/release-key.json" --release-threshold 1 \
    --sign "$dir/root-key.json" --out "$dir/root.cbor" >/dev/null
  # Deterministic, non-repeating content (the hash cost does not depend on it).
  head -c "$IMAGE_BYTES" <(seq 1 1000000) >"$dir/image.bin"
  local counter
  for counter in 3 2; do
    "$cloud" ota sign --vendor "$VENDOR" --class "$CLASS" --version 1.2.0 \
      --security-counter "$counter" --sequence 11 --image "app=$dir/image.bin" \
      --key "$dir/release-key.json" --out "$dir/manifest-counter$counter.cbor" >/dev/null
  done
  cat >"$dir/state.json" <<EOF
{"vendor_id": "$VENDOR", "class_id": "$CLASS", "device_id": "mcu-0001", "security_counter": 3,
 "last_sequence": 10, "trusted_root_version": 1, "slot_capacity": $IMAGE_BYTES}
EOF
}

# Case $2 for algorithm $1: a directory with the three inputs, altered as the case says.
make_case() {
  local src="$work/$1" dir="$work/$1/$2"
  mkdir -p "$dir"
  cp "$src/root.cbor" "$src/image.bin" "$dir/"
  cp "$src/manifest-counter3.cbor" "$dir/manifest.cbor"
  case "$2" in
  good) ;;
  image-byte) flip_byte "$dir/image.bin" 100000 ;;
  image-short) truncate -s -1 "$dir/image.bin" ;;
  # The last bytes of a COSE_Sign document are its last signature's.
  manifest-signature) flip_byte "$dir/manifest.cbor" -1 ;;
  rollback) cp "$src/manifest-counter2.cbor" "$dir/manifest.cbor" ;;
  # Root and manifest signed with the algorithm this build leaves out.
  other-algorithm)
    local other=es256
    [ "$1" = ed25519 ] || other=ed25519
    cp "$work/$other/root.cbor" "$work/$other/manifest-counter3.cbor" "$dir/"
    mv "$dir/manifest-counter3.cbor" "$dir/manifest.cbor"
    ;;
  no-image) rm "$dir/image.bin" ;;
  *) return 1 ;;
  esac
  echo "$dir"
}

# Whether the host verifier (`iotsec-cloud ota verify`, JSON) agrees on the same inputs: exit 0
# for "accepted", else exit 1 and its output contains $3 (the refusal's code: the firmware's
# reasons are the same stable codes).
host_agrees() { # $1 = algorithm, $2 = case dir, $3 = expected ("-": no host run)
  local out code=0
  [ "$3" != - ] || return 0
  out=$("$cloud" --format json ota verify --root "$2/root.cbor" --manifest "$2/manifest.cbor" \
    --state "$work/$1/state.json" --image "$2/image.bin" </dev/null) || code=$?
  if [ "$3" = accepted ]; then
    [ "$code" -eq 0 ] && grep -qF '"valid":true' <<<"$out"
  else
    [ "$code" -eq 1 ] && grep -qF "$3" <<<"$out"
  fi || {
    echo "host verifier: exit $code: $out" >&2
    return 1
  }
}

# case, expected exit code and reason of the firmware, expected host verifier output (~ is a
# space).
cases='good 0 accepted accepted
image-byte 22 image_digest_mismatch "code":"image_digest_mismatch"
image-short 21 image_too_short "code":"image_too_short"
manifest-signature 10 bad_signature "code":"bad_signature"
rollback 13 rollback "code":"rollback"
other-algorithm 2 unsupported_algorithm -
no-image 1 input -'

for alg in ed25519 es256; do
  sign_inputs "$alg"
done
# Builds (cargo features): the Ed25519 path, the ES256 path on RustCrypto, and the ES256 path on
# the Cortex-M4 backend (`es256-cm4`), each with the compact SHA-2 rounds of the size build, at
# opt-levels s, 3 and z; then, at "s" only, the other SHA-256 implementations (sha2's unrolled
# rounds, `hmac-sha256`, iotsec-ota's own `sha256-m4`, the firmware's default). All must reach the
# same verdicts on the same signed inputs.
for build in ed25519,sha2-compact es256,sha2-compact es256-cm4,sha2-compact \
  es256-cm4 es256-cm4,hmac-sha256 ed25519,sha2-compact,sha256-m4 es256-cm4,sha2-compact,sha256-m4; do
  alg=${build%%,*}
  alg=${alg%-cm4}
  opts="s 3 z"
  [[ "$build" == *sha2-compact ]] || opts=s
  [[ "$build" != *hmac-sha256 ]] || opts=s
  for opt in $opts; do
    elf=$(build "$opt" "$build")
    while read -r name want_code want_reason want_host; do
      want_host=${want_host//\~/ }
      # opt-levels 3 and "z" are only measured, on the good case.
      [ "$opt" = s ] || [ "$name" = good ] || continue
      dir=$(make_case "$alg" "$name")
      code=$(run_qemu "$dir" "$elf")
      reason=$(awk '$1 == "verdict" { print $3 }' "$dir/qemu.out")
      if [ "$code" != "$want_code" ] || [ "$reason" != "$want_reason" ]; then
        fail "$build O$opt $name: exit $code ($reason), want $want_code ($want_reason); output:"
        cat "$dir/qemu.out" >&2
      elif ! host_agrees "$alg" "$dir" "$want_host"; then
        fail "$build $name: the host verifier does not say $want_host"
      else
        passed=$((passed + 1))
        host="host verifier agrees"
        [ "$want_host" != - ] || host="no host run"
        echo "ota-firmware-qemu: $build opt-level=$opt $name: exit $code ($reason), $host"
      fi
      if [ "$name" = good ] && [ "$code" = 0 ]; then
        out="$dir/qemu.out"
        calibration=$(awk '$1 == "calibration" { print $2, $5 }' "$out")
        read -r cal_insns cal_ticks <<<"$calibration"
        # The calibration loop runs a known instruction count; the timer must agree to
        # within a few ticks (the reads around it), or the counts below mean nothing.
        if [ $((cal_ticks * TICK_INSNS - cal_insns)) -lt -80 ] ||
          [ $((cal_ticks * TICK_INSNS - cal_insns)) -gt 200 ]; then
          fail "calibration: $cal_insns instructions took $cal_ticks ticks"
        fi
        root=$(($(phase "$out" root ticks) * TICK_INSNS))
        manifest=$(($(phase "$out" manifest ticks) * TICK_INSNS))
        image=$(($(phase "$out" image ticks) * TICK_INSNS))
        echo "ota-firmware-qemu: $build opt-level=$opt instructions (QEMU -icount, ±$TICK_INSNS):" \
          "trust root $root, manifest verify $manifest," \
          "image SHA-256 $image for $IMAGE_BYTES bytes = $((image * 1024 / IMAGE_BYTES)) per KiB;" \
          "peak stack bytes: trust root $(phase "$out" root stack)," \
          "manifest $(phase "$out" manifest stack), image $(phase "$out" image stack)"
      fi
    done <<<"$cases"
  done
done

# --- SHA-256 alone: iotsec-ota's hasher with `sha256-m4` (firmware-sha256, 256-byte chunks) ---
# The digest of the whole image and of prefixes fed in pieces of 1, 7 and 61 bytes (the padding
# boundaries) must equal the host's (Python hashlib).
sha_dir="$work/sha256"
mkdir -p "$sha_dir"
cp "$work/ed25519/image.bin" "$sha_dir/image.bin"
(cd examples/firmware-verify &&
  cargo build --quiet --release --target thumbv7em-none-eabihf --no-default-features \
    --features qemu,bench-iotsec-ota,sha2-compact,sha256-m4 --bin firmware-sha256)
sha_elf="$sha_dir/firmware-sha256.elf"
cp "$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/firmware-sha256" "$sha_elf"
code=$(run_qemu "$sha_dir" "$sha_elf")
want=$(python3 - "$sha_dir/image.bin" <<'PY'
import hashlib, sys
image = open(sys.argv[1], "rb").read()
print(f"sha256 bytes {len(image)} digest {hashlib.sha256(image).hexdigest()}")
for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 1000, 4097):
    for piece in (1, 7, 61):
        print(f"prefix {n} piece {piece} digest {hashlib.sha256(image[:n]).hexdigest()}")
PY
)
got=$(sed -E 's/ ticks [0-9]+//' "$sha_dir/qemu.out")
if [ "$code" != 0 ] || [ "$got" != "$want" ]; then
  fail "sha256-m4 on Cortex-M4: exit $code, digests differ from the host's:"
  diff <(echo "$want") <(echo "$got") >&2 || true
else
  passed=$((passed + 1))
  ticks=$(awk '$1 == "sha256" { print $5 }' "$sha_dir/qemu.out")
  echo "ota-firmware-qemu: sha256-m4 on Cortex-M4: $(echo "$want" | wc -l) digests equal the host's;" \
    "instructions (QEMU -icount, ±$TICK_INSNS) $((ticks * TICK_INSNS)) for $IMAGE_BYTES bytes =" \
    "$((ticks * TICK_INSNS * 1024 / IMAGE_BYTES)) per KiB"
fi

# --- MCUboot images (Ed25519 build, opt-level "s" measured with 3 and "z" for comparison) ---
fixtures="$repo/iotsec-ota/tests/fixtures/mcuboot"
mcuboot="$work/mcuboot"
mkdir -p "$mcuboot"
head -c "$IMAGE_BYTES" <(seq 1 1000000) >"$mcuboot/payload.bin"
mcuboot_sign() { # $1 = key name, $2 = security counter, $3 = output
  "$cloud" ota mcuboot sign -k "$fixtures/$1.pem" -v 1.2.0 -s "$2" -H 0x20 --pad-header \
    -S $((IMAGE_BYTES + 8192)) "$mcuboot/payload.bin" "$3" >/dev/null
}
mcuboot_sign ed25519 3 "$mcuboot/image-counter3.bin"
mcuboot_sign ed25519 2 "$mcuboot/image-counter2.bin"
mcuboot_sign p256 3 "$mcuboot/image-p256.bin"
grep -v -- ----- "$fixtures/ed25519.pub.pem" | base64 -d >"$mcuboot/key.der"

mcuboot_case() { # $1 = case; prints the case directory
  local dir="$mcuboot/$1"
  mkdir -p "$dir"
  cp "$mcuboot/key.der" "$dir/"
  cp "$mcuboot/image-counter3.bin" "$dir/image.bin"
  case "$1" in
  good) ;;
  payload-byte) flip_byte "$dir/image.bin" 100000 ;;
  # The last bytes of the image are its Ed25519 signature's.
  signature) flip_byte "$dir/image.bin" -1 ;;
  other-key) cp "$mcuboot/image-p256.bin" "$dir/image.bin" ;;
  rollback) cp "$mcuboot/image-counter2.bin" "$dir/image.bin" ;;
  trailing-byte) printf '\0' >>"$dir/image.bin" ;;
  *) return 1 ;;
  esac
  echo "$dir"
}

mcuboot_host_agrees() { # $1 = case dir, $2 = expected ("-": no host run)
  local out code=0
  [ "$2" != - ] || return 0
  out=$("$cloud" --format json ota mcuboot verify --key "$fixtures/ed25519.pub.pem" "$1/image.bin" </dev/null) || code=$?
  if [ "$2" = accepted ]; then
    [ "$code" -eq 0 ] && grep -qF '"valid":true' <<<"$out"
  else
    [ "$code" -eq 1 ] && grep -qF "$2" <<<"$out"
  fi || {
    echo "host verifier: exit $code: $out" >&2
    return 1
  }
}

# The rollback case verifies on the host (the counter is the device's decision).
mcuboot_cases='good 0 accepted accepted
payload-byte 30 mcuboot_hash_mismatch "code":"mcuboot_hash_mismatch"
signature 31 mcuboot_bad_signature "code":"mcuboot_bad_signature"
other-key 32 mcuboot_algorithm_mismatch "code":"mcuboot_algorithm_mismatch"
rollback 33 mcuboot_rollback accepted
trailing-byte 39 mcuboot_trailing_bytes "code":"mcuboot_trailing_bytes"'

for opt in s 3 z; do
  elf=$(build "$opt" "ed25519,sha2-compact,sha256-m4,mcuboot")
  while read -r name want_code want_reason want_host; do
    [ "$opt" = s ] || [ "$name" = good ] || continue
    dir=$(mcuboot_case "$name")
    code=$(run_qemu "$dir" "$elf")
    reason=$(awk '$1 == "verdict" { print $3 }' "$dir/qemu.out")
    if [ "$code" != "$want_code" ] || [ "$reason" != "$want_reason" ]; then
      fail "mcuboot O$opt $name: exit $code ($reason), want $want_code ($want_reason); output:"
      cat "$dir/qemu.out" >&2
    elif ! mcuboot_host_agrees "$dir" "$want_host"; then
      fail "mcuboot $name: the host verifier does not say $want_host"
    else
      passed=$((passed + 1))
      echo "ota-firmware-qemu: mcuboot ed25519 opt-level=$opt $name: exit $code ($reason), host verifier agrees"
    fi
    if [ "$name" = good ] && [ "$code" = 0 ]; then
      out="$dir/qemu.out"
      verify=$(($(phase "$out" mcuboot ticks) * TICK_INSNS))
      bytes=$(awk '$1 == "image_bytes" { print $2 }' "$out")
      echo "ota-firmware-qemu: mcuboot ed25519 opt-level=$opt instructions (QEMU -icount, ±$TICK_INSNS):" \
        "image verify (header, TLVs, SHA-256, Ed25519, counter) $verify for $bytes bytes;" \
        "peak stack bytes $(phase "$out" mcuboot stack)"
    fi
  done <<<"$mcuboot_cases"
done

echo "ota-firmware-qemu: $passed passed, $failures failed"
if [ "$failures" -gt 0 ]; then
  exit 1
fi
