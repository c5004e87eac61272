//! Cloud signature verification on `ring` (the provider rustls uses): faster than the pure-Rust
//! verifier, same decisions. Where `ring` has no primitive for a curve/hash pair (ECDSA with
//! SHA-1 or SHA-512, RSAPSS with SHA-1) the pure-Rust verifier answers; the RSA key checks are
//! shared ([`crate::verify`]). Refusing SHA-1 is the appraisal policy's call, not this backend's.

use ring::signature::{self as rs, UnparsedPublicKey};

use crate::algorithm::{EccCurve, HashAlg};
use crate::error::VerifyError;
use crate::public::{PublicArea, PublicKey};
use crate::signature::TpmSignature;
use crate::verify::{RustCryptoVerifier, SignatureVerifier, rsa_input};

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
        match (key.key, *signature) {
            (PublicKey::Ecc { curve, x, y }, TpmSignature::Ecdsa { hash, r, s }) => {
                let alg: &'static rs::EcdsaVerificationAlgorithm = match (curve, hash) {
                    (EccCurve::NistP256, HashAlg::Sha256) => &rs::ECDSA_P256_SHA256_FIXED,
                    (EccCurve::NistP384, HashAlg::Sha384) => &rs::ECDSA_P384_SHA384_FIXED,
                    // Curve/hash pairs ring has no fixed-width verifier for.
                    _ => return RustCryptoVerifier.verify(key, message, signature),
                };
                let n = curve.field_len();
                let mut point = [0u8; 97];
                let mut fixed = [0u8; 96];
                point[0] = 4;
                write_padded(&mut point, 1, n, x).ok_or(VerifyError::InvalidKey)?;
                write_padded(&mut point, 1 + n, n, y).ok_or(VerifyError::InvalidKey)?;
                write_padded(&mut fixed, 0, n, r).ok_or(VerifyError::BadSignature)?;
                write_padded(&mut fixed, n, n, s).ok_or(VerifyError::BadSignature)?;
                let point = point.get(..1 + 2 * n).ok_or(VerifyError::InvalidKey)?;
                let fixed = fixed.get(..2 * n).ok_or(VerifyError::BadSignature)?;
                UnparsedPublicKey::new(alg, point)
                    .verify(message, fixed)
                    .map_err(|_| VerifyError::BadSignature)
            }
            (PublicKey::Rsa { .. }, TpmSignature::RsaSsa { .. } | TpmSignature::RsaPss { .. }) => {
                let Some(rsa) = rsa_input(&key.key, signature) else {
                    return Err(VerifyError::SchemeKeyMismatch {
                        scheme: signature.scheme_id(),
                    });
                };
                let params: &'static rs::RsaParameters = match (rsa.hash, rsa.pss) {
                    (HashAlg::Sha1, false) => &rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                    (HashAlg::Sha256, false) => &rs::RSA_PKCS1_2048_8192_SHA256,
                    (HashAlg::Sha384, false) => &rs::RSA_PKCS1_2048_8192_SHA384,
                    (HashAlg::Sha512, false) => &rs::RSA_PKCS1_2048_8192_SHA512,
                    (HashAlg::Sha256, true) => &rs::RSA_PSS_2048_8192_SHA256,
                    (HashAlg::Sha384, true) => &rs::RSA_PSS_2048_8192_SHA384,
                    (HashAlg::Sha512, true) => &rs::RSA_PSS_2048_8192_SHA512,
                    // ring has no RSAPSS-SHA1.
                    (HashAlg::Sha1, true) => {
                        return RustCryptoVerifier.verify(key, message, signature);
                    }
                };
                rsa.check_key()?;
                let e = rsa.exponent.to_be_bytes();
                let first = e.iter().position(|&b| b != 0).unwrap_or(3);
                let e = e.get(first..).ok_or(VerifyError::InvalidKey)?;
                rs::RsaPublicKeyComponents { n: rsa.modulus, e }
                    .verify(params, message, rsa.sig)
                    .map_err(|_| VerifyError::BadSignature)
            }
            _ => Err(VerifyError::SchemeKeyMismatch {
                scheme: signature.scheme_id(),
            }),
        }
    }
}

fn write_padded(buf: &mut [u8], at: usize, width: usize, v: &[u8]) -> Option<()> {
    let pad = width.checked_sub(v.len())?;
    buf.get_mut(at + pad..at + width)?.copy_from_slice(v);
    Some(())
}
