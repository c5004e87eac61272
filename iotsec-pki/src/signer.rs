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

/// An rcgen key pair whose PKCS#8 copy is zeroized when dropped.
///
/// `rcgen::KeyPair` keeps the PKCS#8 DER it was made from in a plain `Vec<u8>` and clears
/// nothing on drop; its `zeroize` feature only adds a manual [`zeroize::Zeroize`]. This wrapper
/// calls it from `Drop`. What it cannot reach: the expanded key inside ring's `EcdsaKeyPair` /
/// `Ed25519KeyPair` (ring 0.17 zeroizes nothing on drop), which stays in freed memory.
pub(crate) struct ZeroizingKeyPair(rcgen::KeyPair);

impl ZeroizingKeyPair {
    /// Generates a fresh P-256 key pair.
    pub(crate) fn generate_p256() -> Result<Self, CaError> {
        Ok(Self(rcgen::KeyPair::generate_for(
            &rcgen::PKCS_ECDSA_P256_SHA256,
        )?))
    }

    /// Reads a PKCS#8 `PrivateKeyInfo` (DER); rcgen keeps one copy, wiped on drop.
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<Self, CaError> {
        let key = rustls_pki_types::PrivatePkcs8KeyDer::from(der);
        Ok(Self(rcgen::KeyPair::try_from(&key)?))
    }

    /// The PKCS#8 DER, copied into a buffer that is zeroized on drop.
    pub(crate) fn pkcs8_der(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(self.0.serialized_der().to_vec())
    }

    /// Clears rcgen's PKCS#8 copy (what `Drop` does).
    fn wipe(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl Drop for ZeroizingKeyPair {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl core::ops::Deref for ZeroizingKeyPair {
    type Target = rcgen::KeyPair;
    fn deref(&self) -> &rcgen::KeyPair {
        &self.0
    }
}

/// A software key held by ring (through rcgen). On drop the PKCS#8 copy rcgen keeps is
/// zeroized (a crate-private `ZeroizingKeyPair`); ring's expanded key is not (ring clears nothing).
pub struct SoftwareSigner {
    key: ZeroizingKeyPair,
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
            key: ZeroizingKeyPair::generate_p256()?,
        })
    }

    /// Loads a PKCS#8 PEM key (label `PRIVATE KEY`); the decoded DER is zeroized after use.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CaError> {
        let (label, der) = pem_rfc7468::decode_vec(pem.as_bytes())
            .map_err(|_| CaError::State("the CA key is not a PEM block".into()))?;
        let der = zeroize::Zeroizing::new(der);
        if label != "PRIVATE KEY" {
            return Err(CaError::State(format!(
                "the CA key is a {label:?} PEM block, not PRIVATE KEY (PKCS#8)"
            )));
        }
        Ok(Self {
            key: ZeroizingKeyPair::from_pkcs8_der(&der)?,
        })
    }

    /// The key as PKCS#8 PEM (zeroized on drop; no other copy is made on the way).
    pub fn to_pkcs8_pem(&self) -> Result<zeroize::Zeroizing<String>, CaError> {
        pem_rfc7468::encode_string(
            "PRIVATE KEY",
            pem_rfc7468::LineEnding::LF,
            self.key.serialized_der(),
        )
        .map(zeroize::Zeroizing::new)
        .map_err(|e| CaError::State(format!("PEM encoding of the CA key: {e}")))
    }
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> SignerAlgorithm {
        if rcgen::PublicKeyData::algorithm(&*self.key) == &rcgen::PKCS_ED25519 {
            SignerAlgorithm::Ed25519
        } else {
            SignerAlgorithm::EcdsaP256Sha256
        }
    }
    fn public_key(&self) -> &[u8] {
        rcgen::PublicKeyData::der_bytes(&*self.key)
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CaError> {
        rcgen::SigningKey::sign(&*self.key, message).map_err(|e| CaError::Signer(e.to_string()))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn wipe_clears_the_pkcs8_copy_rcgen_keeps() {
        let mut key = ZeroizingKeyPair::generate_p256().unwrap();
        // A P-256 PKCS#8 from ring is 138 bytes.
        assert_eq!(key.serialized_der().len(), 138);
        key.wipe();
        assert!(key.serialized_der().is_empty());
    }

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
