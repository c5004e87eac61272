//! Fleet TPM evidence parser on arbitrary bytes: accepted evidence is within the size cap and
//! re-encodes to exactly the input.
#![no_main]
use iotsec_attest::appraise::tpm_evidence::{MAX_TPM_EVIDENCE_LEN, TpmEvidence};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = TpmEvidence::parse(data) {
        assert!(data.len() <= MAX_TPM_EVIDENCE_LEN);
        assert_eq!(e.encode().as_deref(), Some(data));
    }
});
