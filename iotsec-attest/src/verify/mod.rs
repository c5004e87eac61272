//! Signature verification of TPM evidence behind a small provider trait, in the manner of
//! rustls' `crypto` module: the trait is declared here and each backend lives in its own module
//! ([`RustCryptoVerifier`] for `no_std`, [`ring`] and `aws_lc` (feature `aws-lc`) for the
//! cloud), so a new backend is one new file. TPM 2.0 Part 1 §B.8 (ECDSA), §B.7 (RSASSA,
//! RSAPSS).

use crate::error::VerifyError;
use crate::tpm::public::PublicArea;
use crate::tpm::signature::TpmSignature;

#[cfg(feature = "aws-lc")]
pub mod aws_lc;
#[cfg(feature = "std")]
mod provider_input;
#[cfg(feature = "std")]
pub mod ring;
mod rsa_input;
mod rust_crypto;

pub use rust_crypto::RustCryptoVerifier;

/// Verifies a TPMT_SIGNATURE over `message` with a TPM public key.
pub trait SignatureVerifier {
    /// `Ok(())` only when `signature` is a valid signature of `message` under `key`.
    fn verify(
        &self,
        key: &PublicArea<'_>,
        message: &[u8],
        signature: &TpmSignature<'_>,
    ) -> Result<(), VerifyError>;
}
