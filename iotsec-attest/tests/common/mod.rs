//! Shared test support: the swtpm peer, every signature backend, and the appraisal of a quote
//! given as the bytes tpm2-tools writes or as values read from a TPM.
pub mod swtpm;

#[allow(unused_imports)]
pub use swtpm::{QuoteFiles, appraise_tpm2_tools};

use std::collections::BTreeMap;

use iotsec_attest::PublicArea;
use iotsec_attest::appraise::policy::AppraisalPolicy;
use iotsec_attest::appraise::{QuoteAppraisal, QuoteEvidence, appraise_quote};
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::verify::aws_lc::{AwsLcVerifier, PreparedAk};
use iotsec_attest::verify::ring::RingVerifier;
use iotsec_attest::verify::{RustCryptoVerifier, SignatureVerifier};

/// The AK (TPM2B_PUBLIC bytes) prepared for aws-lc.
#[allow(dead_code)]
pub fn prepare(ak: &[u8]) -> PreparedAk {
    PreparedAk::new(&PublicArea::parse_tpm2b(ak).unwrap()).unwrap()
}

/// Every signature backend: RustCrypto, ring, aws-lc per call, and `prepared`.
#[allow(dead_code)]
pub fn every_backend(prepared: &PreparedAk) -> [&dyn SignatureVerifier; 4] {
    [&RustCryptoVerifier, &RingVerifier, &AwsLcVerifier, prepared]
}

/// Appraises, with ring and the default policy, on first contact, a quote whose PCR values were
/// read from the TPM (TPM2_PCR_Read) rather than from a file.
#[allow(dead_code)]
pub fn appraise_read_values(
    ak: &PublicArea<'_>,
    message: &[u8],
    signature: &[u8],
    values: &BTreeMap<(HashAlg, u8), Vec<u8>>,
    nonce: &[u8],
) -> QuoteAppraisal {
    appraise_quote(
        &RingVerifier,
        &AppraisalPolicy::default(),
        &QuoteEvidence {
            ak,
            message,
            signature,
            pcrs: values,
            event_log: None,
        },
        nonce,
        None,
    )
}
