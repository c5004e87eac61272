//! Cloud signature verification on `aws-lc-rs` (rustls's default provider), feature `aws-lc`:
//! the same decisions as [`crate::verify::ring::RingVerifier`] (one `provider_input`
//! decides for both), faster, and with [`PreparedAk`]: a verifier bound to one registered
//! attestation key that parses it once, as a verifier service does when the AK is enrolled,
//! instead of once per quote (for RSA this keeps the Montgomery constants of the modulus).

use aws_lc_rs::signature::{self as ls, ParsedPublicKey, UnparsedPublicKey};

use crate::error::VerifyError;
use crate::tpm::algorithm::{EccCurve, HashAlg};
use crate::tpm::public::{PublicArea, PublicKey};
use crate::tpm::signature::TpmSignature;
use crate::verify::provider_input::{ProviderAlg, ProviderInput, provider_input};
use crate::verify::{RustCryptoVerifier, SignatureVerifier};

/// Verifier backed by `aws-lc-rs`; parses the key on every call (see [`PreparedAk`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsLcVerifier;

impl SignatureVerifier for AwsLcVerifier {
    fn verify(
        &self,
        key: &PublicArea<'_>,
        message: &[u8],
        signature: &TpmSignature<'_>,
    ) -> Result<(), VerifyError> {
        let Some(input) = provider_input(key, signature)? else {
            return RustCryptoVerifier.verify(key, message, signature);
        };
        let Some(alg) = lc_alg(input.alg) else {
            return RustCryptoVerifier.verify(key, message, signature);
        };
        let verdict = match (input.key.point(), input.key.rsa(), alg) {
            (Some(point), _, LcAlg::Ecdsa(alg)) => {
                UnparsedPublicKey::new(alg, point).verify(message, input.signature())
            }
            (_, Some((n, e)), LcAlg::Rsa(params)) => {
                ls::RsaPublicKeyComponents { n, e }.verify(params, message, input.signature())
            }
            _ => return Err(mismatch(signature)),
        };
        verdict.map_err(|_| VerifyError::BadSignature)
    }
}

/// An attestation key parsed once for the `aws-lc-rs` provider, for the signature algorithm its
/// public area declares (or, for a key without a scheme, ECDSA with the curve's hash and
/// RSASSA-SHA-256). It verifies exactly as [`AwsLcVerifier`] does: a quote under another key or
/// with another algorithm is verified the per-call way, never with the prepared key.
pub struct PreparedAk {
    /// `None` when the provider has no primitive for the declared scheme (ECDSA-SHA1,
    /// RSAPSS-SHA1): every call then takes the per-call path.
    prepared: Option<Prepared>,
}

/// The provider's parsed key, with what it was parsed from.
struct Prepared {
    /// The key as the provider encodes it, to recognise it in later calls.
    material: Material,
    alg: ProviderAlg,
    parsed: ParsedPublicKey,
}

/// Owned copy of the provider encoding of a key.
#[derive(PartialEq, Eq)]
enum Material {
    Point(Vec<u8>),
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl core::fmt::Debug for PreparedAk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PreparedAk")
            .field("alg", &self.prepared.as_ref().map(|p| p.alg))
            .finish_non_exhaustive()
    }
}

impl PreparedAk {
    /// Parses `ak` once. Fails with [`VerifyError::InvalidKey`] / [`VerifyError::UnsupportedKey`]
    /// for a key every quote would be refused for (a point not on the curve, RSA outside 2048
    /// to 4096 bits or with an even modulus or exponent).
    pub fn new(ak: &PublicArea<'_>) -> Result<Self, VerifyError> {
        let probe = probe_signature(ak);
        let Some((input, lc)) =
            provider_input(ak, &probe)?.and_then(|i| lc_alg(i.alg).map(|lc| (i, lc)))
        else {
            return Ok(Self { prepared: None });
        };
        let (material, parsed) = match (input.key.point(), input.key.rsa(), lc) {
            (Some(point), _, LcAlg::Ecdsa(alg)) => (
                Material::Point(point.to_vec()),
                ParsedPublicKey::new(alg, point).map_err(|_| VerifyError::InvalidKey)?,
            ),
            (_, Some((n, e)), LcAlg::Rsa(params)) => (
                Material::Rsa {
                    n: n.to_vec(),
                    e: e.to_vec(),
                },
                ls::RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(params)
                    .map_err(|_| VerifyError::InvalidKey)?,
            ),
            _ => return Err(mismatch(&probe)),
        };
        Ok(Self {
            prepared: Some(Prepared {
                material,
                alg: input.alg,
                parsed,
            }),
        })
    }

    /// Whether the key was parsed once (`false`: no provider primitive for its scheme, every
    /// quote is verified the per-call way).
    pub fn is_parsed(&self) -> bool {
        self.prepared.is_some()
    }
}

impl Prepared {
    /// True when `input` is a signature under this key with the prepared algorithm.
    fn is_for(&self, input: &ProviderInput<'_>) -> bool {
        if input.alg != self.alg {
            return false;
        }
        match (&self.material, input.key.point(), input.key.rsa()) {
            (Material::Point(p), Some(point), _) => p.as_slice() == point,
            (Material::Rsa { n, e }, _, Some((n2, e2))) => n.as_slice() == n2 && e.as_slice() == e2,
            _ => false,
        }
    }
}

impl SignatureVerifier for PreparedAk {
    fn verify(
        &self,
        key: &PublicArea<'_>,
        message: &[u8],
        signature: &TpmSignature<'_>,
    ) -> Result<(), VerifyError> {
        match (&self.prepared, provider_input(key, signature)?) {
            (Some(p), Some(input)) if p.is_for(&input) => p
                .parsed
                .verify_sig(message, input.signature())
                .map_err(|_| VerifyError::BadSignature),
            _ => AwsLcVerifier.verify(key, message, signature),
        }
    }
}

/// A placeholder signature of the algorithm `ak` will sign with: its declared scheme, or the
/// default for its type. Only its algorithm is read.
fn probe_signature<'a>(ak: &PublicArea<'a>) -> TpmSignature<'a> {
    let declared = ak.scheme.hash.and_then(HashAlg::from_id);
    match ak.key {
        PublicKey::Ecc { curve, .. } => TpmSignature::Ecdsa {
            hash: declared.unwrap_or(match curve {
                EccCurve::NistP384 => HashAlg::Sha384,
                _ => HashAlg::Sha256,
            }),
            r: &[1],
            s: &[1],
        },
        PublicKey::Rsa { .. } => {
            let hash = declared.unwrap_or(HashAlg::Sha256);
            if ak.scheme.scheme == crate::tpm::algorithm::ALG_RSAPSS {
                TpmSignature::RsaPss { hash, sig: &[] }
            } else {
                TpmSignature::RsaSsa { hash, sig: &[] }
            }
        }
    }
}

fn mismatch(signature: &TpmSignature<'_>) -> VerifyError {
    VerifyError::SchemeKeyMismatch {
        scheme: signature.scheme_id(),
    }
}

enum LcAlg {
    Ecdsa(&'static ls::EcdsaVerificationAlgorithm),
    Rsa(&'static ls::RsaParameters),
}

/// `aws-lc-rs`'s primitive for `alg`; `None` for RSAPSS-SHA1, which the pure-Rust verifier
/// answers (as with `ring`).
fn lc_alg(alg: ProviderAlg) -> Option<LcAlg> {
    Some(match alg {
        ProviderAlg::EcdsaP256Sha256 => LcAlg::Ecdsa(&ls::ECDSA_P256_SHA256_FIXED),
        ProviderAlg::EcdsaP384Sha384 => LcAlg::Ecdsa(&ls::ECDSA_P384_SHA384_FIXED),
        ProviderAlg::RsaPkcs1(HashAlg::Sha1) => {
            LcAlg::Rsa(&ls::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY)
        }
        ProviderAlg::RsaPkcs1(HashAlg::Sha256) => LcAlg::Rsa(&ls::RSA_PKCS1_2048_8192_SHA256),
        ProviderAlg::RsaPkcs1(HashAlg::Sha384) => LcAlg::Rsa(&ls::RSA_PKCS1_2048_8192_SHA384),
        ProviderAlg::RsaPkcs1(HashAlg::Sha512) => LcAlg::Rsa(&ls::RSA_PKCS1_2048_8192_SHA512),
        ProviderAlg::RsaPss(HashAlg::Sha1) => return None,
        ProviderAlg::RsaPss(HashAlg::Sha256) => LcAlg::Rsa(&ls::RSA_PSS_2048_8192_SHA256),
        ProviderAlg::RsaPss(HashAlg::Sha384) => LcAlg::Rsa(&ls::RSA_PSS_2048_8192_SHA384),
        ProviderAlg::RsaPss(HashAlg::Sha512) => LcAlg::Rsa(&ls::RSA_PSS_2048_8192_SHA512),
    })
}
