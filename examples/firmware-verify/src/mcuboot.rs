//! A bare-metal program that links what an MCUboot-format bootloader needs from iotsec-ota:
//! verification of the image in its flash slot against the trusted key (header, TLV areas,
//! KEYHASH, SHA-256 over the slot read in 512-byte chunks, Ed25519 or P-256) and the
//! anti-rollback decision on its security counter. It exists to measure code size on a
//! Cortex-M4F (thumbv7em-none-eabihf) beside `firmware-verify`'s manifest path.
//!
//! The key and the committed counter are read with volatile loads from fixed addresses (where
//! a bootloader keeps them) so the optimizer cannot fold the verification away; the verdict is
//! written to a fixed address.
#![no_std]
#![no_main]

use core::panic::PanicInfo;

// Compact memory routines unless compiler_builtins' are asked for (src/compact_mem.rs).
#[cfg(not(feature = "builtins-mem"))]
mod compact_mem;

use iotsec_ota::mcuboot::{
    ImageSource, KeyAlgorithm, Layout, TrustedKey, install_ticket, verify_image,
};

/// Image slot in flash.
const SLOT: usize = 0x0804_0000;
const SLOT_SIZE: u64 = 256 * 1024;
/// The trusted public key, provisioned with the bootloader.
const KEY: usize = 0x0800_3f00;
/// The committed security counter.
const COUNTER: usize = 0x2003_F100;
/// Where the verdict goes.
const VERDICT: usize = 0x2003_F000;

#[cfg(feature = "ed25519")]
const ALGORITHM: (KeyAlgorithm, usize) = (KeyAlgorithm::Ed25519, 32);
#[cfg(not(feature = "ed25519"))]
const ALGORITHM: (KeyAlgorithm, usize) = (KeyAlgorithm::EcdsaP256, 65);

/// The slot, read in place.
struct Flash;

impl ImageSource for Flash {
    type Error = ();

    fn len(&self) -> u64 {
        SLOT_SIZE
    }

    fn read_exact_at(&mut self, offset: u64, buffer: &mut [u8]) -> Result<(), ()> {
        if offset + buffer.len() as u64 > SLOT_SIZE {
            return Err(());
        }
        // SAFETY: within the slot (checked above), which is readable flash.
        let bytes = unsafe {
            core::slice::from_raw_parts((SLOT + offset as usize) as *const u8, buffer.len())
        };
        buffer.copy_from_slice(bytes);
        Ok(())
    }
}

fn run() -> u32 {
    // SAFETY: the key area in flash, `ALGORITHM.1` bytes.
    let raw = unsafe { core::slice::from_raw_parts(KEY as *const u8, ALGORITHM.1) };
    let Ok(key) = TrustedKey::from_raw(ALGORITHM.0, raw) else {
        return 1;
    };
    let image = match verify_image(&mut Flash, &key, Layout::Slot) {
        Ok(image) => image,
        Err(_) => return 2,
    };
    // SAFETY: aligned word in reserved RAM.
    let stored = unsafe { core::ptr::read_volatile(COUNTER as *const u64) };
    match install_ticket(&image, stored, [0; 32], image.end) {
        Ok(_) => 0,
        Err(_) => 3,
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
