//! Device-side parsing of TPM responses (TPM2_PCR_Read, TPM2_Quote/Certify, the credential
//! activation's StartAuthSession/PolicySecret/ActivateCredential) on arbitrary bytes:
//! a compromised or faulty TPM bus must not crash the device.
#![no_main]
use iotsec_attest::device::activate::{
    parse_activate_credential_response, parse_policy_secret_response,
    parse_start_policy_session_response,
};
use iotsec_attest::device::command::{parse_pcr_read_response, parse_signed_attestation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_pcr_read_response(data) {
        assert_eq!(r.digests().count(), r.selection.total_selected());
    }
    if let Ok(a) = parse_signed_attestation(data) {
        assert!(iotsec_attest::TpmSignature::parse(a.signature).is_ok());
    }
    if let Ok(h) = parse_start_policy_session_response(data) {
        assert_eq!(h >> 24, 0x03);
    }
    let _ = parse_policy_secret_response(data);
    if let Ok(secret) = parse_activate_credential_response(data) {
        assert!(!secret.is_empty() && secret.len() <= 64);
    }
});
