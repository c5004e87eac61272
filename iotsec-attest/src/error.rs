//! Typed errors of the parsers and of signature verification.
//!
//! Each variant names what was wrong with the input so that a caller can tell an attack
//! (a forged length, a duplicated bank, a wrong magic) from a truncated file.

use thiserror::Error;

/// Why a TPM structure was refused by a parser (TPM 2.0 Part 2 marshalling rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input ended before `field` could be read.
    #[error("truncated input: {field} needs {needed} bytes, {remaining} left")]
    Truncated {
        /// The structure field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A size prefix exceeds the hard cap the specification allows for `field`.
    #[error("{field} declares {size} bytes, more than the {cap} allowed")]
    SizeExceeded {
        /// The sized field.
        field: &'static str,
        /// The declared size.
        size: usize,
        /// The maximum allowed.
        cap: usize,
    },
    /// Bytes remain after a complete structure: smuggled data is refused.
    #[error("{count} trailing bytes after {structure}")]
    TrailingBytes {
        /// The structure that ended early.
        structure: &'static str,
        /// Number of bytes left over.
        count: usize,
    },
    /// TPMS_ATTEST does not start with TPM_GENERATED_VALUE, so no TPM produced it.
    #[error("magic {found:#010x} is not TPM_GENERATED_VALUE (0xff544347)")]
    NotTpmGenerated {
        /// The value found.
        found: u32,
    },
    /// The attestation structure type is neither quote nor certify.
    #[error("attestation type {found:#06x} is not supported (quote 0x8018, certify 0x8017)")]
    UnsupportedAttestationType {
        /// The TPM_ST value found.
        found: u16,
    },
    /// An algorithm identifier this crate does not accept in `field`.
    #[error("algorithm {alg:#06x} is not supported in {field}")]
    UnsupportedAlgorithm {
        /// Where it appeared.
        field: &'static str,
        /// The TPM_ALG_ID.
        alg: u16,
    },
    /// A TPML_PCR_SELECTION lists more banks than any TPM has.
    #[error("PCR selection lists {count} banks, at most {cap} allowed")]
    TooManyBanks {
        /// The declared count.
        count: u32,
        /// The cap.
        cap: usize,
    },
    /// A TPMS_PCR_SELECTION bitmap is longer than PCR_SELECT_MAX.
    #[error("PCR bitmap of {size} bytes, at most {cap} allowed")]
    PcrBitmapTooLarge {
        /// The declared sizeofSelect.
        size: u8,
        /// The cap.
        cap: usize,
    },
    /// The same hash bank appears twice in one selection (digest confusion / DoS).
    #[error("PCR bank {alg:#06x} selected twice")]
    DuplicateBank {
        /// The repeated bank.
        alg: u16,
    },
    /// A digest's length does not match its hash algorithm.
    #[error("{field}: {size}-byte digest for an algorithm of {expected} bytes")]
    DigestLengthMismatch {
        /// Where the digest appeared.
        field: &'static str,
        /// Length found.
        size: usize,
        /// Length of the algorithm's output.
        expected: usize,
    },
    /// A boolean (TPMI_YES_NO) field holds something other than 0 or 1.
    #[error("{field} holds {value}, not a TPMI_YES_NO")]
    NotABoolean {
        /// The field.
        field: &'static str,
        /// The value.
        value: u8,
    },
    /// The count of values does not match what the selection asks for.
    #[error("{field}: {found} values for {expected} selected PCRs")]
    ValueCountMismatch {
        /// Where.
        field: &'static str,
        /// Values present.
        found: usize,
        /// Values expected.
        expected: usize,
    },
    /// An ECC coordinate or parameter has a length that does not fit its curve.
    #[error("{field}: {size} bytes does not fit the curve")]
    BadCoordinateLength {
        /// The field.
        field: &'static str,
        /// Its length.
        size: usize,
    },
}

/// Why a signature over TPM evidence was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature does not verify under the key: forged or altered evidence.
    #[error("signature does not verify under the attestation key")]
    BadSignature,
    /// Signature algorithm and key type do not belong together (e.g. ECDSA with an RSA key).
    #[error("signature scheme {scheme:#06x} does not match the key type")]
    SchemeKeyMismatch {
        /// The signature's TPM_ALG_ID.
        scheme: u16,
    },
    /// The public key itself is not usable (point not on the curve, bad modulus).
    #[error("the public key is not a valid key")]
    InvalidKey,
    /// The key size or curve is outside what this verifier accepts.
    #[error("key size or curve not supported by this verifier")]
    UnsupportedKey,
    /// The signature's hash is refused (SHA-1 is weak for signatures). The crate's own
    /// verifiers never answer this (the hash policy is `AppraisalPolicy::allow_sha1`'s); it is
    /// for custom [`crate::verify::SignatureVerifier`]s that cannot or will not verify a hash.
    #[error("signature hash {alg:#06x} refused")]
    HashRefused {
        /// The hash algorithm.
        alg: u16,
    },
    /// RSA verification needs the `alloc` feature.
    #[error("RSA verification needs the alloc feature")]
    RsaNeedsAlloc,
}
