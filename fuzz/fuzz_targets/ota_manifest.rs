//! Fuzzes the deterministic-CBOR manifest decoder: never panics, and whatever decodes is
//! canonical (re-encoding gives the same bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = iotsec_ota::Manifest::from_cbor(data) {
        assert_eq!(manifest.to_cbor(), data);
    }
});
