//! The key an MCUboot image must be signed with. MCUboot names the signing key in the image
//! by KEYHASH (the image hash algorithm over the key's SubjectPublicKeyInfo DER, RFC 5280
//! §4.1.2.7) or by PUBKEY (that DER itself), as imgtool's `get_public_bytes` encodes it.
//!
//! The SubjectPublicKeyInfo of an Ed25519 key (RFC 8410 §4) and of an uncompressed P-256 key
//! (RFC 5480 §2) is a fixed DER prefix followed by the key, so keys are recognised by an exact
//! comparison with that prefix: stricter than a general DER parser, and nothing to link.

use crate::mcuboot::error::McubootError;
use crate::signature_algorithm::Algorithm;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (OID 1.3.101.112), before the 32-byte key.
pub(super) const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1), before the
/// 65-byte uncompressed point.
pub(super) const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// Longest SubjectPublicKeyInfo this module produces (P-256).
pub(super) const MAX_SPKI_LEN: usize = 26 + 65;

/// The signature algorithm of a trusted MCUboot key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// Ed25519 (TLV `ED25519`), over the image digest or, pure, over the image.
    Ed25519,
    /// ECDSA P-256 with SHA-256 (TLV `ECDSA_SIG`, DER).
    EcdsaP256,
}

impl KeyAlgorithm {
    /// The crate-wide algorithm of the same key type.
    pub fn algorithm(self) -> Algorithm {
        match self {
            KeyAlgorithm::Ed25519 => Algorithm::EdDsa,
            KeyAlgorithm::EcdsaP256 => Algorithm::Es256,
        }
    }

    fn prefix(self) -> &'static [u8] {
        match self {
            KeyAlgorithm::Ed25519 => &ED25519_SPKI_PREFIX,
            KeyAlgorithm::EcdsaP256 => &P256_SPKI_PREFIX,
        }
    }
}

/// A public key the device trusts for MCUboot images, checked once at construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedKey {
    algorithm: KeyAlgorithm,
    spki: [u8; MAX_SPKI_LEN],
    spki_len: usize,
}

impl TrustedKey {
    /// A key of `algorithm` from its raw encoding: 32 bytes for Ed25519, the 65-byte
    /// uncompressed SEC1 point for P-256. Refuses keys [`Algorithm::check_public_key`]
    /// refuses (and algorithms this build leaves out).
    pub fn from_raw(algorithm: KeyAlgorithm, raw: &[u8]) -> Result<Self, McubootError> {
        algorithm
            .algorithm()
            .check_public_key(raw)
            .map_err(|_| McubootError::InvalidKey)?;
        let prefix = algorithm.prefix();
        let spki_len = prefix.len() + raw.len();
        let mut spki = [0u8; MAX_SPKI_LEN];
        let (head, tail) = spki.split_at_mut(prefix.len());
        head.copy_from_slice(prefix);
        tail.get_mut(..raw.len())
            .ok_or(McubootError::InvalidKey)?
            .copy_from_slice(raw);
        Ok(TrustedKey {
            algorithm,
            spki,
            spki_len,
        })
    }

    /// A key from its SubjectPublicKeyInfo DER (what
    /// a `PUBLIC KEY` PEM holds).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, McubootError> {
        for algorithm in [KeyAlgorithm::Ed25519, KeyAlgorithm::EcdsaP256] {
            if let Some(raw) = der.strip_prefix(algorithm.prefix()) {
                return TrustedKey::from_raw(algorithm, raw);
            }
        }
        Err(McubootError::InvalidKey)
    }

    /// A key from a `PUBLIC KEY` PEM file (RFC 7468 §13), as `imgtool getpub --encoding pem`
    /// writes it.
    #[cfg(feature = "std")]
    pub fn from_pem(text: &str) -> Result<Self, McubootError> {
        let (label, der) = pem_rfc7468::decode_vec(text.trim().as_bytes())
            .map_err(|_| McubootError::InvalidKey)?;
        if label != "PUBLIC KEY" {
            return Err(McubootError::InvalidKey);
        }
        TrustedKey::from_spki_der(&der)
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The SubjectPublicKeyInfo DER (the PUBKEY TLV value; KEYHASH hashes it).
    pub fn spki(&self) -> &[u8] {
        self.spki.get(..self.spki_len).unwrap_or(&[])
    }

    /// The raw key (32 bytes, or the 65-byte SEC1 point).
    pub fn raw(&self) -> &[u8] {
        self.spki
            .get(self.algorithm.prefix().len()..self.spki_len)
            .unwrap_or(&[])
    }
}
