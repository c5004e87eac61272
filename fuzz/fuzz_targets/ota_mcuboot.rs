//! Fuzzes the MCUboot image verifier (header, both TLV areas, key reference, hash, signature)
//! with the Ed25519 and P-256 test keys that signed the seeds (imgtool 2.5.0 images): never
//! panics, never reads outside the input, and whatever verifies ends where the layout says.
#![no_main]

use iotsec_ota::mcuboot::{Layout, TrustedKey, verify_image};
use libfuzzer_sys::fuzz_target;

const ED25519: &str = include_str!("../../iotsec-ota/tests/fixtures/mcuboot/ed25519.pub.pem");
const P256: &str = include_str!("../../iotsec-ota/tests/fixtures/mcuboot/p256.pub.pem");

fuzz_target!(|data: &[u8]| {
    for pem in [ED25519, P256] {
        let Ok(key) = TrustedKey::from_pem(pem) else {
            return;
        };
        if let Ok(image) = verify_image(&mut &data[..], &key, Layout::File) {
            assert_eq!(image.end, data.len() as u64);
        }
        if let Ok(image) = verify_image(&mut &data[..], &key, Layout::Slot) {
            assert!(image.end <= data.len() as u64);
        }
    }
});
