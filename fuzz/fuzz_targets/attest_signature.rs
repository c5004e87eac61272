//! TPMT_SIGNATURE parser on arbitrary bytes; whatever parses must re-marshal to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = iotsec_attest::TpmSignature::parse(data) {
        assert_eq!(s.to_bytes(), data);
    }
});
