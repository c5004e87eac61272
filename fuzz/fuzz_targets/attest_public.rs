//! TPM2B_PUBLIC parser and Name computation on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = iotsec_attest::PublicArea::parse_tpm2b(data) {
        let name = p.name();
        assert_eq!(name.as_bytes().len(), 2 + p.name_alg.digest_len());
    }
});
