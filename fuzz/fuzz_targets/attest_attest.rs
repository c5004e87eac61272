//! TPMS_ATTEST parser on arbitrary bytes; whatever parses must re-marshal to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = iotsec_attest::Attest::parse(data) {
        assert_eq!(a.to_bytes(), data);
    }
});
