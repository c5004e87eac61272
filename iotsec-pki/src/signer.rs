//! The CA's signing key behind a small trait, so the intermediate key can live in an HSM
//! (PKCS#11) or a cloud KMS while the CA logic stays the same.

use crate::ca_error::CaError;

/// Signature algorithms a CA key may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignerAlgorithm {
    /// ECDSA P-256 with SHA-256, DER signature (the default).
    EcdsaP256Sha256,
    /// Ed25519.
    Ed25519,
}

/// A CA signing key. Implement it for an HSM key; [`SoftwareSigner`] is the in-memory one.
pub trait Signer: Send + Sync {
    /// The algorithm.
    fn algorithm(&self) -> SignerAlgorithm;
    /// The raw subjectPublicKey (SEC1 uncompressed point, or the 32-byte Ed25519 key).
    fn public_key(&self) -> &[u8];
    /// Signs `message` (X.509 encoding: DER ECDSA signature or raw Ed25519).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CaError>;
}

/// A software key held by ring (through rcgen), zeroized by ring on drop.
pub struct SoftwareSigner {
    key: rcgen::KeyPair,
}

impl core::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SoftwareSigner(..)")
    }
}

impl SoftwareSigner {
    /// Generates a fresh P-256 key.
    pub fn generate_p256() -> Result<Self, CaError> {
        Ok(Self {
            key: rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
        })
    }

    /// Loads a PKCS#8 PEM key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CaError> {
        Ok(Self {
            key: rcgen::KeyPair::from_pem(pem)?,
        })
    }

    /// The key as PKCS#8 PEM (zeroized on drop).
    pub fn to_pkcs8_pem(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(self.key.serialize_pem())
    }
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> SignerAlgorithm {
        if rcgen::PublicKeyData::algorithm(&self.key) == &rcgen::PKCS_ED25519 {
            SignerAlgorithm::Ed25519
        } else {
            SignerAlgorithm::EcdsaP256Sha256
        }
    }
    fn public_key(&self) -> &[u8] {
        rcgen::PublicKeyData::der_bytes(&self.key)
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CaError> {
        rcgen::SigningKey::sign(&self.key, message).map_err(|e| CaError::Signer(e.to_string()))
    }
}

/// Adapts any [`Signer`] to rcgen's signing interface.
pub(crate) struct RcgenSigner<'a>(pub &'a dyn Signer);

pub(crate) fn rcgen_algorithm(a: SignerAlgorithm) -> &'static rcgen::SignatureAlgorithm {
    match a {
        SignerAlgorithm::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        SignerAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
    }
}

impl rcgen::PublicKeyData for RcgenSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0.public_key()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        rcgen_algorithm(self.0.algorithm())
    }
}

impl rcgen::SigningKey for RcgenSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.0.sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}
