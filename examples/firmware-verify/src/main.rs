//! A bare-metal program that links what a bootloader needs from iotsec-ota: trust root
//! loading, manifest verification (COSE_Sign, thresholds, anti-rollback) and streaming image
//! verification. It exists to measure code size on a Cortex-M4F (thumbv7em-none-eabihf).
//!
//! Inputs are read with volatile loads from fixed addresses (where a bootloader's staging area
//! would be) so the optimizer cannot fold the verification away; the verdict is written to a
//! fixed address.
#![no_std]
#![no_main]

use core::panic::PanicInfo;

// Compact memory routines unless compiler_builtins' are asked for (src/compact_mem.rs).
#[cfg(not(feature = "builtins-mem"))]
mod compact_mem;

use iotsec_ota::{DeviceState, ImageVerifier, TrustRoot, verify};

/// Staging area in RAM: [root length u32][manifest length u32][root][manifest].
const STAGING: usize = 0x2000_0000;
/// Image slot in flash.
const SLOT: usize = 0x0804_0000;
/// Where the verdict goes.
const VERDICT: usize = 0x2003_F000;
const MAX_DOCUMENT: usize = iotsec_ota::cose_sign::MAX_DOCUMENT_SIZE;

fn staged(offset: usize, len: usize) -> &'static [u8] {
    // SAFETY: on the target, the staging area is RAM the loader filled; bounded by MAX_DOCUMENT.
    unsafe { core::slice::from_raw_parts((STAGING + offset) as *const u8, len) }
}

fn staged_len(offset: usize) -> usize {
    // SAFETY: aligned word in the staging area.
    let len = unsafe { core::ptr::read_volatile((STAGING + offset) as *const u32) } as usize;
    len.min(MAX_DOCUMENT)
}

fn run() -> u32 {
    let root_len = staged_len(0);
    let manifest_len = staged_len(4);
    let root_doc = staged(8, root_len);
    let manifest_doc = staged(8 + root_len, manifest_len);
    let Ok(root) = TrustRoot::from_pinned(root_doc) else {
        return 1;
    };
    let state = DeviceState {
        vendor_id: [0x11; 16],
        class_id: [0x22; 16],
        device_id: b"mcu-0001",
        security_counter: 3,
        last_sequence: 10,
        trusted_root_version: 1,
        slot_capacity: 256 * 1024,
        now: iotsec_ota::TrustedTime::NoTrustedClock,
    };
    let verified = match verify(manifest_doc, &root, &state) {
        Ok(v) => v,
        Err(_) => return 2,
    };
    let Some(component) = verified.manifest.components.first() else {
        return 3;
    };
    let mut image = ImageVerifier::new(component);
    let mut offset = 0usize;
    let size = component.size as usize;
    while offset < size {
        let n = (size - offset).min(256);
        // SAFETY: reads the image slot in flash, within the signed (and slot-capped) size.
        let chunk = unsafe { core::slice::from_raw_parts((SLOT + offset) as *const u8, n) };
        if image.update(chunk).is_err() {
            return 4;
        }
        offset += n;
    }
    match image.finish() {
        Ok(()) => 0,
        Err(_) => 5,
    }
}

/// Entry point.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let verdict = run();
    // SAFETY: the verdict word is reserved RAM.
    unsafe { core::ptr::write_volatile(VERDICT as *mut u32, verdict) };
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
