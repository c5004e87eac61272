//! The device-side error type: one variant per failure a caller may act on.

use der::oid::ObjectIdentifier;

/// Why a device-side operation (key handling, CSR building, EST message parsing) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key material is not a valid key of the named algorithm (e.g. a P-256 scalar of zero
    /// or above the group order, or a PKCS#8 document for another algorithm).
    #[error("key material rejected for {algorithm:?}")]
    KeyRejected {
        /// The algorithm the material was offered as.
        algorithm: crate::device::key_algorithm::KeyAlgorithm,
    },
    /// The PKCS#8 document names an algorithm this crate does not support.
    #[error("unsupported key algorithm {oid}")]
    UnsupportedKeyAlgorithm {
        /// The algorithm OID found.
        oid: ObjectIdentifier,
    },
    /// DER encoding or decoding failed (malformed ASN.1, trailing bytes, bad length).
    #[error("malformed DER: {0}")]
    Der(der::Error),
    /// The signing operation failed.
    #[error("signing failed")]
    Signing,
    /// A CSR field is empty or too long.
    #[error("CSR field {field} is empty or longer than {max} bytes")]
    CsrField {
        /// The field name.
        field: &'static str,
        /// Its maximum length.
        max: usize,
    },
    /// An EST response body is larger than the hard cap.
    #[error("EST response of {len} bytes exceeds the {max}-byte cap")]
    BodyTooLarge {
        /// Bytes offered.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The body is neither base64 (RFC 8951), PEM nor DER.
    #[error("EST body is not base64, PEM or DER")]
    NotBase64,
    /// PEM armour present but not a PKCS#7/CMS or CERTIFICATE block.
    #[error("unexpected PEM label")]
    UnexpectedPemLabel,
    /// The CMS content is not SignedData (RFC 7030 §4.1.3 requires certs-only SignedData).
    #[error("CMS content type {content_type} is not signedData")]
    NotSignedData {
        /// The content type found.
        content_type: ObjectIdentifier,
    },
    /// A "certs-only" message carries signer infos or encapsulated content: not the
    /// degenerate form RFC 7030 §4.1.3 mandates.
    #[error("certs-only message carries {signers} signer infos or content")]
    NotCertsOnly {
        /// The number of signerInfos.
        signers: usize,
    },
    /// The message carries no certificate.
    #[error("EST response carries no certificate")]
    NoCertificates,
    /// The message carries more certificates than the cap.
    #[error("EST response carries {count} certificates, more than {max}")]
    TooManyCertificates {
        /// Certificates offered.
        count: usize,
        /// The cap.
        max: usize,
    },
    /// A certificate choice other than a plain X.509 certificate (attribute/other certificate).
    #[error("EST response carries a non-X.509 certificate choice")]
    UnsupportedCertificateChoice,
}

impl From<der::Error> for Error {
    fn from(e: der::Error) -> Self {
        Error::Der(e)
    }
}

/// What a failure means to the caller, so a command line maps any error of this crate to its
/// exit status with one call: a refusal (exit 1), bad input (exit 2), or an internal failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A security decision said no: the request, certificate or signature is not acceptable.
    Refusal,
    /// The input is malformed, or names something that is not there (usage, files, settings).
    BadInput,
    /// The machine failed (storage, I/O, an encoder, a signer).
    Internal,
}

impl Error {
    /// A stable identifier of the failure (kebab-case; never changes for a variant).
    pub fn code(&self) -> &'static str {
        match self {
            Error::KeyRejected { .. } => "key-rejected",
            Error::UnsupportedKeyAlgorithm { .. } => "unsupported-key-algorithm",
            Error::Der(_) => "der",
            Error::Signing => "signing",
            Error::CsrField { .. } => "csr-field",
            Error::BodyTooLarge { .. } => "body-too-large",
            Error::UnexpectedPemLabel => "unexpected-pem-label",
            Error::NotBase64 => "not-base64",
            Error::NotSignedData { .. } => "not-signed-data",
            Error::NotCertsOnly { .. } => "not-certs-only",
            Error::NoCertificates => "no-certificates",
            Error::TooManyCertificates { .. } => "too-many-certificates",
            Error::UnsupportedCertificateChoice => "unsupported-certificate-choice",
        }
    }

    /// Whether this is a refusal, bad input or an internal failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Signing => ErrorKind::Internal,
            _ => ErrorKind::BadInput,
        }
    }

    /// Whether a security decision refused (never for device-side decoding errors).
    pub fn is_refusal(&self) -> bool {
        self.kind() == ErrorKind::Refusal
    }
}
