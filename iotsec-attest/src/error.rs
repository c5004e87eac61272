//! Typed errors of the parsers and of signature verification, and what every error of the crate
//! answers: a stable [`ErrorCode::code`] and an [`ErrorKind`] that tells a refusal (exit 1 of
//! a command-line tool) from input that could not be read (exit 2).
//!
//! Each variant names what was wrong with the input so that a caller can tell an attack
//! (a forged length, a duplicated bank, a wrong magic) from a truncated file.

use thiserror::Error;

/// What an error means to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was read and refused: forged, replayed, altered, untrusted or against policy.
    Refusal,
    /// The input is not what it claims to be (malformed, truncated, out of bounds) or the call
    /// was misused; nothing was judged.
    BadInput,
    /// Something outside the input failed (the TPM link, the random generator, a signer);
    /// nothing was judged.
    Unavailable,
}

/// A stable code and a kind, answered by every error type of the crate, so that a caller maps an
/// error to an exit code or a log field with one call instead of listing variants.
pub trait ErrorCode {
    /// A stable snake_case code (the variant's name; a wrapper answers its cause's code). New
    /// variants get new codes; codes never change.
    fn code(&self) -> &'static str;
    /// Refusal, bad input or unavailable.
    fn kind(&self) -> ErrorKind;
    /// Whether the input was read and refused (rather than unreadable, or not judged at all).
    fn is_refusal(&self) -> bool {
        self.kind() == ErrorKind::Refusal
    }
}

/// Implements [`ErrorCode`] from one `pattern => code, kind;` line per variant.
macro_rules! error_codes {
    ($ty:ty { $($(#[$m:meta])* $pat:pat => $code:expr, $kind:expr;)* }) => {
        impl $crate::error::ErrorCode for $ty {
            fn code(&self) -> &'static str {
                #[allow(unused_imports)]
                use $crate::error::ErrorCode as _;
                match self { $($(#[$m])* $pat => $code,)* }
            }
            fn kind(&self) -> $crate::error::ErrorKind {
                #[allow(unused_imports)]
                use $crate::error::{ErrorCode as _, ErrorKind::*};
                match self { $($(#[$m])* $pat => $kind,)* }
            }
        }
    };
}
pub(crate) use error_codes;

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

error_codes!(ParseError {
    ParseError::Truncated { .. } => "truncated", BadInput;
    ParseError::SizeExceeded { .. } => "size_exceeded", BadInput;
    ParseError::TrailingBytes { .. } => "trailing_bytes", BadInput;
    ParseError::NotTpmGenerated { .. } => "not_tpm_generated", BadInput;
    ParseError::UnsupportedAttestationType { .. } => "unsupported_attestation_type", BadInput;
    ParseError::UnsupportedAlgorithm { .. } => "unsupported_algorithm", BadInput;
    ParseError::TooManyBanks { .. } => "too_many_banks", BadInput;
    ParseError::PcrBitmapTooLarge { .. } => "pcr_bitmap_too_large", BadInput;
    ParseError::DuplicateBank { .. } => "duplicate_bank", BadInput;
    ParseError::DigestLengthMismatch { .. } => "digest_length_mismatch", BadInput;
    ParseError::NotABoolean { .. } => "not_a_boolean", BadInput;
    ParseError::ValueCountMismatch { .. } => "value_count_mismatch", BadInput;
    ParseError::BadCoordinateLength { .. } => "bad_coordinate_length", BadInput;
});

error_codes!(VerifyError {
    VerifyError::BadSignature => "bad_signature", Refusal;
    VerifyError::SchemeKeyMismatch { .. } => "scheme_key_mismatch", Refusal;
    VerifyError::InvalidKey => "invalid_key", BadInput;
    VerifyError::UnsupportedKey => "unsupported_key", Refusal;
    VerifyError::HashRefused { .. } => "hash_refused", Refusal;
    VerifyError::RsaNeedsAlloc => "rsa_needs_alloc", Unavailable;
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_kinds_are_stable() {
        let truncated = ParseError::Truncated {
            field: "x",
            needed: 2,
            remaining: 1,
        };
        assert_eq!(truncated.code(), "truncated");
        assert_eq!(truncated.kind(), ErrorKind::BadInput);
        assert!(!truncated.is_refusal());
        assert_eq!(VerifyError::BadSignature.code(), "bad_signature");
        assert!(VerifyError::BadSignature.is_refusal());
        assert_eq!(VerifyError::RsaNeedsAlloc.kind(), ErrorKind::Unavailable);
    }
}
