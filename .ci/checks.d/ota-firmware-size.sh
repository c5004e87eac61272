#!/usr/bin/env bash
# iotsec-ota: builds examples/firmware-verify (no_std, no_main, thumbv7em-none-eabihf) and
# reports its .text size. Fails if the Ed25519 path at opt-level "s" exceeds 32 KiB, for the
# manifest verifier (`firmware-verify`, with the compact SHA-2 rounds and with the firmware's
# default `sha256-m4`) and for the MCUboot image verifier (`firmware-mcuboot`), or if the ES256
# path on `p256-cm4` with the compact SHA-2 rounds exceeds 20 KiB (its `.text` plus p256-cm4's own
# section).
# opt-level 3 is measured for comparison; "z" is not used: on 64-bit hosts it made Ed25519
# verification ~60x slower (see BENCHMARKS.md, iotsec-ota).
set -euo pipefail
cd "$(dirname "$0")/../../examples/firmware-verify"
export CARGO_TARGET_DIR="../../target/firmware-verify"
bin=firmware-verify
elf="$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/$bin"
limit=$((32 * 1024)) es256_limit=$((20 * 1024))

section_size() { # $1 = section name; prints its size in bytes (decimal)
  if command -v size >/dev/null && size -A "$elf" >/dev/null 2>&1; then
    size -A "$elf" | awk -v s="$1" '$1 == s { print $2 }'
  else
    # Columns after the name: type, address, offset, size (hex).
    local hex
    hex=$(readelf -S -W "$elf" | awk -v s="$1" '{ for (i = 1; i <= NF; i++) if ($i == s) { print $(i + 4); exit } }')
    [ -n "$hex" ] && printf '%d\n' "0x$hex"
  fi
}

measure() { # $1 = opt-level, $2 = features
  CARGO_PROFILE_RELEASE_OPT_LEVEL="$1" cargo build --quiet --release \
    --target thumbv7em-none-eabihf --no-default-features --features "$2" --bin "$bin"
  local text rodata asm
  text=$(section_size .text)
  rodata=$(section_size .rodata)
  # p256-cm4 puts its assembly in a section of its own; it counts as code.
  asm=$(section_size .p256-cortex-m4)
  echo "ota-firmware-size: $bin $2 opt-level=$1 .text=$text bytes .p256-cortex-m4=${asm:-0} bytes .rodata=${rodata:-0} bytes" >&2
  echo $((text + ${asm:-0}))
}

es256_s=$(measure s es256,sha2-compact)
es256_cm4_s=$(measure s es256-cm4,sha2-compact)
es256_cm4_m4_s=$(measure s es256-cm4,sha2-compact,sha256-m4)
ed25519_3=$(measure 3 ed25519,sha2-compact)
ed25519_s=$(measure s ed25519,sha2-compact)
ed25519_m4_s=$(measure s ed25519,sha2-compact,sha256-m4)
echo "ota-firmware-size: code bytes at opt-level s: Ed25519 path $ed25519_s (limit $limit; opt 3: $ed25519_3)," \
  "$ed25519_m4_s with sha256-m4 (the firmware's default);" \
  "P-256 path $es256_s (RustCrypto), $es256_cm4_s (p256-cm4, limit $es256_limit), $es256_cm4_m4_s (p256-cm4, sha256-m4)"
if [ "$ed25519_s" -gt "$limit" ] || [ "$ed25519_m4_s" -gt "$limit" ]; then
  echo "ota-firmware-size: FAIL: Ed25519 path exceeds 32 KiB" >&2
  exit 1
fi
if [ "$es256_cm4_s" -gt "$es256_limit" ]; then
  echo "ota-firmware-size: FAIL: the p256-cm4 P-256 path exceeds 20 KiB" >&2
  exit 1
fi
if [ "$es256_cm4_s" -gt "$es256_s" ]; then
  echo "ota-firmware-size: FAIL: the p256-cm4 P-256 path is larger than the RustCrypto one" >&2
  exit 1
fi

bin=firmware-mcuboot
elf="$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/$bin"
mcuboot_es256_s=$(measure s es256,sha2-compact)
mcuboot_ed25519_3=$(measure 3 ed25519,sha2-compact)
mcuboot_ed25519_s=$(measure s ed25519,sha2-compact)
mcuboot_ed25519_m4_s=$(measure s ed25519,sha2-compact,sha256-m4)
echo "ota-firmware-size: MCUboot Ed25519 path .text = $mcuboot_ed25519_s bytes (limit $limit; opt 3: $mcuboot_ed25519_3), $mcuboot_ed25519_m4_s with sha256-m4; MCUboot P-256 path .text = $mcuboot_es256_s bytes"
if [ "$mcuboot_ed25519_s" -gt "$limit" ] || [ "$mcuboot_ed25519_m4_s" -gt "$limit" ]; then
  echo "ota-firmware-size: FAIL: MCUboot Ed25519 path exceeds 32 KiB" >&2
  exit 1
fi
