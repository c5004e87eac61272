//! Device-side parsing of TPM responses (TPM2_PCR_Read, TPM2_Quote/Certify) on arbitrary bytes:
//! a compromised or faulty TPM bus must not crash the device.
#![no_main]
use iotsec_attest::device::command::{parse_pcr_read_response, parse_signed_attestation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_pcr_read_response(data) {
        assert_eq!(r.digests().count(), r.selection.total_selected());
    }
    if let Ok(a) = parse_signed_attestation(data) {
        assert!(iotsec_attest::TpmSignature::parse(a.signature).is_ok());
    }
});
