//! Runs signature test vectors through the device's verifier on an emulated Cortex-M4
//! (`qemu-system-arm -M mps2-an386`) and prints one verdict per vector (`1` verifies, `0` is
//! refused), so the driver can hold the build's backend (ES256: RustCrypto `p256` with the
//! feature `es256`, `p256-cm4` with `es256-cm4`; EdDSA: `ed25519-dalek`, or `salty` with the
//! measurement feature `bench-salty`) against the expected results.
//!
//! Input `vectors.bin` (written by the driver from Wycheproof's JSON): one byte naming the
//! algorithm (0 ES256, 1 EdDSA), then records back to back:
//! `key_len u8 | key | sig_len u8 | sig | msg_len u16 LE | msg`.
//! Driven by `.ci/checks.d/ota-firmware-wycheproof.sh`.
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
use iotsec_ota::Algorithm;

mod board;

/// Exit codes: 0 all vectors decided, 1 input missing or too large, 2 a malformed record.
const INPUT: u32 = 1;
const MALFORMED: u32 = 2;
const PANIC: u32 = 101;
const FAULT: u32 = 102;

const MAX_VECTORS_FILE: usize = 256 * 1024;

/// Splits `n` bytes off the front of `rest`.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(n)?;
    *rest = tail;
    Some(head)
}

fn len_u8(rest: &mut &[u8]) -> Option<usize> {
    take(rest, 1)?.first().map(|&b| usize::from(b))
}

#[cfg(not(feature = "bench-salty"))]
fn decide(algorithm: Algorithm, key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    algorithm.verify(key, msg, sig).is_ok()
}

/// `salty` for EdDSA (measured beside `ed25519-dalek`; not the crate's verifier).
#[cfg(feature = "bench-salty")]
fn decide(algorithm: Algorithm, key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    if algorithm != Algorithm::EdDsa {
        return algorithm.verify(key, msg, sig).is_ok();
    }
    let (Ok(key), Ok(sig)) = (<&[u8; 32]>::try_from(key), <&[u8; 64]>::try_from(sig)) else {
        return false;
    };
    let Ok(key) = salty::PublicKey::try_from(key) else {
        return false;
    };
    key.verify(msg, &salty::Signature::from(sig)).is_ok()
}

#[entry]
fn main() -> ! {
    static mut VECTORS: [u8; MAX_VECTORS_FILE] = [0; MAX_VECTORS_FILE];
    // `entry` turns a `static mut` into a `&'static mut` reference owned by `main`.
    let Some(mut rest) = read_file(b"vectors.bin\0", VECTORS) else {
        exit(INPUT)
    };
    let Ok(mut out) = hio::hstdout() else {
        exit(INPUT)
    };
    let Some(algorithm) = take(&mut rest, 1).and_then(|tag| match tag.first() {
        Some(0) => Some(Algorithm::Es256),
        Some(1) => Some(Algorithm::EdDsa),
        _ => None,
    }) else {
        exit(MALFORMED)
    };
    let (mut verified, mut refused) = (0u32, 0u32);
    timer::start();
    let start = timer::now();
    while !rest.is_empty() {
        let record = (|| {
            let key_len = len_u8(&mut rest)?;
            let key = take(&mut rest, key_len)?;
            let sig_len = len_u8(&mut rest)?;
            let sig = take(&mut rest, sig_len)?;
            let msg_len = take(&mut rest, 2)?;
            let msg_len = usize::from(u16::from_le_bytes([*msg_len.first()?, *msg_len.get(1)?]));
            let msg = take(&mut rest, msg_len)?;
            Some((key, sig, msg))
        })();
        let Some((key, sig, msg)) = record else {
            exit(MALFORMED)
        };
        if decide(algorithm, key, msg, sig) {
            verified += 1;
            let _ = out.write_str("1");
        } else {
            refused += 1;
            let _ = out.write_str("0");
        }
    }
    let ticks = timer::between(start, timer::now());
    let _ = write!(
        out,
        "\nverified {verified} refused {refused} ticks {ticks}\n"
    );
    exit(0)
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    exit(FAULT)
}

#[exception]
unsafe fn DefaultHandler(_irq: i16) {
    exit(FAULT)
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    exit(PANIC)
}
