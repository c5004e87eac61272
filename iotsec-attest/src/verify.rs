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

/// An RSA key with an RSASSA or RSAPSS signature (TPM 2.0 Part 1 §B.7), as every backend sees
/// it: one place decides which pairs are RSA and which keys are usable, so the RustCrypto and
/// `ring` backends cannot drift apart (they did: `ring` refused SHA-1, RustCrypto verified it).
/// Whether a hash is acceptable is the appraisal policy's decision, not a backend's.
// Without `alloc` there is no RSA backend: only the key checks read the input.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct RsaInput<'a> {
    /// Modulus, big-endian, no leading zero byte (checked).
    pub(crate) modulus: &'a [u8],
    /// Public exponent, odd and at least 3 (checked).
    pub(crate) exponent: u32,
    /// The signature's hash.
    pub(crate) hash: HashAlg,
    /// RSAPSS (true) or RSASSA-PKCS1-v1_5 (false).
    pub(crate) pss: bool,
    /// The signature, as long as the modulus when genuine.
    pub(crate) sig: &'a [u8],
}

/// The RSA parts of `key` and `signature`; `None` when they are not an RSA key with an RSA
/// signature.
pub(crate) fn rsa_input<'a>(
    key: &PublicKey<'a>,
    signature: &TpmSignature<'a>,
) -> Option<RsaInput<'a>> {
    let PublicKey::Rsa {
        modulus, exponent, ..
    } = *key
    else {
        return None;
    };
    let (hash, pss, sig) = match *signature {
        TpmSignature::RsaSsa { hash, sig } => (hash, false, sig),
        TpmSignature::RsaPss { hash, sig } => (hash, true, sig),
        _ => return None,
    };
    Some(RsaInput {
        modulus,
        exponent,
        hash,
        pss,
        sig,
    })
}

/// Smallest and largest RSA modulus either backend verifies with (2048 and 4096 bits: `ring`'s
/// floor, and the `rsa` crate's and [`crate::public::MAX_RSA_MODULUS`]'s ceiling).
const RSA_BITS: core::ops::RangeInclusive<usize> = 2048..=4096;

impl RsaInput<'_> {
    /// The key checks both backends apply before verifying, the strictest of the two
    /// libraries: a 2048-4096 bit odd modulus without leading zero bytes, an odd exponent
    /// of at least 3.
    pub(crate) fn check_key(&self) -> Result<(), VerifyError> {
        let (Some(&first), Some(&last)) = (self.modulus.first(), self.modulus.last()) else {
            return Err(VerifyError::InvalidKey);
        };
        if first == 0 || last & 1 == 0 || self.exponent < 3 || self.exponent & 1 == 0 {
            return Err(VerifyError::InvalidKey);
        }
        let bits = self.modulus.len() * 8 - first.leading_zeros() as usize;
        if !RSA_BITS.contains(&bits) {
            return Err(VerifyError::UnsupportedKey);
        }
        Ok(())
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
