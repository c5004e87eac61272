//! Secure-element evidence parser on arbitrary bytes: accepted evidence has a nonce of 8..=64
//! bytes and exactly the fixed layout's length.
#![no_main]
use iotsec_attest::se_evidence::SeEvidence;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = SeEvidence::parse(data) {
        assert!((8..=64).contains(&e.nonce.len()));
        assert_eq!(data.len(), 4 + 2 + e.nonce.len() + 32 + 32 + 8 + 64);
    }
});
