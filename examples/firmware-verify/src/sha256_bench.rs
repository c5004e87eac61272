//! Hashes `image.bin` (read over semihosting) with one SHA-256 implementation, in the 256-byte
//! chunks a flash reader hands the image verifier, on an emulated Cortex-M4, and prints the
//! timer ticks (40 instructions each under `-icount shift=0`, see `qemu.rs`) and the digest.
//! The implementation is the build's feature: `bench-sha2` (RustCrypto `sha2`; with
//! `sha2-compact` its rolled-up rounds) or `bench-hmac-sha256` (`hmac-sha256`, with
//! `bench-hmac-sha256-small` its `opt_size` rounds). Run by `.ci/checks.d/ota-firmware-qemu.sh`.
#![no_std]
#![no_main]

use core::fmt::Write as _;
use core::panic::PanicInfo;

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
