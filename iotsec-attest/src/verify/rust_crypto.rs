//! The pure-Rust backend (RustCrypto `p256`, `p384`, `rsa`): usable without `std`, the
//! reference the other backends are tested against (TPM 2.0 Part 1 §B.8 ECDSA, §B.7 RSASSA and
//! RSAPSS).

use p256::ecdsa::signature::hazmat::PrehashVerifier;

use crate::error::VerifyError;
use crate::tpm::algorithm::EccCurve;
#[cfg(feature = "alloc")]
use crate::tpm::algorithm::HashAlg;
use crate::tpm::public::{PublicArea, PublicKey};
use crate::tpm::signature::TpmSignature;
use crate::verify::SignatureVerifier;
use crate::verify::rsa_input::{RsaInput, rsa_input};
use crate::wire::left_pad;

/// Pure-Rust verifier (RustCrypto p256, p384, rsa), usable without `std`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoVerifier;

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
                    // The ecdsa crate refuses a prehash shorter than half the field (SHA-1's 20
                    // bytes on P-384) although FIPS 186-5 §6.4.2 takes it as an integer as it is;
                    // zeros in front give that same integer.
                    let padded = left_pad::<48>(digest.as_bytes());
                    let prehash = match &padded {
                        Some(p) if digest.as_bytes().len() < 48 => p.as_slice(),
                        _ => digest.as_bytes(),
                    };
                    vk.verify_prehash(prehash, &sig)
                        .map_err(|_| VerifyError::BadSignature)
                }
            },
            (PublicKey::Rsa { .. }, TpmSignature::RsaSsa { .. } | TpmSignature::RsaPss { .. }) => {
                match rsa_input(&key.key, signature) {
                    Some(rsa) => verify_rsa(&rsa, digest.as_bytes()),
                    None => Err(VerifyError::SchemeKeyMismatch {
                        scheme: signature.scheme_id(),
                    }),
                }
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
pub(crate) fn verify_rsa(rsa: &RsaInput<'_>, digest: &[u8]) -> Result<(), VerifyError> {
    rsa.check_key()?;
    let key = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(rsa.modulus),
        rsa::BigUint::from(rsa.exponent),
    )
    .map_err(|_| VerifyError::InvalidKey)?;
    match rsa.hash {
        HashAlg::Sha1 => verify_rsa_with::<sha1::Sha1>(&key, rsa, digest),
        HashAlg::Sha256 => verify_rsa_with::<sha2::Sha256>(&key, rsa, digest),
        HashAlg::Sha384 => verify_rsa_with::<sha2::Sha384>(&key, rsa, digest),
        HashAlg::Sha512 => verify_rsa_with::<sha2::Sha512>(&key, rsa, digest),
    }
}

#[cfg(feature = "alloc")]
fn verify_rsa_with<D>(
    key: &rsa::RsaPublicKey,
    rsa: &RsaInput<'_>,
    digest: &[u8],
) -> Result<(), VerifyError>
where
    D: 'static
        + digest::Digest
        + digest::DynDigest
        + Send
        + Sync
        + digest::const_oid::AssociatedOid,
{
    let result = if rsa.pss {
        key.verify(rsa::Pss::new::<D>(), digest, rsa.sig)
    } else {
        key.verify(rsa::Pkcs1v15Sign::new::<D>(), digest, rsa.sig)
    };
    result.map_err(|_| VerifyError::BadSignature)
}

#[cfg(not(feature = "alloc"))]
pub(crate) fn verify_rsa(rsa: &RsaInput<'_>, _digest: &[u8]) -> Result<(), VerifyError> {
    rsa.check_key()?;
    Err(VerifyError::RsaNeedsAlloc)
}
