//! Shared test support.
pub mod swtpm;

use iotsec_attest::PublicArea;
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
