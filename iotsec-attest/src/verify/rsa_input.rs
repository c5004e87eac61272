//! The RSA key and signature every backend verifies (TPM 2.0 Part 1 §B.7), checked in one place.

use crate::error::VerifyError;
use crate::tpm::algorithm::HashAlg;
use crate::tpm::public::PublicKey;
use crate::tpm::signature::TpmSignature;

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
/// floor, and the `rsa` crate's and [`crate::tpm::public::MAX_RSA_MODULUS`]'s ceiling).
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
