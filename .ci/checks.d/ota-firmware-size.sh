#!/usr/bin/env bash
# iotsec-ota: builds examples/firmware-verify (no_std, no_main, thumbv7em-none-eabihf) and
# reports its .text size. Fails if the Ed25519 path at opt-level "s" exceeds 32 KiB.
# opt-level 3 is measured for comparison; "z" is not used: on 64-bit hosts it made Ed25519
# verification ~60x slower (see BENCHMARKS.md, iotsec-ota).
set -euo pipefail
cd "$(dirname "$0")/../../examples/firmware-verify"
export CARGO_TARGET_DIR="../../target/firmware-verify"
elf="$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/firmware-verify"
limit=$((32 * 1024))

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
    --target thumbv7em-none-eabihf --no-default-features --features "$2"
  local text rodata asm
  text=$(section_size .text)
  rodata=$(section_size .rodata)
  # p256-cm4 puts its assembly in a section of its own; it counts as code.
  asm=$(section_size .p256-cortex-m4)
  echo "ota-firmware-size: $2 opt-level=$1 .text=$text bytes .p256-cortex-m4=${asm:-0} bytes .rodata=${rodata:-0} bytes" >&2
  echo $((text + ${asm:-0}))
}

es256_s=$(measure s es256,sha2-compact)
es256_cm4_s=$(measure s es256-cm4,sha2-compact)
es256_cm4_unrolled_s=$(measure s es256-cm4)
ed25519_3=$(measure 3 ed25519,sha2-compact)
ed25519_s=$(measure s ed25519,sha2-compact)
echo "ota-firmware-size: code bytes at opt-level s: Ed25519 path $ed25519_s (limit $limit; opt 3: $ed25519_3)," \
  "P-256 path $es256_s (RustCrypto), $es256_cm4_s (p256-cm4), $es256_cm4_unrolled_s (p256-cm4, unrolled SHA-256)"
if [ "$ed25519_s" -gt "$limit" ]; then
  echo "ota-firmware-size: FAIL: Ed25519 path exceeds 32 KiB" >&2
  exit 1
fi
if [ "$es256_cm4_s" -gt "$es256_s" ]; then
  echo "ota-firmware-size: FAIL: the p256-cm4 P-256 path is larger than the RustCrypto one" >&2
  exit 1
fi
