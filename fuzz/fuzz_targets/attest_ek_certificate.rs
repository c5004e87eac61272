//! EK certificate checks (TLV splitting, padding and serial quirks, X.509 decoding, SAN and EKU
//! reading) on arbitrary bytes, with every quirk switched on.
#![no_main]
#![allow(clippy::unwrap_used)]
use iotsec_attest::PublicArea;
use iotsec_attest::identity::ek_certificate::{EkQuirks, validate_ek_certificate};
use libfuzzer_sys::fuzz_target;

const EK: &[u8] = include_bytes!("../../iotsec-attest/tests/data/swtpm-ek-ecc384.pub");

fuzz_target!(|data: &[u8]| {
    let ek = PublicArea::parse_tpm2b(EK).unwrap();
    let quirks = EkQuirks {
        allow_ff_padding: true,
        allow_non_minimal_serial: true,
        allow_missing_eku: true,
        allow_outside_validity: true,
    };
    let _ = validate_ek_certificate(data, &ek, &[], &[data], &quirks);
});
