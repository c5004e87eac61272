//! The CA's signing key behind a small trait, so the intermediate key can live in an HSM
//! (PKCS#11) or a cloud KMS while the CA logic stays the same.

use crate::ca::error::CaError;

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

/// A software key (P-256 or Ed25519, RustCrypto): no rustls or ring provider is involved, so
/// the crate signs the same way whatever provider the application runs. The secret scalar or
/// seed is zeroized on drop (p256 and ed25519-dalek clear their keys), as is every PKCS#8 copy
/// made here.
pub struct SoftwareSigner {
    key: crate::device::key::DeviceKey,
    public_key: Vec<u8>,
}

impl core::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SoftwareSigner(..)")
    }
}

impl SoftwareSigner {
    fn from_key(key: crate::device::key::DeviceKey) -> Self {
        let public_key = key.raw_public_key();
        Self { key, public_key }
    }

    /// Generates a fresh P-256 key from the operating system's random source.
    pub fn generate_p256() -> Result<Self, CaError> {
        Ok(Self::from_key(crate::device::key::DeviceKey::generate(
            crate::device::key::KeyAlgorithm::P256,
            &mut rand_core::OsRng,
        )))
    }

    /// Reads a PKCS#8 `PrivateKeyInfo` (DER) holding a P-256 or Ed25519 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CaError> {
        Ok(Self::from_key(
            crate::device::key::DeviceKey::from_pkcs8_der(der)?,
        ))
    }

    /// Loads a PKCS#8 PEM key (label `PRIVATE KEY`); the decoded DER is zeroized after use.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CaError> {
        let (label, der) = pem_rfc7468::decode_vec(pem.as_bytes())
            .map_err(|_| CaError::CaKeyNotPkcs8 { label: None })?;
        let der = zeroize::Zeroizing::new(der);
        if label != "PRIVATE KEY" {
            return Err(CaError::CaKeyNotPkcs8 {
                label: Some(label.to_owned()),
            });
        }
        Self::from_pkcs8_der(&der)
    }

    /// The key as PKCS#8 DER (zeroized on drop).
    pub fn to_pkcs8_der(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, CaError> {
        Ok(self.key.to_pkcs8_der()?)
    }

    /// The key as PKCS#8 PEM (zeroized on drop, as is the DER on the way).
    pub fn to_pkcs8_pem(&self) -> Result<zeroize::Zeroizing<String>, CaError> {
        pem_rfc7468::encode_string(
            "PRIVATE KEY",
            pem_rfc7468::LineEnding::LF,
            &self.to_pkcs8_der()?,
        )
        .map(zeroize::Zeroizing::new)
        .map_err(|_| CaError::PemEncoding {
            label: "PRIVATE KEY".to_owned(),
        })
    }
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> SignerAlgorithm {
        match self.key.algorithm() {
            crate::device::key::KeyAlgorithm::Ed25519 => SignerAlgorithm::Ed25519,
            _ => SignerAlgorithm::EcdsaP256Sha256,
        }
    }
    fn public_key(&self) -> &[u8] {
        &self.public_key
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CaError> {
        self.key
            .sign(message)
            .map_err(|e| CaError::Signer(e.to_string()))
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

/// RFC 7093 §2 method 1 key identifier (the leftmost 160 bits of the SHA-256 of the
/// subjectPublicKeyInfo), what rcgen's `KeyIdMethod::Sha256` computes; computed here so rcgen
/// needs no crypto backend of its own.
pub(crate) fn key_id_of(key: &impl rcgen::PublicKeyData) -> rcgen::KeyIdMethod {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.subject_public_key_info());
    rcgen::KeyIdMethod::PreSpecified(digest.iter().take(20).copied().collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn pem_round_trips_and_other_labels_are_refused() {
        let a = SoftwareSigner::generate_p256().unwrap();
        let pem = a.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let b = SoftwareSigner::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        let ec = pem.replace("PRIVATE KEY", "EC PRIVATE KEY");
        let err = SoftwareSigner::from_pkcs8_pem(&ec).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CA state: the CA key is a \"EC PRIVATE KEY\" PEM block, not PRIVATE KEY (PKCS#8)"
        );
    }
}
