//! Device key pairs (P-256 ECDSA, Ed25519) whose secret halves are zeroized on drop.
//!
//! Keys are stored as PKCS#8 (RFC 5958) and published as SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
//! Randomness enters as a [`rand_core::CryptoRngCore`] argument, so the same code runs on a
//! device with a hardware TRNG and in tests with a fixed seed.

use alloc::vec::Vec;

use der::Encode;
use der::asn1::ObjectIdentifier;
use rand_core::CryptoRngCore;
use spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

use crate::error::Error;

/// `id-ecPublicKey` (RFC 5480 §2.1.1).
pub const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `id-Ed25519` (RFC 8410 §3).
pub const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// `ecdsa-with-SHA256` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

pub use super::key_algorithm::KeyAlgorithm;

/// A device's private key. The secret scalar or seed is zeroized when the value is dropped.
pub enum DeviceKey {
    /// A P-256 ECDSA key.
    P256(p256::ecdsa::SigningKey),
    /// An Ed25519 key.
    Ed25519(ed25519_dalek::SigningKey),
}

impl core::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        write!(f, "DeviceKey({:?})", self.algorithm())
    }
}

impl DeviceKey {
    /// Generates a fresh key from the caller's cryptographic RNG.
    pub fn generate(algorithm: KeyAlgorithm, rng: &mut impl CryptoRngCore) -> Self {
        match algorithm {
            KeyAlgorithm::P256 => DeviceKey::P256(p256::ecdsa::SigningKey::random(rng)),
            KeyAlgorithm::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(seed.as_mut());
                DeviceKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
            }
        }
    }

    /// Builds a key from 32 secret bytes (a P-256 scalar or an Ed25519 seed).
    ///
    /// A P-256 scalar of zero or not below the group order is rejected.
    pub fn from_secret_bytes(algorithm: KeyAlgorithm, secret: &[u8; 32]) -> Result<Self, Error> {
        match algorithm {
            KeyAlgorithm::P256 => p256::ecdsa::SigningKey::from_slice(secret)
                .map(DeviceKey::P256)
                .map_err(|_| Error::KeyRejected { algorithm }),
            KeyAlgorithm::Ed25519 => Ok(DeviceKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(
                secret,
            ))),
        }
    }

    /// Reads a PKCS#8 `PrivateKeyInfo` (DER) holding a P-256 or Ed25519 key.
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<Self, Error> {
        use der::Decode;
        use p256::pkcs8::DecodePrivateKey;
        let info = p256::pkcs8::PrivateKeyInfo::from_der(der_bytes)?;
        let oid = info.algorithm.oid;
        if oid == ID_EC_PUBLIC_KEY {
            p256::ecdsa::SigningKey::from_pkcs8_der(der_bytes)
                .map(DeviceKey::P256)
                .map_err(|_| Error::KeyRejected {
                    algorithm: KeyAlgorithm::P256,
                })
        } else if oid == ID_ED25519 {
            ed25519_dalek::SigningKey::from_pkcs8_der(der_bytes)
                .map(DeviceKey::Ed25519)
                .map_err(|_| Error::KeyRejected {
                    algorithm: KeyAlgorithm::Ed25519,
                })
        } else {
            Err(Error::UnsupportedKeyAlgorithm { oid })
        }
    }

    /// Writes the key as PKCS#8 DER; the buffer is zeroized when dropped.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        use p256::pkcs8::EncodePrivateKey;
        let doc = match self {
            DeviceKey::P256(k) => k.to_pkcs8_der(),
            DeviceKey::Ed25519(k) => k.to_pkcs8_der(),
        }
        .map_err(|_| Error::KeyRejected {
            algorithm: self.algorithm(),
        })?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            DeviceKey::P256(_) => KeyAlgorithm::P256,
            DeviceKey::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The public half as DER `SubjectPublicKeyInfo`.
    pub fn public_key_der(&self) -> Result<Vec<u8>, Error> {
        use p256::pkcs8::EncodePublicKey;
        let doc = match self {
            DeviceKey::P256(k) => k.verifying_key().to_public_key_der(),
            DeviceKey::Ed25519(k) => k.verifying_key().to_public_key_der(),
        }
        .map_err(|_| Error::KeyRejected {
            algorithm: self.algorithm(),
        })?;
        Ok(doc.as_bytes().to_vec())
    }

    /// The raw public key, as the subjectPublicKey BIT STRING of its SPKI carries it: the
    /// 65-byte uncompressed SEC1 point `04 || X || Y` for P-256 (RFC 5480 §2.2), the 32-byte
    /// key for Ed25519 (RFC 8410 §4).
    pub fn raw_public_key(&self) -> Vec<u8> {
        match self {
            DeviceKey::P256(k) => k
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            DeviceKey::Ed25519(k) => k.verifying_key().to_bytes().to_vec(),
        }
    }

    /// The signature algorithm identifier this key signs with (RFC 5758 §3.2, RFC 8410 §3).
    pub fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        let oid = match self {
            DeviceKey::P256(_) => ECDSA_WITH_SHA256,
            DeviceKey::Ed25519(_) => ID_ED25519,
        };
        AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        }
    }

    /// Signs `message`: ECDSA signatures are DER `Ecdsa-Sig-Value`, Ed25519 signatures are the
    /// 64 raw bytes, as X.509 and PKCS#10 carry them.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        use signature::Signer;
        match self {
            DeviceKey::P256(k) => {
                let sig: p256::ecdsa::DerSignature =
                    k.try_sign(message).map_err(|_| Error::Signing)?;
                Ok(sig.as_bytes().to_vec())
            }
            DeviceKey::Ed25519(k) => {
                let sig = k.try_sign(message).map_err(|_| Error::Signing)?;
                Ok(sig.to_bytes().to_vec())
            }
        }
    }

    /// DER-encoded signature algorithm identifier (convenience for encoders).
    pub fn signature_algorithm_der(&self) -> Result<Vec<u8>, Error> {
        Ok(self.signature_algorithm().to_der()?)
    }
}

/// Whether `signature` over `message` verifies with the raw `public_key` (as
/// [`DeviceKey::raw_public_key`] gives it): ECDSA P-256 with SHA-256 over a DER
/// `Ecdsa-Sig-Value` (RFC 5758 §3.2), or Ed25519 over its 64 raw bytes with the strict checks
/// of RFC 8032 §5.1.7 (canonical S, no small-order key). Pure Rust, no provider needed.
pub fn verify_signature(
    algorithm: KeyAlgorithm,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    use signature::Verifier;
    match algorithm {
        KeyAlgorithm::P256 => {
            let (Ok(key), Ok(sig)) = (
                p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key),
                p256::ecdsa::Signature::from_der(signature),
            ) else {
                return false;
            };
            key.verify(message, &sig).is_ok()
        }
        KeyAlgorithm::Ed25519 => {
            let (Ok(key), Ok(sig)) = (
                <[u8; 32]>::try_from(public_key),
                ed25519_dalek::Signature::from_slice(signature),
            ) else {
                return false;
            };
            ed25519_dalek::VerifyingKey::from_bytes(&key)
                .is_ok_and(|k| k.verify_strict(message, &sig).is_ok())
        }
    }
}
