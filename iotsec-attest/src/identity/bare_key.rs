//! Attestation keys given as bare public keys: the PEM SubjectPublicKeyInfo (RFC 5280 §4.1.2.7,
//! RFC 7468) that `tpm2_readpublic -f pem` writes. Such a key carries no TPM object attributes,
//! so appraisal cannot prove it is a restricted key and says so ([`crate::tpm::public::KeyOrigin::BareKey`]).

use std::vec::Vec;

use p256::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;

use crate::tpm::algorithm::EccCurve;
use crate::tpm::public::{PublicArea, PublicKey};

/// An owned public key decoded from PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BareKey {
    /// ECC point.
    Ecc {
        /// Curve.
        curve: EccCurve,
        /// X, big-endian, full width.
        x: Vec<u8>,
        /// Y, big-endian, full width.
        y: Vec<u8>,
    },
    /// RSA key.
    Rsa {
        /// Modulus, big-endian.
        modulus: Vec<u8>,
        /// Exponent.
        exponent: u32,
    },
}

/// Why a PEM key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BareKeyError {
    /// Not a P-256, P-384 or RSA SubjectPublicKeyInfo in PEM.
    #[error("not a P-256, P-384 or RSA public key in PEM")]
    Unsupported,
    /// RSA exponent that does not fit 32 bits.
    #[error("RSA public exponent larger than 32 bits")]
    ExponentTooLarge,
}

crate::error::error_codes!(BareKeyError {
    BareKeyError::Unsupported => "unsupported", BadInput;
    BareKeyError::ExponentTooLarge => "exponent_too_large", BadInput;
});

impl BareKey {
    /// Decodes a `-----BEGIN PUBLIC KEY-----` document.
    pub fn from_pem(pem: &str) -> Result<Self, BareKeyError> {
        if let Ok(k) = p256::PublicKey::from_public_key_pem(pem) {
            let p = p256::EncodedPoint::from(k);
            return Ok(BareKey::Ecc {
                curve: EccCurve::NistP256,
                x: p.x().map(|c| c.to_vec()).unwrap_or_default(),
                y: p.y().map(|c| c.to_vec()).unwrap_or_default(),
            });
        }
        if let Ok(k) = p384::PublicKey::from_public_key_pem(pem) {
            let p = p384::EncodedPoint::from(k);
            return Ok(BareKey::Ecc {
                curve: EccCurve::NistP384,
                x: p.x().map(|c| c.to_vec()).unwrap_or_default(),
                y: p.y().map(|c| c.to_vec()).unwrap_or_default(),
            });
        }
        if let Ok(k) = rsa::RsaPublicKey::from_public_key_pem(pem) {
            let e = k.e().to_bytes_be();
            if e.len() > 4 {
                return Err(BareKeyError::ExponentTooLarge);
            }
            let exponent = e.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
            return Ok(BareKey::Rsa {
                modulus: k.n().to_bytes_be(),
                exponent,
            });
        }
        Err(BareKeyError::Unsupported)
    }

    /// A view usable by the verifiers and appraisal; its origin is [`crate::tpm::public::KeyOrigin::BareKey`] and
    /// its attributes are empty.
    pub fn as_public_area(&self) -> PublicArea<'_> {
        let key = match self {
            BareKey::Ecc { curve, x, y } => PublicKey::Ecc {
                curve: *curve,
                x,
                y,
            },
            BareKey::Rsa { modulus, exponent } => PublicKey::Rsa {
                modulus,
                exponent: *exponent,
                key_bits: u16::try_from(modulus.len() * 8).unwrap_or(u16::MAX),
            },
        };
        PublicArea::bare(key)
    }
}
