//! Signature verification of TPM evidence (TPM 2.0 Part 1 §B.8 ECDSA, §B.7 RSASSA/RSAPSS)
//! behind a small provider trait, in the manner of rustls' `CryptoProvider`: RustCrypto here for
//! `no_std`, [`crate::ring_verifier`] for the cloud.

use p256::ecdsa::signature::hazmat::PrehashVerifier;

use crate::algorithm::{EccCurve, HashAlg};
use crate::error::VerifyError;
use crate::public::{PublicArea, PublicKey};
use crate::signature::TpmSignature;

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

/// Pure-Rust verifier (RustCrypto p256, p384, rsa), usable without `std`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoVerifier;

/// Left-pads a big-endian integer to `N` bytes; `None` when it is longer.
pub(crate) fn left_pad<const N: usize>(v: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let start = N.checked_sub(v.len())?;
    out.get_mut(start..)?.copy_from_slice(v);
    Some(out)
}

impl SignatureVerifier for RustCryptoVerifier {
    fn verify(
        &self,
        key: &PublicArea<'_>,
        message: &[u8],
        signature: &TpmSignature<'_>,
    ) -> Result<(), VerifyError> {
        let digest = signature.hash().digest(&[message]);
        match (key.key, *signature) {
            (PublicKey::Ecc { curve, x, y }, TpmSignature::Ecdsa { r, s, .. }) => match curve {
                EccCurve::NistP256 => {
                    let (x, y) = coords::<32>(x, y)?;
                    let point =
                        p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
                    let vk = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                        .map_err(|_| VerifyError::InvalidKey)?;
                    let (r, s) = coords::<32>(r, s).map_err(|_| VerifyError::BadSignature)?;
                    let sig = p256::ecdsa::Signature::from_scalars(r, s)
                        .map_err(|_| VerifyError::BadSignature)?;
                    vk.verify_prehash(digest.as_bytes(), &sig)
                        .map_err(|_| VerifyError::BadSignature)
                }
                EccCurve::NistP384 => {
                    let (x, y) = coords::<48>(x, y)?;
                    let point =
                        p384::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
                    let vk = p384::ecdsa::VerifyingKey::from_encoded_point(&point)
                        .map_err(|_| VerifyError::InvalidKey)?;
                    let (r, s) = coords::<48>(r, s).map_err(|_| VerifyError::BadSignature)?;
                    let sig = p384::ecdsa::Signature::from_scalars(r, s)
                        .map_err(|_| VerifyError::BadSignature)?;
                    vk.verify_prehash(digest.as_bytes(), &sig)
                        .map_err(|_| VerifyError::BadSignature)
                }
            },
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
                verify_rsa(modulus, exponent, hash, pss, digest.as_bytes(), sig)
            }
            _ => Err(VerifyError::SchemeKeyMismatch {
                scheme: signature.scheme_id(),
            }),
        }
    }
}

fn coords<const N: usize>(x: &[u8], y: &[u8]) -> Result<([u8; N], [u8; N]), VerifyError> {
    match (left_pad::<N>(x), left_pad::<N>(y)) {
        (Some(x), Some(y)) => Ok((x, y)),
        _ => Err(VerifyError::InvalidKey),
    }
}

#[cfg(feature = "alloc")]
fn verify_rsa(
    modulus: &[u8],
    exponent: u32,
    hash: HashAlg,
    pss: bool,
    digest: &[u8],
    sig: &[u8],
) -> Result<(), VerifyError> {
    use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPublicKey};
    if modulus.len() < 256 {
        return Err(VerifyError::UnsupportedKey);
    }
    let key = RsaPublicKey::new(BigUint::from_bytes_be(modulus), BigUint::from(exponent))
        .map_err(|_| VerifyError::InvalidKey)?;
    let result = match (hash, pss) {
        (HashAlg::Sha1, false) => key.verify(Pkcs1v15Sign::new::<sha1::Sha1>(), digest, sig),
        (HashAlg::Sha256, false) => key.verify(Pkcs1v15Sign::new::<sha2::Sha256>(), digest, sig),
        (HashAlg::Sha384, false) => key.verify(Pkcs1v15Sign::new::<sha2::Sha384>(), digest, sig),
        (HashAlg::Sha512, false) => key.verify(Pkcs1v15Sign::new::<sha2::Sha512>(), digest, sig),
        (HashAlg::Sha1, true) => key.verify(Pss::new::<sha1::Sha1>(), digest, sig),
        (HashAlg::Sha256, true) => key.verify(Pss::new::<sha2::Sha256>(), digest, sig),
        (HashAlg::Sha384, true) => key.verify(Pss::new::<sha2::Sha384>(), digest, sig),
        (HashAlg::Sha512, true) => key.verify(Pss::new::<sha2::Sha512>(), digest, sig),
    };
    result.map_err(|_| VerifyError::BadSignature)
}

#[cfg(not(feature = "alloc"))]
fn verify_rsa(
    _modulus: &[u8],
    _exponent: u32,
    _hash: HashAlg,
    _pss: bool,
    _digest: &[u8],
    _sig: &[u8],
) -> Result<(), VerifyError> {
    Err(VerifyError::RsaNeedsAlloc)
}
