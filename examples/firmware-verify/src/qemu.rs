//! The device verifier of `main.rs`, run under QEMU on an emulated Cortex-M4
//! (`qemu-system-arm -M mps2-an386`): trust root, manifest and image come from host files over
//! Arm semihosting, the verdict leaves as the semihosting exit code (SYS_EXIT_EXTENDED), and a
//! CMSDK APB timer is read around each phase. Under `-icount shift=0` QEMU advances virtual
//! time by 1 ns per guest instruction and the timer counts at the board's 25 MHz, so one tick
//! is 40 instructions: the counts are instruction counts, not cycles of a real core.
//! Each phase's peak stack use is measured by painting the free stack before it.
//!
//! Driven by `.ci/checks.d/ota-firmware-qemu.sh`, which signs the inputs with the real signer
//! (`iotsec-cloud ota …`) and asserts the exit codes below.
//!
//! With the `mcuboot` feature the program verifies an MCUboot image instead (`key.der`, the
//! trusted key's SubjectPublicKeyInfo, and `image.bin`): one phase, `mcuboot`, covering header
//! and TLV checks, the hash over the image and the signature, then the security counter
//! against the device's committed 3.
#![no_std]
#![no_main]
// The MCUboot build leaves the manifest path's items unused.
#![cfg_attr(feature = "mcuboot", allow(dead_code, unused_imports))]

use core::fmt::Write as _;
use core::panic::PanicInfo;

// Compact memory routines unless compiler_builtins' are asked for (src/compact_mem.rs).
#[cfg(not(feature = "builtins-mem"))]
mod compact_mem;

use board::{exit, read_file, timer};
use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::hio;
use iotsec_ota::{DeviceState, Error, ImageError, ImageVerifier, TrustRoot, verify};

mod board;

/// Exit codes: the contract with the driver script.
#[cfg_attr(not(feature = "mcuboot"), allow(dead_code))]
mod verdict {
    /// Manifest verified and image digest matched.
    pub const ACCEPTED: u32 = 0;
    /// An input file is missing, unreadable or larger than its buffer.
    pub const INPUT: u32 = 1;
    /// The pinned trust root was refused.
    pub const TRUST_ROOT: u32 = 2;
    /// The verified manifest has no component.
    pub const NO_COMPONENT: u32 = 3;
    /// `Error::BadSignature`: a trusted key's signature does not verify.
    pub const BAD_SIGNATURE: u32 = 10;
    /// `Error::ThresholdNotMet`.
    pub const THRESHOLD_NOT_MET: u32 = 11;
    /// `Error::NoTrustedSignature`.
    pub const NO_TRUSTED_SIGNATURE: u32 = 12;
    /// `Error::Rollback`: security counter below the device's.
    pub const ROLLBACK: u32 = 13;
    /// `Error::Replay`: sequence number not newer.
    pub const REPLAY: u32 = 14;
    /// `Error::UnsupportedAlgorithm`: a signature this build cannot verify.
    pub const UNSUPPORTED_ALGORITHM: u32 = 15;
    /// Any other manifest refusal (its code is printed).
    pub const OTHER_MANIFEST: u32 = 19;
    /// `ImageError::TooLong`.
    pub const IMAGE_TOO_LONG: u32 = 20;
    /// `ImageError::TooShort`.
    pub const IMAGE_TOO_SHORT: u32 = 21;
    /// `ImageError::DigestMismatch`.
    pub const IMAGE_DIGEST: u32 = 22;
    /// Any other image refusal.
    pub const OTHER_IMAGE: u32 = 29;
    /// `McubootError::HashMismatch`.
    pub const MCUBOOT_HASH: u32 = 30;
    /// `McubootError::BadSignature`.
    pub const MCUBOOT_SIGNATURE: u32 = 31;
    /// The image names another key (KEYHASH, PUBKEY or algorithm mismatch).
    pub const MCUBOOT_KEY: u32 = 32;
    /// `McubootError::Rollback`.
    pub const MCUBOOT_ROLLBACK: u32 = 33;
    /// Any other MCUboot refusal (its code is printed).
    pub const MCUBOOT_OTHER: u32 = 39;
    /// The program panicked.
    pub const PANIC: u32 = 101;
    /// A fault exception was taken.
    pub const FAULT: u32 = 102;
}

/// The device's state, as in `main.rs` (kept apart so the size build's code stays as measured):
/// the driver signs manifests for vendor `1111…`, class `2222…`, counter 3, sequence 11.
const STATE: DeviceState<'static> = DeviceState {
    vendor_id: [0x11; 16],
    class_id: [0x22; 16],
    device_id: b"mcu-0001",
    security_counter: 3,
    last_sequence: 10,
    trusted_root_version: 1,
    slot_capacity: IMAGE_CAPACITY as u64,
    now: iotsec_ota::TrustedTime::NoTrustedClock,
};
const IMAGE_CAPACITY: usize = 256 * 1024;
const MAX_DOCUMENT: usize = iotsec_ota::cose_sign::MAX_DOCUMENT_SIZE;
/// Bytes handed to the image verifier per call, as a flash reader would.
const CHUNK: usize = 256;
/// Instructions the calibration loop runs: 2 per iteration (`subs`, `bne`).
const CALIBRATION_LOOPS: u32 = 1_000_000;

/// Peak stack use of one phase: the free stack below `main`'s frame is painted before the phase
/// and scanned after it for the deepest word that changed.
mod stack {
    const PAINT: u32 = 0x5AFE_C0DE;
    /// How deep below `main`'s frame the paint goes; a phase that reaches it reports this.
    pub const DEPTH: usize = 64 * 1024;

    /// Paints `DEPTH` bytes below the stack pointer; returns the stack pointer. Inlined into
    /// `main`, whose stack pointer stays put between its prologue and epilogue; nothing else
    /// runs (no interrupt is enabled).
    #[inline(always)]
    pub fn paint() -> usize {
        let sp: usize;
        // SAFETY: reads the stack pointer.
        unsafe { core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack)) };
        let mut addr = sp - DEPTH;
        while addr < sp {
            // SAFETY: free stack below the current frame, in RAM (the stack starts 4 MiB up).
            unsafe { core::ptr::write_volatile(addr as *mut u32, PAINT) };
            addr += 4;
        }
        sp
    }

    /// Bytes below `sp` (from `paint`) that were written since.
    #[inline(always)]
    pub fn used(sp: usize) -> usize {
        let mut addr = sp - DEPTH;
        // SAFETY: the words `paint` wrote.
        while addr < sp && unsafe { core::ptr::read_volatile(addr as *const u32) } == PAINT {
            addr += 4;
        }
        sp - addr
    }
}

fn manifest_verdict(error: &Error) -> u32 {
    match error {
        Error::BadSignature { .. } => verdict::BAD_SIGNATURE,
        Error::ThresholdNotMet { .. } => verdict::THRESHOLD_NOT_MET,
        Error::NoTrustedSignature { .. } => verdict::NO_TRUSTED_SIGNATURE,
        Error::Rollback { .. } => verdict::ROLLBACK,
        Error::Replay { .. } => verdict::REPLAY,
        Error::UnsupportedAlgorithm { .. } => verdict::UNSUPPORTED_ALGORITHM,
        _ => verdict::OTHER_MANIFEST,
    }
}

fn image_verdict(error: &ImageError) -> (u32, &'static str) {
    match error {
        ImageError::TooLong { .. } => (verdict::IMAGE_TOO_LONG, "image_too_long"),
        ImageError::TooShort { .. } => (verdict::IMAGE_TOO_SHORT, "image_too_short"),
        ImageError::DigestMismatch => (verdict::IMAGE_DIGEST, "image_digest_mismatch"),
        _ => (verdict::OTHER_IMAGE, "image_other"),
    }
}

/// 2 × `CALIBRATION_LOOPS` instructions, to check that a timer tick is 40 instructions.
fn calibration() -> u32 {
    let start = timer::now();
    // SAFETY: a register-only countdown loop.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {n}, {n}, #1",
            "bne 2b",
            n = inout(reg) CALIBRATION_LOOPS => _,
            options(nomem, nostack),
        );
    }
    timer::between(start, timer::now())
}

/// Timer ticks and peak stack bytes of one phase.
#[derive(Clone, Copy)]
struct Phase {
    name: &'static str,
    ticks: u32,
    stack: usize,
}

struct Report {
    out: Option<hio::HostStream>,
}

impl Report {
    fn line(&mut self, args: core::fmt::Arguments<'_>) {
        if let Some(out) = self.out.as_mut() {
            let _ = out.write_fmt(args);
            let _ = out.write_str("\n");
        }
    }

    /// Prints the verdict and the phase timings, then exits with `code`.
    fn finish(mut self, code: u32, reason: &str, phases: &[Phase]) -> ! {
        for phase in phases {
            self.line(format_args!(
                "ticks {} {} stack {}",
                phase.name, phase.ticks, phase.stack
            ));
        }
        self.line(format_args!("verdict {code} {reason}"));
        exit(code)
    }
}

#[cfg(not(feature = "mcuboot"))]
#[entry]
fn main() -> ! {
    let mut report = Report {
        out: hio::hstdout().ok(),
    };
    timer::start();
    let calibration = calibration();
    report.line(format_args!(
        "calibration {} instructions in {calibration} ticks",
        2 * CALIBRATION_LOOPS
    ));

    let mut root_buf = [0u8; MAX_DOCUMENT];
    let mut manifest_buf = [0u8; MAX_DOCUMENT];
    let mut image_buf = [0u8; IMAGE_CAPACITY];
    let (Some(root_doc), Some(manifest_doc), Some(image)) = (
        read_file(b"root.cbor\0", &mut root_buf),
        read_file(b"manifest.cbor\0", &mut manifest_buf),
        read_file(b"image.bin\0", &mut image_buf),
    ) else {
        report.finish(verdict::INPUT, "input", &[])
    };

    let sp = stack::paint();
    let t0 = timer::now();
    let root = TrustRoot::from_pinned(root_doc);
    let root_phase = Phase {
        name: "root",
        ticks: timer::between(t0, timer::now()),
        stack: stack::used(sp),
    };
    let root = match root {
        Ok(root) => root,
        Err(e) => report.finish(verdict::TRUST_ROOT, e.code(), &[root_phase]),
    };
    let sp = stack::paint();
    let t1 = timer::now();
    let verified = verify(manifest_doc, &root, &STATE);
    let manifest_phase = Phase {
        name: "manifest",
        ticks: timer::between(t1, timer::now()),
        stack: stack::used(sp),
    };
    let verified = match verified {
        Ok(v) => v,
        Err(e) => report.finish(
            manifest_verdict(&e),
            e.code(),
            &[root_phase, manifest_phase],
        ),
    };
    let Some(component) = verified.manifest.components.first() else {
        report.finish(verdict::NO_COMPONENT, "no_component", &[])
    };

    let sp = stack::paint();
    let t2 = timer::now();
    let mut stream = ImageVerifier::new(component);
    let mut result = image.chunks(CHUNK).try_for_each(|c| stream.update(c));
    if result.is_ok() {
        result = stream.finish();
    }
    let image_phase = Phase {
        name: "image",
        ticks: timer::between(t2, timer::now()),
        stack: stack::used(sp),
    };
    let phases = [root_phase, manifest_phase, image_phase];
    report.line(format_args!("image_bytes {}", image.len()));
    match result {
        Ok(()) => report.finish(verdict::ACCEPTED, "accepted", &phases),
        Err(e) => {
            let (code, reason) = image_verdict(&e);
            report.finish(code, reason, &phases)
        }
    }
}

/// The committed security counter of the MCUboot path.
#[cfg(feature = "mcuboot")]
const MCUBOOT_COUNTER: u64 = 3;

#[cfg(feature = "mcuboot")]
fn mcuboot_verdict(error: &iotsec_ota::mcuboot::McubootError) -> u32 {
    use iotsec_ota::mcuboot::McubootError;
    match error {
        McubootError::HashMismatch => verdict::MCUBOOT_HASH,
        McubootError::BadSignature => verdict::MCUBOOT_SIGNATURE,
        McubootError::KeyHashMismatch
        | McubootError::PublicKeyMismatch
        | McubootError::AlgorithmMismatch { .. } => verdict::MCUBOOT_KEY,
        McubootError::Rollback { .. } => verdict::MCUBOOT_ROLLBACK,
        _ => verdict::MCUBOOT_OTHER,
    }
}

#[cfg(feature = "mcuboot")]
#[entry]
fn main() -> ! {
    use iotsec_ota::mcuboot::{Layout, TrustedKey, install_ticket, verify_image};
    let mut report = Report {
        out: hio::hstdout().ok(),
    };
    timer::start();
    let calibration = calibration();
    report.line(format_args!(
        "calibration {} instructions in {calibration} ticks",
        2 * CALIBRATION_LOOPS
    ));
    let mut key_buf = [0u8; 128];
    let mut image_buf = [0u8; IMAGE_CAPACITY + 4096];
    let (Some(key_der), Some(image)) = (
        read_file(b"key.der\0", &mut key_buf),
        read_file(b"image.bin\0", &mut image_buf),
    ) else {
        report.finish(verdict::INPUT, "input", &[])
    };
    let Ok(key) = TrustedKey::from_spki_der(key_der) else {
        report.finish(verdict::TRUST_ROOT, "key", &[])
    };
    let sp = stack::paint();
    let t0 = timer::now();
    let result = verify_image(&mut &image[..], &key, Layout::File)
        .and_then(|verified| install_ticket(&verified, MCUBOOT_COUNTER, [0; 32], verified.end));
    let phase = Phase {
        name: "mcuboot",
        ticks: timer::between(t0, timer::now()),
        stack: stack::used(sp),
    };
    report.line(format_args!("image_bytes {}", image.len()));
    match result {
        Ok(_) => report.finish(verdict::ACCEPTED, "accepted", &[phase]),
        Err(e) => report.finish(mcuboot_verdict(&e), e.code(), &[phase]),
    }
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    exit(verdict::FAULT)
}

#[exception]
unsafe fn DefaultHandler(_irq: i16) {
    exit(verdict::FAULT)
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    exit(verdict::PANIC)
}
