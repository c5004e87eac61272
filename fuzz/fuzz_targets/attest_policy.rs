//! The appraisal policy (JSON from the operator or a reference-value service):
//! `AppraisalPolicy::from_json` never panics, and an accepted policy only holds digests of its
//! bank's length for PCRs 0..=31.
#![no_main]

use iotsec_attest::appraise::policy::AppraisalPolicy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = AppraisalPolicy::from_json(text) {
        for (bank, pcrs) in &policy.reference {
            for (index, values) in pcrs {
                assert!(*index < 32, "PCR index {index}");
                for v in values {
                    assert_eq!(v.len(), bank.digest_len(), "{bank:?} PCR {index}");
                }
            }
        }
    }
});
