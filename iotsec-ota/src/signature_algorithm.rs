//! The signature algorithms a trust root may name: EdDSA with Ed25519 (RFC 9053 §2.2, RFC 8032
//! §5.1.7) and ES256, ECDSA P-256 with SHA-256 in the raw `r || s` form (RFC 9053 §2.1).
//!
//! Each algorithm is a cargo feature (`ed25519`, `es256`) so firmware links only what it uses.

/// A COSE signature algorithm this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// EdDSA over Ed25519, COSE algorithm -8. Verified strictly (RFC 8032 §5.1.7, canonical
    /// `S`, no small-order `A` or `R`).
    EdDsa,
    /// ECDSA over P-256 with SHA-256, COSE algorithm -7; signatures are `r || s` (64 bytes).
    Es256,
}

/// Why a signature or key was refused by the signature layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The algorithm is not compiled into this build.
    #[error("signature algorithm not supported by this build")]
    Unsupported,
    /// The public key is not a valid, canonical encoding of a usable key.
    #[error("invalid public key")]
    InvalidKey,
    /// The signature does not verify.
    #[error("signature does not verify")]
    Invalid,
}

impl Algorithm {
    /// The COSE algorithm identifier (RFC 9053 §2).
    pub const fn cose_id(self) -> i64 {
        match self {
            Algorithm::EdDsa => -8,
            Algorithm::Es256 => -7,
        }
    }

    /// The algorithm with this COSE identifier.
    pub const fn from_cose_id(id: i64) -> Option<Self> {
        match id {
            -8 => Some(Algorithm::EdDsa),
            -7 => Some(Algorithm::Es256),
            _ => None,
        }
    }

    /// Checks that `public_key` is the one canonical encoding of a usable key: 32 bytes for
    /// Ed25519 (not small order, `y` reduced), 65-byte uncompressed SEC1 for P-256 (on curve).
    /// Canonical encodings make "same key" a byte comparison, which threshold counting needs.
    pub fn check_public_key(self, public_key: &[u8]) -> Result<(), SignatureError> {
        match self {
            Algorithm::EdDsa => ed25519::check_public_key(public_key),
            Algorithm::Es256 => es256::check_public_key(public_key),
        }
    }

    /// Verifies `signature` over `message` with `public_key`.
    pub fn verify(
        self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        match self {
            Algorithm::EdDsa => ed25519::verify(public_key, message, signature),
            Algorithm::Es256 => es256::verify(public_key, message, signature),
        }
    }
}

#[cfg(feature = "ed25519")]
mod ed25519 {
    use ed25519_dalek::{Signature, VerifyingKey};

    use super::SignatureError;

    fn key(public_key: &[u8]) -> Result<VerifyingKey, SignatureError> {
        let bytes: &[u8; 32] = public_key
            .try_into()
            .map_err(|_| SignatureError::InvalidKey)?;
        VerifyingKey::from_bytes(bytes).map_err(|_| SignatureError::InvalidKey)
    }

    pub(super) fn check_public_key(public_key: &[u8]) -> Result<(), SignatureError> {
        let key = key(public_key)?;
        if key.is_weak() || key.to_edwards().compress().as_bytes() != key.as_bytes() {
            return Err(SignatureError::InvalidKey);
        }
        Ok(())
    }

    pub(super) fn verify(
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let key = key(public_key)?;
        let signature = Signature::from_slice(signature).map_err(|_| SignatureError::Invalid)?;
        key.verify_strict(message, &signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

#[cfg(not(feature = "ed25519"))]
mod ed25519 {
    use super::SignatureError;

    pub(super) fn check_public_key(_: &[u8]) -> Result<(), SignatureError> {
        Err(SignatureError::Unsupported)
    }

    pub(super) fn verify(_: &[u8], _: &[u8], _: &[u8]) -> Result<(), SignatureError> {
        Err(SignatureError::Unsupported)
    }
}

#[cfg(feature = "es256")]
mod es256 {
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};

    use super::SignatureError;

    fn key(public_key: &[u8]) -> Result<VerifyingKey, SignatureError> {
        // Uncompressed SEC1 only: one encoding per key.
        if public_key.len() != 65 || public_key.first() != Some(&0x04) {
            return Err(SignatureError::InvalidKey);
        }
        VerifyingKey::from_sec1_bytes(public_key).map_err(|_| SignatureError::InvalidKey)
    }

    pub(super) fn check_public_key(public_key: &[u8]) -> Result<(), SignatureError> {
        key(public_key).map(|_| ())
    }

    pub(super) fn verify(
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let key = key(public_key)?;
        let signature = Signature::from_slice(signature).map_err(|_| SignatureError::Invalid)?;
        key.verify(message, &signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

#[cfg(not(feature = "es256"))]
mod es256 {
    use super::SignatureError;

    pub(super) fn check_public_key(_: &[u8]) -> Result<(), SignatureError> {
        Err(SignatureError::Unsupported)
    }

    pub(super) fn verify(_: &[u8], _: &[u8], _: &[u8]) -> Result<(), SignatureError> {
        Err(SignatureError::Unsupported)
    }
}
