//! Cloud signature verification on `ring` (the provider rustls uses): several times faster
//! than the pure-Rust verifier for P-256, same decisions.

use ring::signature::{self as rs, UnparsedPublicKey};

use crate::algorithm::{EccCurve, HashAlg};
use crate::error::VerifyError;
use crate::public::{PublicArea, PublicKey};
use crate::signature::TpmSignature;
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
        match (key.key, *signature) {
            (PublicKey::Ecc { curve, x, y }, TpmSignature::Ecdsa { hash, r, s }) => {
                let alg: &'static rs::EcdsaVerificationAlgorithm = match (curve, hash) {
                    (EccCurve::NistP256, HashAlg::Sha256) => &rs::ECDSA_P256_SHA256_FIXED,
                    (EccCurve::NistP384, HashAlg::Sha384) => &rs::ECDSA_P384_SHA384_FIXED,
                    (_, HashAlg::Sha1) => return Err(VerifyError::HashRefused { alg: hash.id() }),
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
            (
                PublicKey::Rsa {
                    modulus, exponent, ..
                },
                TpmSignature::RsaSsa { hash, sig },
            )
            | (
                PublicKey::Rsa {
                    modulus, exponent, ..
                },
                TpmSignature::RsaPss { hash, sig },
            ) => {
                let pss = matches!(signature, TpmSignature::RsaPss { .. });
                let params: &'static rs::RsaParameters = match (hash, pss) {
                    (HashAlg::Sha256, false) => &rs::RSA_PKCS1_2048_8192_SHA256,
                    (HashAlg::Sha384, false) => &rs::RSA_PKCS1_2048_8192_SHA384,
                    (HashAlg::Sha512, false) => &rs::RSA_PKCS1_2048_8192_SHA512,
                    (HashAlg::Sha256, true) => &rs::RSA_PSS_2048_8192_SHA256,
                    (HashAlg::Sha384, true) => &rs::RSA_PSS_2048_8192_SHA384,
                    (HashAlg::Sha512, true) => &rs::RSA_PSS_2048_8192_SHA512,
                    (HashAlg::Sha1, _) => return Err(VerifyError::HashRefused { alg: hash.id() }),
                };
                let e = exponent.to_be_bytes();
                let first = e.iter().position(|&b| b != 0).unwrap_or(3);
                let e = e.get(first..).ok_or(VerifyError::InvalidKey)?;
                rs::RsaPublicKeyComponents { n: modulus, e }
                    .verify(params, message, sig)
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
