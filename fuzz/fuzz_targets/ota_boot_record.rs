//! Fuzzes the boot-record decoder (flash contents after a power cut are outside input): never
//! panics, and whatever decodes re-encodes to the same bytes.
//!
//! Two paths per input: the bytes as they are (length, magic and checksum refusals), and the
//! bytes with the record check fixed up (magic `OTA1` over the first 4 bytes, the first 8 bytes
//! of SHA-256 of the body appended), so that mutations reach the field decoding and the boot
//! selection behind the checksum instead of dying at it.
#![no_main]

use iotsec_ota::trial_boot::{BOOT_RECORD_LEN, BootRecord};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn check(bytes: &[u8]) -> bool {
    match BootRecord::from_bytes::<()>(bytes) {
        Ok(record) => {
            assert_eq!(record.to_bytes().as_slice(), bytes);
            let _ = record.select_boot::<()>();
            true
        }
        Err(_) => false,
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let body_len = BOOT_RECORD_LEN - 8;
    let Some(body) = data.get(..body_len) else {
        return;
    };
    let mut fixed = [0u8; BOOT_RECORD_LEN];
    fixed[..body_len].copy_from_slice(body);
    fixed[..4].copy_from_slice(b"OTA1");
    let digest = Sha256::digest(&fixed[..body_len]);
    fixed[body_len..].copy_from_slice(&digest[..8]);
    check(&fixed);
});
