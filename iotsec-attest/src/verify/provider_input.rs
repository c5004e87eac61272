//! What a C-backed provider (`ring`, `aws-lc-rs`) is asked to verify, decided in one place so
//! that the providers cannot drift apart: the algorithm, the key as the providers encode it
//! (uncompressed point; RSA modulus and exponent) and the signature in fixed-width form. Pairs
//! the providers have no primitive for are answered by the pure-Rust verifier instead.

use crate::error::VerifyError;
use crate::tpm::algorithm::{EccCurve, HashAlg};
use crate::tpm::public::{PublicArea, PublicKey};
use crate::tpm::signature::TpmSignature;
use crate::verify::rsa_input::{RsaInput, rsa_input};

/// A signature algorithm both providers implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProviderAlg {
    /// ECDSA on P-256 with SHA-256, fixed-width `r || s`.
    EcdsaP256Sha256,
    /// ECDSA on P-384 with SHA-384, fixed-width `r || s`.
    EcdsaP384Sha384,
    /// RSASSA-PKCS1-v1_5 with this hash (SHA-1 included: refusing it is the policy's call).
    RsaPkcs1(HashAlg),
    /// RSAPSS with this hash (not SHA-1: neither provider has it).
    RsaPss(HashAlg),
}

/// The key as the providers take it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ProviderKey<'a> {
    /// SEC 1 uncompressed point `04 || x || y` (first `len` bytes of `buf`).
    EcPoint { buf: [u8; 97], len: usize },
    /// RSA modulus (checked: 2048 to 4096 bits, odd) and exponent (big-endian, no leading zero).
    Rsa {
        n: &'a [u8],
        e: [u8; 4],
        e_len: usize,
    },
}

impl ProviderKey<'_> {
    /// The uncompressed point, for an ECC key.
    pub(crate) fn point(&self) -> Option<&[u8]> {
        match self {
            ProviderKey::EcPoint { buf, len } => buf.get(..*len),
            ProviderKey::Rsa { .. } => None,
        }
    }

    /// Modulus and minimal big-endian exponent, for an RSA key.
    pub(crate) fn rsa(&self) -> Option<(&[u8], &[u8])> {
        match self {
            ProviderKey::Rsa { n, e, e_len } => Some((n, e.get(e.len().checked_sub(*e_len)?..)?)),
            ProviderKey::EcPoint { .. } => None,
        }
    }
}

/// One verification, ready for a provider.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProviderInput<'a> {
    pub(crate) alg: ProviderAlg,
    pub(crate) key: ProviderKey<'a>,
    /// ECDSA: `r || s` in the first `sig_len` bytes of `fixed`; RSA: the signature itself.
    fixed: [u8; 96],
    sig_len: usize,
    rsa_sig: &'a [u8],
}

impl ProviderInput<'_> {
    /// The signature in the form the provider's algorithm expects.
    pub(crate) fn signature(&self) -> &[u8] {
        match self.key {
            ProviderKey::EcPoint { .. } => self.fixed.get(..self.sig_len).unwrap_or(&[]),
            ProviderKey::Rsa { .. } => self.rsa_sig,
        }
    }
}

/// The provider form of (`key`, `signature`); `Ok(None)` when no provider implements the pair
/// (ECDSA with SHA-1 or SHA-512, ECDSA-SHA384 on P-256, RSAPSS-SHA1) and the pure-Rust verifier
/// must answer. Mismatched key and signature types and unusable RSA keys are errors here, once.
pub(crate) fn provider_input<'a>(
    key: &PublicArea<'a>,
    signature: &TpmSignature<'a>,
) -> Result<Option<ProviderInput<'a>>, VerifyError> {
    let mismatch = || VerifyError::SchemeKeyMismatch {
        scheme: signature.scheme_id(),
    };
    match (key.key, *signature) {
        (PublicKey::Ecc { curve, x, y }, TpmSignature::Ecdsa { hash, r, s }) => {
            let alg = match (curve, hash) {
                (EccCurve::NistP256, HashAlg::Sha256) => ProviderAlg::EcdsaP256Sha256,
                (EccCurve::NistP384, HashAlg::Sha384) => ProviderAlg::EcdsaP384Sha384,
                _ => return Ok(None),
            };
            let n = curve.field_len();
            let mut buf = [0u8; 97];
            let mut fixed = [0u8; 96];
            if let Some(first) = buf.first_mut() {
                *first = 4;
            }
            write_padded(&mut buf, 1, n, x).ok_or(VerifyError::InvalidKey)?;
            write_padded(&mut buf, 1 + n, n, y).ok_or(VerifyError::InvalidKey)?;
            write_padded(&mut fixed, 0, n, r).ok_or(VerifyError::BadSignature)?;
            write_padded(&mut fixed, n, n, s).ok_or(VerifyError::BadSignature)?;
            Ok(Some(ProviderInput {
                alg,
                key: ProviderKey::EcPoint {
                    buf,
                    len: 1 + 2 * n,
                },
                fixed,
                sig_len: 2 * n,
                rsa_sig: &[],
            }))
        }
        (PublicKey::Rsa { .. }, TpmSignature::RsaSsa { .. } | TpmSignature::RsaPss { .. }) => {
            let rsa: RsaInput<'a> = rsa_input(&key.key, signature).ok_or_else(mismatch)?;
            let alg = match (rsa.hash, rsa.pss) {
                (HashAlg::Sha1, true) => return Ok(None),
                (hash, false) => ProviderAlg::RsaPkcs1(hash),
                (hash, true) => ProviderAlg::RsaPss(hash),
            };
            rsa.check_key()?;
            let e = rsa.exponent.to_be_bytes();
            let e_len = 4 - e.iter().take_while(|&&b| b == 0).count();
            Ok(Some(ProviderInput {
                alg,
                key: ProviderKey::Rsa {
                    n: rsa.modulus,
                    e,
                    e_len,
                },
                fixed: [0u8; 96],
                sig_len: 0,
                rsa_sig: rsa.sig,
            }))
        }
        _ => Err(mismatch()),
    }
}

fn write_padded(buf: &mut [u8], at: usize, width: usize, v: &[u8]) -> Option<()> {
    let pad = width.checked_sub(v.len())?;
    buf.get_mut(at + pad..at + width)?.copy_from_slice(v);
    Some(())
}
