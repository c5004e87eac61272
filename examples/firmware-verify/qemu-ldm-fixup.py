#!/usr/bin/env python3
"""Rewrites single-register T32 `LDM.W Rn, {Rt}` (no writeback) into `LDR.W Rt, [Rn]` in an ELF
built for QEMU, in place, and prints how many it rewrote.

Why: `p256-cm4` 0.4.0 writes `ldm r4,{r6}` in its assembly (src/asm/util.rs, `mul288x288`); with
no writeback and one register the assembler can only pick the T2 encoding of LDM.W, which the
ARMv7-M Architecture Reference Manual (A7.7.40) makes UNPREDICTABLE for fewer than two registers.
Cortex-M4 silicon loads the one word, but QEMU treats the encoding as UNDEFINED and faults. The
rewrite is the instruction the source means, with the same size, so every address stays put.
Only the QEMU copy of the firmware is rewritten; the size build is measured as the linker made it.

Usage: qemu-ldm-fixup.py ELF  (fails if the file is not a 32-bit little-endian ARM ELF)
"""
import struct
import sys

SHF_EXECINSTR = 0x4


def executable_sections(data):
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise SystemExit("qemu-ldm-fixup: not a 32-bit little-endian ELF")
    e_shoff, = struct.unpack_from("<I", data, 0x20)
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x2E)
    for i in range(e_shnum):
        base = e_shoff + i * e_shentsize
        _name, sh_type, sh_flags, _addr, sh_offset, sh_size = struct.unpack_from("<IIIIII", data, base)
        if sh_type == 1 and sh_flags & SHF_EXECINSTR:  # PROGBITS, executable
            yield sh_offset, sh_size


def rewrite(data):
    count = 0
    for offset, size in executable_sections(data):
        pos, end = offset, offset + size - 4
        while pos <= end:
            hw1, hw2 = struct.unpack_from("<HH", data, pos)
            # LDM.W T2 with W=0: 1110 1000 1001 nnnn, then P M 0 register_list
            if hw1 & 0xFFF0 == 0xE890 and bin(hw2).count("1") == 1 and hw2 & 0x2000 == 0:
                rn, rt = hw1 & 0xF, hw2.bit_length() - 1
                if rn != 15 and rt not in (13, 15):
                    # LDR.W T3: 1111 1000 1101 nnnn, tttt imm12 (imm12 = 0)
                    struct.pack_into("<HH", data, pos, 0xF8D0 | rn, rt << 12)
                    count += 1
                pos += 4
            elif hw1 >> 11 in (0b11101, 0b11110, 0b11111):  # a 32-bit instruction
                pos += 4
            else:
                pos += 2
    return count


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: qemu-ldm-fixup.py ELF")
    with open(sys.argv[1], "rb") as f:
        data = bytearray(f.read())
    count = rewrite(data)
    with open(sys.argv[1], "wb") as f:
        f.write(data)
    print(count)


if __name__ == "__main__":
    main()
