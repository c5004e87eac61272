//! Hashes `image.bin` (read over semihosting) with one SHA-256 implementation, in the 256-byte
//! chunks a flash reader hands the image verifier, on an emulated Cortex-M4, and prints the
//! timer ticks (40 instructions each under `-icount shift=0`, see `qemu.rs`) and the digest.
//! The implementation is the build's feature: `bench-sha2` (RustCrypto `sha2`; with
//! `sha2-compact` its rolled-up rounds) or `bench-hmac-sha256` (`hmac-sha256`, with
//! `bench-hmac-sha256-small` its `opt_size` rounds) or `bench-iotsec-ota` (iotsec-ota's own
//! choice, e.g. with `sha256-m4`; it also prints digests of prefixes hashed in odd pieces for the
//! host to compare). Run by `.ci/checks.d/ota-firmware-qemu.sh`.
#![no_std]
#![no_main]

use core::fmt::Write as _;
use core::panic::PanicInfo;

// Compact memory routines unless compiler_builtins' are asked for (src/compact_mem.rs).
#[cfg(not(feature = "builtins-mem"))]
mod compact_mem;

use board::{exit, read_file, timer};
use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::hio;

mod board;

const IMAGE_CAPACITY: usize = 256 * 1024;
const CHUNK: usize = 256;

#[cfg(feature = "bench-sha2")]
fn hash(image: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    image.chunks(CHUNK).for_each(|c| hasher.update(c));
    hasher.finalize().into()
}

#[cfg(all(feature = "bench-hmac-sha256", not(feature = "bench-sha2")))]
fn hash(image: &[u8]) -> [u8; 32] {
    let mut hasher = hmac_sha256::Hash::new();
    image.chunks(CHUNK).for_each(|c| hasher.update(c));
    hasher.finalize()
}

#[cfg(all(
    feature = "bench-iotsec-ota",
    not(any(feature = "bench-sha2", feature = "bench-hmac-sha256"))
))]
fn hash(image: &[u8]) -> [u8; 32] {
    use iotsec_ota::sha256::Digest as _;
    let mut hasher = iotsec_ota::sha256::Sha256::new();
    image.chunks(CHUNK).for_each(|c| hasher.update(c));
    hasher.finalize().into()
}

/// Digests of prefixes of the image fed in pieces of odd sizes, for the host to compare: the
/// padding boundaries (55, 56, 63, 64 bytes and one block on), and pieces that straddle blocks.
#[cfg(feature = "bench-iotsec-ota")]
fn check_prefixes(image: &[u8], out: &mut hio::HostStream) {
    use iotsec_ota::sha256::Digest as _;
    const LENGTHS: [usize; 12] = [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 1000, 4097];
    const PIECES: [usize; 3] = [1, 7, 61];
    for len in LENGTHS {
        for piece in PIECES {
            let Some(prefix) = image.get(..len) else {
                exit(3)
            };
            let mut hasher = iotsec_ota::sha256::Sha256::new();
            prefix.chunks(piece).for_each(|c| hasher.update(c));
            let _ = write!(out, "prefix {len} piece {piece} digest ");
            for byte in hasher.finalize() {
                let _ = write!(out, "{byte:02x}");
            }
            let _ = out.write_str("\n");
        }
    }
}

#[entry]
fn main() -> ! {
    static mut IMAGE: [u8; IMAGE_CAPACITY] = [0; IMAGE_CAPACITY];
    let (Some(image), Ok(mut out)) = (read_file(b"image.bin\0", IMAGE), hio::hstdout()) else {
        exit(1)
    };
    timer::start();
    let start = timer::now();
    let digest = hash(image);
    let ticks = timer::between(start, timer::now());
    let _ = write!(out, "sha256 bytes {} ticks {ticks} digest ", image.len());
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    let _ = out.write_str("\n");
    #[cfg(feature = "bench-iotsec-ota")]
    check_prefixes(image, &mut out);
    exit(0)
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    exit(102)
}

#[exception]
unsafe fn DefaultHandler(_irq: i16) {
    exit(102)
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    exit(101)
}
