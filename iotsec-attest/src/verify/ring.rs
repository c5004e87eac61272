//! Cloud signature verification on `ring` (the provider rustls uses): faster than the pure-Rust
//! verifier, same decisions. Where `ring` has no primitive for a curve/hash pair (ECDSA with
//! SHA-1 or SHA-512, RSAPSS with SHA-1) the pure-Rust verifier answers; the RSA key checks are
//! shared ([`crate::verify`]). Refusing SHA-1 is the appraisal policy's call, not this backend's.

use ::ring::signature::{self as rs, UnparsedPublicKey};

use crate::error::VerifyError;
use crate::tpm::algorithm::HashAlg;
use crate::tpm::public::PublicArea;
use crate::tpm::signature::TpmSignature;
use crate::verify::provider_input::{ProviderAlg, provider_input};
use crate::verify::{RustCryptoVerifier, SignatureVerifier};

/// Verifier backed by `ring`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingVerifier;

impl SignatureVerifier for RingVerifier {
    fn verify(
        &self,
        key: &PublicArea<'_>,
        message: &[u8],
        signature: &TpmSignature<'_>,
    ) -> Result<(), VerifyError> {
        let Some(input) = provider_input(key, signature)? else {
            return RustCryptoVerifier.verify(key, message, signature);
        };
        let Some(alg) = ring_alg(input.alg) else {
            return RustCryptoVerifier.verify(key, message, signature);
        };
        let verdict = match (input.key.point(), input.key.rsa(), alg) {
            (Some(point), _, RingAlg::Ecdsa(alg)) => {
                UnparsedPublicKey::new(alg, point).verify(message, input.signature())
            }
            (_, Some((n, e)), RingAlg::Rsa(params)) => {
                rs::RsaPublicKeyComponents { n, e }.verify(params, message, input.signature())
            }
            _ => {
                return Err(VerifyError::SchemeKeyMismatch {
                    scheme: signature.scheme_id(),
                });
            }
        };
        verdict.map_err(|_| VerifyError::BadSignature)
    }
}

enum RingAlg {
    Ecdsa(&'static rs::EcdsaVerificationAlgorithm),
    Rsa(&'static rs::RsaParameters),
}

/// `ring`'s primitive for `alg`; `None` for RSAPSS-SHA1, which `ring` lacks.
fn ring_alg(alg: ProviderAlg) -> Option<RingAlg> {
    Some(match alg {
        ProviderAlg::EcdsaP256Sha256 => RingAlg::Ecdsa(&rs::ECDSA_P256_SHA256_FIXED),
        ProviderAlg::EcdsaP384Sha384 => RingAlg::Ecdsa(&rs::ECDSA_P384_SHA384_FIXED),
        ProviderAlg::RsaPkcs1(HashAlg::Sha1) => {
            RingAlg::Rsa(&rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY)
        }
        ProviderAlg::RsaPkcs1(HashAlg::Sha256) => RingAlg::Rsa(&rs::RSA_PKCS1_2048_8192_SHA256),
        ProviderAlg::RsaPkcs1(HashAlg::Sha384) => RingAlg::Rsa(&rs::RSA_PKCS1_2048_8192_SHA384),
        ProviderAlg::RsaPkcs1(HashAlg::Sha512) => RingAlg::Rsa(&rs::RSA_PKCS1_2048_8192_SHA512),
        ProviderAlg::RsaPss(HashAlg::Sha1) => return None,
        ProviderAlg::RsaPss(HashAlg::Sha256) => RingAlg::Rsa(&rs::RSA_PSS_2048_8192_SHA256),
        ProviderAlg::RsaPss(HashAlg::Sha384) => RingAlg::Rsa(&rs::RSA_PSS_2048_8192_SHA384),
        ProviderAlg::RsaPss(HashAlg::Sha512) => RingAlg::Rsa(&rs::RSA_PSS_2048_8192_SHA512),
    })
}
