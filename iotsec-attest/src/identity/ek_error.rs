//! Why an EK certificate was refused (TCG EK Credential Profile 2.5 §3.2, RFC 5280 §6.1): one
//! type for the profile checks and the path rules, kept apart from both so that neither imports
//! the other.

use std::string::String;

/// Why an EK certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EkCertError {
    /// Not a DER certificate.
    #[error("not a DER X.509 certificate: {0}")]
    Malformed(String),
    /// Bytes follow the certificate (0xFF padding needs the quirk switch).
    #[error("{count} bytes after the certificate{}", if *all_ff { " (0xFF padding; enable allow_ff_padding)" } else { "" })]
    TrailingBytes {
        /// How many.
        count: usize,
        /// Whether they are all 0xFF.
        all_ff: bool,
    },
    /// The serial is not minimally encoded (needs the quirk switch).
    #[error("serial number is not minimally encoded (enable allow_non_minimal_serial)")]
    NonMinimalSerial,
    /// The EKU lacks tcg-kp-EKCertificate.
    #[error("extended key usage lacks tcg-kp-EKCertificate (2.23.133.8.1)")]
    NotAnEkCertificate,
    /// No subjectAltName directoryName with the TPM manufacturer, model and version.
    #[error("subjectAltName lacks the TPM manufacturer/model/version directoryName")]
    MissingTpmIdentity,
    /// The certificate's key is not the EK the TPM presented.
    #[error("certificate key differs from the EK public area")]
    EkMismatch,
    /// A signature in the chain does not verify.
    #[error("signature of certificate {depth} does not verify under its issuer")]
    BadSignature {
        /// 0 = EK certificate.
        depth: usize,
    },
    /// An issuer is not a CA.
    #[error("issuer of certificate {depth} is not a CA")]
    IssuerNotCa {
        /// 0 = EK certificate.
        depth: usize,
    },
    /// A certificate on the path is not valid yet at the appraisal time.
    #[error("certificate {depth} is not valid before {not_before} (unix seconds)")]
    NotYetValid {
        /// 0 = EK certificate.
        depth: usize,
        /// Its notBefore.
        not_before: u64,
    },
    /// A certificate on the path has expired at the appraisal time.
    #[error("certificate {depth} expired at {not_after} (unix seconds)")]
    Expired {
        /// 0 = EK certificate.
        depth: usize,
        /// Its notAfter.
        not_after: u64,
    },
    /// No path to a trusted root.
    #[error("no chain from the EK certificate to a trusted root")]
    Untrusted,
    /// Unsupported signature algorithm or key.
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// A certificate on the path has a critical extension we do not process (RFC 5280 §4.2:
    /// it must then be refused).
    #[error("certificate {depth} has an unprocessed critical extension {oid}")]
    UnknownCriticalExtension {
        /// 0 = EK certificate.
        depth: usize,
        /// The extension's OID.
        oid: String,
    },
    /// A certificate on the path carries the same extension twice (RFC 5280 §4.2).
    #[error("certificate {depth} carries extension {oid} more than once")]
    DuplicateExtension {
        /// 0 = EK certificate.
        depth: usize,
        /// The extension's OID.
        oid: String,
    },
    /// An extension we process does not decode.
    #[error("certificate {depth} has a malformed extension {oid}")]
    MalformedExtension {
        /// 0 = EK certificate.
        depth: usize,
        /// The extension's OID.
        oid: String,
    },
    /// A CA certificate's keyUsage lacks keyCertSign (RFC 5280 §4.2.1.3, §6.1.4 (n)).
    #[error("CA certificate {depth} has a keyUsage without keyCertSign")]
    CaKeyUsage {
        /// Depth of the CA certificate (1 = the EK certificate's issuer).
        depth: usize,
    },
    /// More non-self-issued intermediates below a CA than its pathLenConstraint allows
    /// (RFC 5280 §6.1.4 (l)(m)).
    #[error(
        "CA certificate {depth} allows {path_len} intermediates below it, the path has {intermediates}"
    )]
    PathLenExceeded {
        /// Depth of the constraining CA certificate.
        depth: usize,
        /// Its pathLenConstraint.
        path_len: u8,
        /// Non-self-issued intermediate certificates between it and the EK certificate.
        intermediates: usize,
    },
    /// A directory name below a CA is outside its permitted subtrees or inside an excluded one
    /// (RFC 5280 §4.2.1.10).
    #[error(
        "name {name} of certificate {name_depth} violates the name constraints of CA certificate {depth}"
    )]
    NameConstraintViolation {
        /// Depth of the constraining CA certificate.
        depth: usize,
        /// Depth of the certificate carrying the name (subject or subjectAltName).
        name_depth: usize,
        /// The name (RFC 4514 string).
        name: String,
    },
    /// A name constraint we do not evaluate applies to a name on the path (only directoryName
    /// subtrees are evaluated; this fails closed).
    #[error("CA certificate {depth} constrains {form} names, which are not evaluated")]
    UnsupportedNameConstraint {
        /// Depth of the constraining CA certificate.
        depth: usize,
        /// The GeneralName form (e.g. `dNSName`), or the one with a minimum/maximum.
        form: &'static str,
    },
    /// The EK certificate's keyUsage is absent or lacks the bit the TCG EK Credential Profile
    /// requires for its key type.
    #[error("EK certificate keyUsage lacks {required}")]
    EkKeyUsage {
        /// `keyEncipherment` (RSA EK) or `keyAgreement` (ECC EK).
        required: &'static str,
    },
}

crate::error::error_codes!(EkCertError {
    EkCertError::Malformed(_) => "malformed", BadInput;
    EkCertError::TrailingBytes { .. } => "trailing_bytes", Refusal;
    EkCertError::NonMinimalSerial => "non_minimal_serial", Refusal;
    EkCertError::NotAnEkCertificate => "not_an_ek_certificate", Refusal;
    EkCertError::MissingTpmIdentity => "missing_tpm_identity", Refusal;
    EkCertError::EkMismatch => "ek_mismatch", Refusal;
    EkCertError::BadSignature { .. } => "bad_signature", Refusal;
    EkCertError::IssuerNotCa { .. } => "issuer_not_ca", Refusal;
    EkCertError::NotYetValid { .. } => "not_yet_valid", Refusal;
    EkCertError::Expired { .. } => "expired", Refusal;
    EkCertError::Untrusted => "untrusted", Refusal;
    EkCertError::UnsupportedAlgorithm(_) => "unsupported_algorithm", Refusal;
    EkCertError::UnknownCriticalExtension { .. } => "unknown_critical_extension", Refusal;
    EkCertError::DuplicateExtension { .. } => "duplicate_extension", Refusal;
    EkCertError::MalformedExtension { .. } => "malformed_extension", Refusal;
    EkCertError::CaKeyUsage { .. } => "ca_key_usage", Refusal;
    EkCertError::PathLenExceeded { .. } => "path_len_exceeded", Refusal;
    EkCertError::NameConstraintViolation { .. } => "name_constraint_violation", Refusal;
    EkCertError::UnsupportedNameConstraint { .. } => "unsupported_name_constraint", Refusal;
    EkCertError::EkKeyUsage { .. } => "ek_key_usage", Refusal;
});
