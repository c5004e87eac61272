//! TPM algorithm identifiers this crate understands (TPM 2.0 Part 2 §6.3 TPM_ALG_ID, §6.4
//! TPM_ECC_CURVE) and the hash functions behind them.

use digest::Digest;

use crate::error::ParseError;

/// TPM_ALG_RSA.
pub const ALG_RSA: u16 = 0x0001;
/// TPM_ALG_KEYEDHASH.
pub const ALG_KEYEDHASH: u16 = 0x0008;
/// TPM_ALG_XOR.
pub const ALG_XOR: u16 = 0x000A;
/// TPM_ALG_NULL.
pub const ALG_NULL: u16 = 0x0010;
/// TPM_ALG_RSASSA (PKCS#1 v1.5 signatures).
pub const ALG_RSASSA: u16 = 0x0014;
/// TPM_ALG_RSAES.
pub const ALG_RSAES: u16 = 0x0015;
/// TPM_ALG_RSAPSS.
pub const ALG_RSAPSS: u16 = 0x0016;
/// TPM_ALG_ECDSA.
pub const ALG_ECDSA: u16 = 0x0018;
/// TPM_ALG_ECDAA.
pub const ALG_ECDAA: u16 = 0x001A;
/// TPM_ALG_ECC.
pub const ALG_ECC: u16 = 0x0023;

/// A hash algorithm of a PCR bank, a Name or a signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "lowercase"))]
pub enum HashAlg {
    /// TPM_ALG_SHA1 (0x0004): parsed, refused by appraisal policy unless allowed.
    Sha1,
    /// TPM_ALG_SHA256 (0x000B).
    Sha256,
    /// TPM_ALG_SHA384 (0x000C).
    Sha384,
    /// TPM_ALG_SHA512 (0x000D).
    Sha512,
}

/// The longest digest of any supported hash (SHA-512).
pub const MAX_DIGEST_LEN: usize = 64;

impl HashAlg {
    /// The algorithm for a TPM_ALG_ID, if it is a supported hash.
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            0x0004 => Some(HashAlg::Sha1),
            0x000B => Some(HashAlg::Sha256),
            0x000C => Some(HashAlg::Sha384),
            0x000D => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    pub(crate) fn parse(id: u16, field: &'static str) -> Result<Self, ParseError> {
        Self::from_id(id).ok_or(ParseError::UnsupportedAlgorithm { field, alg: id })
    }

    /// The TPM_ALG_ID.
    pub fn id(self) -> u16 {
        match self {
            HashAlg::Sha1 => 0x0004,
            HashAlg::Sha256 => 0x000B,
            HashAlg::Sha384 => 0x000C,
            HashAlg::Sha512 => 0x000D,
        }
    }

    /// The name tpm2-tools uses for the bank (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "sha1",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    /// The algorithm named `sha256` etc.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            HashAlg::Sha1,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ]
        .into_iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
    }

    /// Output length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// A running hash of this algorithm.
    pub fn hasher(self) -> Hasher {
        match self {
            HashAlg::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            HashAlg::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlg::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            HashAlg::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// The digest of the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> DigestBytes {
        let mut h = self.hasher();
        for p in parts {
            h.update(p);
        }
        h.finalize()
    }
}

/// An incremental hash of one of the [`HashAlg`]s.
#[derive(Clone, Debug)]
pub enum Hasher {
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// SHA-384.
    Sha384(sha2::Sha384),
    /// SHA-512.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// Absorbs bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest.
    pub fn finalize(self) -> DigestBytes {
        match self {
            Hasher::Sha1(h) => DigestBytes::from_slice(&h.finalize()),
            Hasher::Sha256(h) => DigestBytes::from_slice(&h.finalize()),
            Hasher::Sha384(h) => DigestBytes::from_slice(&h.finalize()),
            Hasher::Sha512(h) => DigestBytes::from_slice(&h.finalize()),
        }
    }
}

/// A digest of up to 64 bytes held without allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DigestBytes {
    bytes: [u8; MAX_DIGEST_LEN],
    len: usize,
}

impl DigestBytes {
    /// Copies at most [`MAX_DIGEST_LEN`] bytes of `data`.
    pub fn from_slice(data: &[u8]) -> Self {
        let len = data.len().min(MAX_DIGEST_LEN);
        let mut bytes = [0u8; MAX_DIGEST_LEN];
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), data.get(..len)) {
            dst.copy_from_slice(src);
        }
        DigestBytes { bytes, len }
    }

    /// `len` (at most [`MAX_DIGEST_LEN`]) copies of `byte`.
    pub fn filled(byte: u8, len: usize) -> Self {
        DigestBytes {
            bytes: [byte; MAX_DIGEST_LEN],
            len: len.min(MAX_DIGEST_LEN),
        }
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl core::fmt::Debug for DigestBytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Lower-case hex, as in the JSON results.
impl core::fmt::Display for DigestBytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

/// Serialized as a lower-case hex string, without allocating.
#[cfg(feature = "std")]
impl serde::Serialize for DigestBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 2 * MAX_DIGEST_LEN];
        let out = buf
            .get_mut(..2 * self.len)
            .ok_or_else(|| serde::ser::Error::custom("digest longer than 64 bytes"))?;
        hex::encode_to_slice(self.as_bytes(), out).map_err(serde::ser::Error::custom)?;
        let text = core::str::from_utf8(out).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

/// An elliptic curve of an ECC key (TPM_ECC_CURVE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub enum EccCurve {
    /// TPM_ECC_NIST_P256 (0x0003).
    NistP256,
    /// TPM_ECC_NIST_P384 (0x0004).
    NistP384,
}

impl EccCurve {
    pub(crate) fn parse(id: u16) -> Result<Self, ParseError> {
        match id {
            0x0003 => Ok(EccCurve::NistP256),
            0x0004 => Ok(EccCurve::NistP384),
            alg => Err(ParseError::UnsupportedAlgorithm {
                field: "TPMS_ECC_PARMS.curveID",
                alg,
            }),
        }
    }

    /// Length of a coordinate or scalar in bytes.
    pub fn field_len(self) -> usize {
        match self {
            EccCurve::NistP256 => 32,
            EccCurve::NistP384 => 48,
        }
    }
}
