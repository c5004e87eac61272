//! The signature algorithms a trust root may name: EdDSA with Ed25519 (RFC 9053 §2.2, RFC 8032
//! §5.1.7) and ES256, ECDSA P-256 with SHA-256 in the raw `r || s` form (RFC 9053 §2.1).
//!
//! Each algorithm is a cargo feature (`ed25519`, `es256`) so firmware links only what it uses.
//! ES256 has two backends: RustCrypto `p256` (portable, the default) and, with the feature
//! `es256-cm4` on Arm targets, `p256-cm4` (hand-scheduled Cortex-M4/M33 assembly, about 9x fewer
//! instructions and a fraction of the flash). Both sit behind the same strict checks here
//! (uncompressed SEC1 key on the curve, fixed-width `r || s` with both scalars in `1..n`, no
//! low-S requirement, as RFC 9053 §2.1 and RustCrypto decide); the Wycheproof P1363 vectors run
//! on an emulated Cortex-M4 against the host's RustCrypto verdicts to show they agree.

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

impl SignatureError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Unsupported => "signature_unsupported",
            SignatureError::InvalidKey => "signature_invalid_key",
            SignatureError::Invalid => "signature_invalid",
        }
    }

    /// Whether a signature was read and does not verify (rather than an unsupported algorithm or an
    /// unusable key).
    pub fn is_refusal(&self) -> bool {
        matches!(self, SignatureError::Invalid)
    }
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
        PublicKey::parse(self, public_key).map(|_| ())
    }

    /// Verifies `signature` over `message` with `public_key`.
    pub fn verify(
        self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        PublicKey::parse(self, public_key)?.verify(message, signature)
    }
}

/// A public key parsed once (point decompressed and checked), ready to verify many signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ParsedKey);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParsedKey {
    #[cfg(feature = "ed25519")]
    Ed25519(ed25519_dalek::VerifyingKey),
    #[cfg(feature = "es256")]
    Es256(es256::Key),
}

impl PublicKey {
    /// Parses the canonical encoding of a key for `algorithm` (see
    /// [`Algorithm::check_public_key`]).
    pub fn parse(algorithm: Algorithm, public_key: &[u8]) -> Result<Self, SignatureError> {
        match algorithm {
            Algorithm::EdDsa => ed25519::parse(public_key),
            Algorithm::Es256 => es256::parse(public_key),
        }
    }

    /// Verifies `signature` over `message`.
    #[cfg_attr(
        not(any(feature = "ed25519", feature = "es256")),
        allow(unused_variables)
    )]
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        match &self.0 {
            #[cfg(feature = "ed25519")]
            ParsedKey::Ed25519(key) => ed25519::verify(key, message, signature),
            #[cfg(feature = "es256")]
            ParsedKey::Es256(key) => es256::verify(key, message, signature),
            #[allow(unreachable_patterns)]
            _ => Err(SignatureError::Unsupported),
        }
    }

    /// Verifies an ES256 signature (`r || s`, 64 bytes) over a SHA-256 digest the caller has
    /// computed already, as formats that sign a digest do (MCUboot's image hash; FIPS 186-5
    /// §6.4.2 from step 2). Same backend and checks as [`PublicKey::verify`]; an EdDSA key is
    /// [`SignatureError::Unsupported`] here.
    #[cfg_attr(not(feature = "es256"), allow(unused_variables))]
    pub fn verify_es256_prehash(
        &self,
        digest: &[u8; 32],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        match &self.0 {
            #[cfg(feature = "es256")]
            ParsedKey::Es256(key) => es256::verify_prehash(key, digest, signature),
            #[allow(unreachable_patterns)]
            _ => Err(SignatureError::Unsupported),
        }
    }
}

#[cfg(feature = "ed25519")]
mod ed25519 {
    use ed25519_dalek::{Signature, VerifyingKey};

    use super::{ParsedKey, PublicKey, SignatureError};

    pub(super) fn parse(public_key: &[u8]) -> Result<PublicKey, SignatureError> {
        let bytes: &[u8; 32] = public_key
            .try_into()
            .map_err(|_| SignatureError::InvalidKey)?;
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| SignatureError::InvalidKey)?;
        if key.is_weak() || key.to_edwards().compress().as_bytes() != key.as_bytes() {
            return Err(SignatureError::InvalidKey);
        }
        Ok(PublicKey(ParsedKey::Ed25519(key)))
    }

    pub(super) fn verify(
        key: &VerifyingKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let signature = Signature::from_slice(signature).map_err(|_| SignatureError::Invalid)?;
        key.verify_strict(message, &signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

#[cfg(not(feature = "ed25519"))]
mod ed25519 {
    use super::{PublicKey, SignatureError};

    pub(super) fn parse(_: &[u8]) -> Result<PublicKey, SignatureError> {
        Err(SignatureError::Unsupported)
    }
}

#[cfg(all(
    feature = "es256",
    not(all(feature = "es256-cm4", target_arch = "arm"))
))]
mod es256 {
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};

    use super::{ParsedKey, PublicKey, SignatureError};

    pub(super) type Key = VerifyingKey;

    pub(super) fn parse(public_key: &[u8]) -> Result<PublicKey, SignatureError> {
        // Uncompressed SEC1 only: one encoding per key.
        if public_key.len() != 65 || public_key.first() != Some(&0x04) {
            return Err(SignatureError::InvalidKey);
        }
        VerifyingKey::from_sec1_bytes(public_key)
            .map(|key| PublicKey(ParsedKey::Es256(key)))
            .map_err(|_| SignatureError::InvalidKey)
    }

    pub(super) fn verify(
        key: &VerifyingKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let signature = Signature::from_slice(signature).map_err(|_| SignatureError::Invalid)?;
        key.verify(message, &signature)
            .map_err(|_| SignatureError::Invalid)
    }

    pub(super) fn verify_prehash(
        key: &VerifyingKey,
        digest: &[u8; 32],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let signature = Signature::from_slice(signature).map_err(|_| SignatureError::Invalid)?;
        key.verify_prehash(digest, &signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// The `p256-cm4` backend: the same decisions as the RustCrypto module above, on Cortex-M
/// assembly. Scalars and coordinates cross the boundary as little-endian `u32` words.
#[cfg(all(feature = "es256-cm4", target_arch = "arm"))]
mod es256 {
    use crate::sha256::{Digest, Sha256};

    use super::{ParsedKey, PublicKey, SignatureError};

    /// An affine public key whose coordinates are reduced and on the curve.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Key {
        x: [u32; 8],
        y: [u32; 8],
    }

    pub(super) fn parse(public_key: &[u8]) -> Result<PublicKey, SignatureError> {
        // Uncompressed SEC1 only: one encoding per key. `octet_string_to_point` checks both
        // coordinates below p and the curve equation (the identity has no affine encoding).
        if public_key.len() != 65 || public_key.first() != Some(&0x04) {
            return Err(SignatureError::InvalidKey);
        }
        let mut key = Key {
            x: [0; 8],
            y: [0; 8],
        };
        if p256_cm4::octet_string_to_point(&mut key.x, &mut key.y, public_key) {
            Ok(PublicKey(ParsedKey::Es256(key)))
        } else {
            Err(SignatureError::InvalidKey)
        }
    }

    /// A 32-byte big-endian integer as little-endian words.
    fn words_le(big_endian: &[u8]) -> Option<[u32; 8]> {
        let mut words = [0u32; 8];
        for (word, chunk) in words.iter_mut().rev().zip(big_endian.chunks_exact(4)) {
            *word = u32::from_be_bytes(chunk.try_into().ok()?);
        }
        Some(words)
    }

    pub(super) fn verify(
        key: &Key,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        verify_prehash(key, &Sha256::digest(message).into(), signature)
    }

    pub(super) fn verify_prehash(
        key: &Key,
        digest: &[u8; 32],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        // Fixed-width `r || s` (RFC 9053 §2.1); `verify` refuses r or s outside 1..n.
        if signature.len() != 64 {
            return Err(SignatureError::Invalid);
        }
        let (r, s) = signature.split_at(32);
        let (Some(r), Some(s)) = (words_le(r), words_le(s)) else {
            return Err(SignatureError::Invalid);
        };
        if p256_cm4::verify(&key.x, &key.y, digest, &r, &s) {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}

#[cfg(not(feature = "es256"))]
mod es256 {
    use super::{PublicKey, SignatureError};

    pub(super) fn parse(_: &[u8]) -> Result<PublicKey, SignatureError> {
        Err(SignatureError::Unsupported)
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use sha2::{Digest, Sha256};

    use super::{Algorithm, PublicKey, SignatureError};
    use crate::signer::{Ed25519Key, Es256Key, Signer};

    #[test]
    fn es256_prehash_verifies_the_digest_the_message_verifies_under() {
        let key = Es256Key::from_scalar(&[7; 32]).unwrap();
        let message = b"mcuboot image region";
        let signature = key.sign(message).unwrap();
        let public = PublicKey::parse(Algorithm::Es256, &key.public_key()).unwrap();
        let digest: [u8; 32] = Sha256::digest(message).into();
        assert_eq!(public.verify(message, &signature), Ok(()));
        assert_eq!(public.verify_es256_prehash(&digest, &signature), Ok(()));
        let mut other = digest;
        other[31] ^= 1;
        assert_eq!(
            public.verify_es256_prehash(&other, &signature),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            public.verify_es256_prehash(&digest, &signature[..63]),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn es256_prehash_refuses_an_eddsa_key() {
        let key = Ed25519Key::from_seed(&[9; 32]);
        let public = PublicKey::parse(Algorithm::EdDsa, &key.public_key()).unwrap();
        let signature = key.sign(b"x").unwrap();
        assert_eq!(
            public.verify_es256_prehash(&[0; 32], &signature),
            Err(SignatureError::Unsupported)
        );
    }
}
