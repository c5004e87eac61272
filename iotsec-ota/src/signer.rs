//! Cloud-side signing (`std`): a [`Signer`] trait so HSM and KMS keys plug in, in-memory
//! Ed25519 and ES256 keys that are zeroized on drop, and [`sign_document`], which produces a
//! `COSE_Sign` (RFC 9052 §4.1) with one signature per signer.

use alloc::vec::Vec;

use crate::sha256::{Digest, Sha256};

use crate::cose_sign::{assemble, body_protected, sig_structure, signature_protected};
use crate::signature_algorithm::Algorithm;

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key store (HSM, KMS, file) refused or failed.
    #[error("signer failed: {0}")]
    Backend(String),
    /// A document needs at least one signer.
    #[error("no signers given")]
    NoSigners,
    /// Too many signers for the device's cap.
    #[error("{count} signers exceed the cap of {cap}")]
    TooManySigners {
        /// Signers given.
        count: usize,
        /// The cap.
        cap: usize,
    },
    /// The key material is not a valid key.
    #[error("invalid key material")]
    InvalidKey,
}

impl SignError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            SignError::Backend(..) => "sign_backend",
            SignError::NoSigners => "sign_no_signers",
            SignError::TooManySigners { .. } => "sign_too_many_signers",
            SignError::InvalidKey => "sign_invalid_key",
        }
    }

    /// Never: signing judges nothing; every error is bad input or a backend failure.
    pub fn is_refusal(&self) -> bool {
        false
    }
}

/// A signing key, wherever it lives.
pub trait Signer {
    /// The algorithm the key signs with.
    fn algorithm(&self) -> Algorithm;
    /// The canonical public key (see [`Algorithm::check_public_key`]).
    fn public_key(&self) -> Vec<u8>;
    /// Signs `message` (the whole `Sig_structure`); returns the raw signature.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
    /// The key id: the first 8 bytes of SHA-256(COSE alg as i64 big endian || public key).
    fn key_id(&self) -> Vec<u8> {
        key_id_for(self.algorithm(), &self.public_key())
    }
}

/// The key id this crate derives for a public key.
pub fn key_id_for(algorithm: Algorithm, public_key: &[u8]) -> Vec<u8> {
    let digest = Sha256::new()
        .chain_update(algorithm.cose_id().to_be_bytes())
        .chain_update(public_key)
        .finalize();
    digest.iter().take(8).copied().collect()
}

/// An Ed25519 key held in memory (zeroized on drop by `ed25519-dalek`).
pub struct Ed25519Key(ed25519_dalek::SigningKey);

impl Ed25519Key {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Ed25519Key(ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng))
    }

    /// The key with this 32-byte secret seed (RFC 8032 §5.1.5).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Ed25519Key(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The secret seed, for storing the key; the caller must protect and zeroize it.
    pub fn to_seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.0.to_bytes())
    }
}

impl core::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ed25519Key").finish_non_exhaustive()
    }
}

impl Signer for Ed25519Key {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDsa
    }

    fn public_key(&self) -> Vec<u8> {
        self.0.verifying_key().to_bytes().to_vec()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        use ed25519_dalek::Signer as _;
        Ok(self.0.sign(message).to_bytes().to_vec())
    }
}

/// A P-256 key held in memory (zeroized on drop by `p256`/`ecdsa`).
pub struct Es256Key(p256::ecdsa::SigningKey);

impl Es256Key {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Es256Key(p256::ecdsa::SigningKey::random(&mut rand_core::OsRng))
    }

    /// The key with this 32-byte big-endian secret scalar.
    pub fn from_scalar(scalar: &[u8; 32]) -> Result<Self, SignError> {
        p256::ecdsa::SigningKey::from_slice(scalar)
            .map(Es256Key)
            .map_err(|_| SignError::InvalidKey)
    }

    /// The secret scalar, for storing the key; the caller must protect and zeroize it.
    pub fn to_scalar(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.0.to_bytes().into())
    }
}

impl core::fmt::Debug for Es256Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Es256Key").finish_non_exhaustive()
    }
}

impl Signer for Es256Key {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }

    fn public_key(&self) -> Vec<u8> {
        self.0
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        use p256::ecdsa::signature::Signer as _;
        let signature: p256::ecdsa::Signature = self.0.sign(message);
        Ok(signature.to_bytes().to_vec())
    }
}

/// Signs `payload` as a tagged `COSE_Sign` with `content_type`, one signature per signer.
pub fn sign_document(
    content_type: &str,
    payload: &[u8],
    signers: &[&dyn Signer],
) -> Result<Vec<u8>, SignError> {
    if signers.is_empty() {
        return Err(SignError::NoSigners);
    }
    if signers.len() > crate::cose_sign::MAX_SIGNATURES {
        return Err(SignError::TooManySigners {
            count: signers.len(),
            cap: crate::cose_sign::MAX_SIGNATURES,
        });
    }
    let body = body_protected(content_type);
    let mut signatures = Vec::with_capacity(signers.len());
    for signer in signers {
        let protected = signature_protected(signer.algorithm(), &signer.key_id());
        let signature = signer.sign(&sig_structure(&body, &protected, payload))?;
        signatures.push((protected, signature));
    }
    Ok(assemble(&body, payload, &signatures))
}

// Both wrap keys whose own Drop zeroizes the secret (ed25519-dalek with `zeroize`, ecdsa).
impl zeroize::ZeroizeOnDrop for Ed25519Key {}
impl zeroize::ZeroizeOnDrop for Es256Key {}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}

    #[test]
    fn in_memory_keys_wrap_types_that_zeroize_on_drop() {
        // Fails to compile if a dependency feature change drops zeroize-on-drop.
        zeroized_on_drop::<ed25519_dalek::SigningKey>();
        zeroized_on_drop::<p256::ecdsa::SigningKey>();
    }

    #[test]
    fn signatures_verify_and_key_ids_are_stable() {
        let ed = Ed25519Key::from_seed(&[7; 32]);
        let es = Es256Key::from_scalar(&[7; 32]).unwrap();
        for key in [&ed as &dyn Signer, &es] {
            let signature = key.sign(b"message").unwrap();
            assert_eq!(
                key.algorithm()
                    .verify(&key.public_key(), b"message", &signature),
                Ok(())
            );
            assert_eq!(key.key_id(), key_id_for(key.algorithm(), &key.public_key()));
            assert_eq!(key.key_id().len(), 8);
        }
        assert_ne!(ed.key_id(), es.key_id());
        assert_eq!(
            Es256Key::from_scalar(&[0; 32]).map(|_| ()),
            Err(SignError::InvalidKey)
        );
        assert_eq!(sign_document("x", b"p", &[]), Err(SignError::NoSigners));
    }
}
