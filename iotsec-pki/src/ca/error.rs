//! The cloud-side error type (CA, storage, EST server): one variant per decision a caller acts on.

/// The longest device-certificate lifetime a CA state accepts, in hours (398 days).
pub const MAX_LIFETIME_HOURS: u64 = 24 * 398;

/// A device-certificate lifetime of `hours`, in seconds, or
/// [`CaError::LifetimeOutOfRange`] outside 1 ..= [`MAX_LIFETIME_HOURS`].
pub fn device_lifetime_secs(hours: u64) -> Result<u64, CaError> {
    if hours == 0 || hours > MAX_LIFETIME_HOURS {
        return Err(CaError::LifetimeOutOfRange { hours });
    }
    Ok(hours * 3600)
}

/// Why a CA, storage or EST server operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// The CSR is not well-formed DER PKCS#10 (RFC 2986).
    #[error("malformed CSR: {0}")]
    MalformedCsr(der::Error),
    /// A certificate (named by `which`: the client certificate, a CA certificate, ...) is not
    /// well-formed DER X.509.
    #[error("malformed {which}: {error}")]
    MalformedCertificate {
        /// Which certificate.
        which: &'static str,
        /// The DER error.
        error: der::Error,
    },
    /// An OCSP request is not well-formed DER, or names no (or too many) certificates
    /// (RFC 6960 §4.1.1).
    #[error("malformed OCSP request: {0}")]
    MalformedOcspRequest(der::Error),
    /// Encoding a structure of our own as DER failed (never the client's input: answered as an
    /// internal error).
    #[error("DER encoding failed: {0}")]
    Encoding(der::Error),
    /// The CSR's self-signature does not verify: proof of possession failed (forged or corrupted).
    #[error("CSR signature does not verify (no proof of possession)")]
    CsrSignatureInvalid,
    /// The CSR uses a key or signature algorithm the CA does not accept.
    #[error("unsupported CSR algorithm {oid}")]
    UnsupportedAlgorithm {
        /// The offending OID.
        oid: der::oid::ObjectIdentifier,
    },
    /// The CSR subject contains an attribute, string type or RDN shape the profile forbids.
    #[error("CSR subject not allowed: {reason}")]
    SubjectNotAllowed {
        /// What was wrong.
        reason: &'static str,
    },
    /// A requested subjectAltName is outside the label's allow-list.
    #[error("subjectAltName {name} is not allowed by the profile")]
    SanNotAllowed {
        /// The rejected name.
        name: String,
    },
    /// Re-enrollment asked for a different Subject or SAN than the certificate being renewed
    /// (RFC 7030 §4.2.2).
    #[error("re-enrollment changes the {field}")]
    ReenrollMismatch {
        /// "subject" or "subjectAltName".
        field: &'static str,
    },
    /// An enrollment authenticated only by a TLS client certificate asks for another identity
    /// than that certificate's, or the certificate was not issued by the label's CA: a device
    /// may renew its own identity, not obtain one for another device (use HTTP Basic, manual
    /// approval or a DevID label to authorize a new identity).
    #[error("the client certificate does not authorize this {field}")]
    IdentityNotAuthorized {
        /// "issuer" (not this label's CA), "subject" or "subjectAltName".
        field: &'static str,
    },
    /// The CSR asks for the name of a CA of this hierarchy (its whole subject, or its
    /// commonName): a leaf named like its issuer passes for the CA wherever names are compared.
    #[error("CSR {field} is the name of a CA")]
    SubjectNamesCa {
        /// "subject" or "commonName".
        field: &'static str,
    },
    /// The certificate presented for re-enrollment is revoked.
    #[error("certificate {serial_hex} is revoked")]
    Revoked {
        /// Serial in hex.
        serial_hex: String,
    },
    /// The certificate presented was not issued by this CA.
    #[error("certificate not issued by this CA")]
    UnknownCertificate,
    /// No certificate with this serial.
    #[error("no certificate with serial {serial_hex}")]
    UnknownSerial {
        /// Serial in hex.
        serial_hex: String,
    },
    /// The label issues IEEE 802.1AR DevIDs, so the CA must supply the device identity.
    #[error("DevID profile: the CA must supply the device serial")]
    DevIdIdentityRequired,
    /// A DevID was asked for under a profile without a DevID part.
    #[error("DevID issuance is not enabled in this profile")]
    DevIdNotEnabled,
    /// This CA key was rotated out (`pki rotate`): it still signs CRLs and OCSP answers for
    /// what it issued, but issues nothing new.
    #[error("intermediate {serial_hex} was rotated out: it issues nothing new")]
    IssuerRetired {
        /// Serial of the retired intermediate certificate, in hex.
        serial_hex: String,
    },
    /// The root revoked this intermediate's certificate (it is on the root's CRL): it issues
    /// nothing new.
    #[error("intermediate {serial_hex} is revoked by the root: it issues nothing new")]
    IssuerRevoked {
        /// Serial of the intermediate certificate, in hex.
        serial_hex: String,
    },
    /// A CRL reason that is neither an RFC 5280 §5.3.1 CRLReason name nor its number
    /// (7 is unused).
    #[error("unknown CRL reason {given:?}")]
    UnknownReason {
        /// What was given.
        given: String,
    },
    /// A device-certificate lifetime outside 1 hour ..= 398 days (the CA/Browser Forum's
    /// ceiling for subscriber certificates, kept for device identities as well).
    #[error("a device certificate lifetime of {hours} hours is outside 1..={max}", max = MAX_LIFETIME_HOURS)]
    LifetimeOutOfRange {
        /// The hours asked for.
        hours: u64,
    },
    /// The certificate builder failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[source] BackendError),
    /// The signer (software key or HSM) failed.
    #[error("signer failed: {0}")]
    Signer(String),
    /// A CA name given for a named intermediate is not 1..=64 of `[A-Za-z0-9_-]` (it becomes a
    /// directory name: no `..`, no `/`).
    #[error("CA state: intermediate name {name:?} must be 1..=64 of [A-Za-z0-9_-]")]
    InvalidIntermediateName {
        /// The name given.
        name: String,
    },
    /// A file of the state directory is not PEM (RFC 7468).
    #[error("CA state: {} is not PEM", path.display())]
    NotPem {
        /// The file.
        path: std::path::PathBuf,
    },
    /// A PEM file of the state directory holds another label than the one expected.
    #[error("CA state: {} is not a {expected}", path.display())]
    WrongPemLabel {
        /// The file.
        path: std::path::PathBuf,
        /// The label expected (`CERTIFICATE`, `CERTIFICATE REQUEST`, ...).
        expected: String,
    },
    /// `ca.txt` lacks a setting the CA needs.
    #[error("CA state: ca.txt lacks {key}")]
    MissingSetting {
        /// The `key` of the missing `key=value` line.
        key: String,
    },
    /// A CA key is in a PKCS#11 token and no PIN was given for it.
    #[error(
        "CA state: the {role} key is in PKCS#11 token {token:?}: set {variable} to its user PIN \
         (or {file_variable} to a file holding it)"
    )]
    MissingPin {
        /// "root" or "intermediate".
        role: &'static str,
        /// The token label.
        token: String,
        /// The variable for the PIN.
        variable: &'static str,
        /// The variable for a file holding the PIN.
        file_variable: &'static str,
    },
    /// A PIN was given both directly and as a file.
    #[error("CA state: set either {variable} or {file_variable}, not both")]
    PinGivenTwice {
        /// The variable for the PIN.
        variable: &'static str,
        /// The variable for a file holding the PIN.
        file_variable: &'static str,
    },
    /// The key opened is not the key the CA certificate certifies (a replaced token key must
    /// not sign under the old certificate's name).
    #[error("CA state: the CA key is not the key its {role} certificate certifies")]
    UncertifiedKey {
        /// "root" or "intermediate".
        role: &'static str,
    },
    /// A lock inside the server was poisoned by a panicking thread.
    #[error("CA state: {what} poisoned")]
    Poisoned {
        /// What ("CA lock", "CRL cache").
        what: &'static str,
    },
    /// The CA state directory is missing files or holds bad ones.
    #[error("CA state: {0}")]
    State(String),
    /// Another process holds the rotation lock of this intermediate's state directory (it is
    /// rotating it, or finishing a rotation a crash interrupted) beyond the wait.
    #[error("a key rotation of {} is in progress", dir.display())]
    RotationInProgress {
        /// The intermediate's state directory.
        dir: std::path::PathBuf,
    },
    /// The root CRL file a server is to publish is not one it may publish (truncated, not a
    /// CRL, not signed by this root, older than the one served).
    #[error("root CRL {}: {reason}", path.display())]
    RootCrlRefused {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Database failure.
    #[error("storage: {0}")]
    Storage(#[source] BackendError),
    /// A `CertStore` (the `store` module) already holds a certificate with this serial
    /// (the issuer draws a fresh one and tries again).
    #[error("serial {serial_hex} is already recorded")]
    DuplicateSerial {
        /// Serial in hex.
        serial_hex: String,
    },
    /// The CA state names a part this build leaves out (a PKCS#11 key without the `pkcs11`
    /// feature).
    #[error("this build has no {feature} support (cargo feature `{feature}`)")]
    FeatureDisabled {
        /// The cargo feature.
        feature: &'static str,
    },
    /// No rustls crypto provider was given and the application installed no process default
    /// (`rustls::crypto::CryptoProvider::install_default`).
    #[error("no TLS crypto provider: install one with CryptoProvider::install_default at start-up")]
    NoCryptoProvider,
    /// File I/O failure.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A device-side decoding error.
    #[error(transparent)]
    Device(#[from] crate::error::Error),
}

impl CaError {
    /// A stable identifier of the failure (kebab-case; never changes for a variant).
    pub fn code(&self) -> &'static str {
        match self {
            CaError::MalformedCsr(_) => "malformed-csr",
            CaError::MalformedCertificate { .. } => "malformed-certificate",
            CaError::MalformedOcspRequest(_) => "malformed-ocsp-request",
            CaError::Encoding(_) => "encoding",
            CaError::CsrSignatureInvalid => "csr-signature-invalid",
            CaError::UnsupportedAlgorithm { .. } => "unsupported-algorithm",
            CaError::SubjectNotAllowed { .. } => "subject-not-allowed",
            CaError::SanNotAllowed { .. } => "san-not-allowed",
            CaError::ReenrollMismatch { .. } => "reenroll-mismatch",
            CaError::IdentityNotAuthorized { .. } => "identity-not-authorized",
            CaError::SubjectNamesCa { .. } => "subject-names-ca",
            CaError::Revoked { .. } => "revoked",
            CaError::UnknownCertificate => "unknown-certificate",
            CaError::UnknownSerial { .. } => "unknown-serial",
            CaError::DevIdIdentityRequired => "devid-identity-required",
            CaError::DevIdNotEnabled => "devid-not-enabled",
            CaError::IssuerRetired { .. } => "issuer-retired",
            CaError::IssuerRevoked { .. } => "issuer-revoked",
            CaError::UnknownReason { .. } => "unknown-reason",
            CaError::LifetimeOutOfRange { .. } => "lifetime-out-of-range",
            CaError::Generate(_) => "generate",
            CaError::Signer(_) => "signer",
            CaError::State(_) => "state",
            CaError::InvalidIntermediateName { .. } => "invalid-intermediate-name",
            CaError::NotPem { .. } => "not-pem",
            CaError::WrongPemLabel { .. } => "wrong-pem-label",
            CaError::MissingSetting { .. } => "missing-setting",
            CaError::MissingPin { .. } => "missing-pin",
            CaError::PinGivenTwice { .. } => "pin-given-twice",
            CaError::UncertifiedKey { .. } => "uncertified-key",
            CaError::Poisoned { .. } => "poisoned",
            CaError::RotationInProgress { .. } => "rotation-in-progress",
            CaError::RootCrlRefused { .. } => "root-crl-refused",
            CaError::Storage(_) => "storage",
            CaError::DuplicateSerial { .. } => "duplicate-serial",
            CaError::FeatureDisabled { .. } => "feature-disabled",
            CaError::NoCryptoProvider => "no-crypto-provider",
            CaError::Io(_) => "io",
            CaError::Device(e) => e.code(),
        }
    }

    /// Whether this is a refusal of what was asked (a CSR, a certificate: the answer is no),
    /// bad input (malformed, unknown, misconfigured) or an internal failure. A CA that may not
    /// issue (rotated out, revoked by the root) is the operator's input, not a refusal of the
    /// request.
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            CaError::CsrSignatureInvalid
            | CaError::UnsupportedAlgorithm { .. }
            | CaError::SubjectNotAllowed { .. }
            | CaError::SanNotAllowed { .. }
            | CaError::ReenrollMismatch { .. }
            | CaError::IdentityNotAuthorized { .. }
            | CaError::SubjectNamesCa { .. }
            | CaError::Revoked { .. }
            | CaError::UnknownCertificate
            | CaError::DevIdIdentityRequired
            | CaError::DevIdNotEnabled => ErrorKind::Refusal,
            CaError::Encoding(_)
            | CaError::Generate(_)
            | CaError::Signer(_)
            | CaError::Storage(_)
            | CaError::DuplicateSerial { .. }
            | CaError::Poisoned { .. }
            | CaError::Io(_) => ErrorKind::Internal,
            CaError::Device(e) => e.kind(),
            _ => ErrorKind::BadInput,
        }
    }

    /// Whether a security decision refused what was asked ([`CaError::kind`]).
    pub fn is_refusal(&self) -> bool {
        self.kind() == crate::error::ErrorKind::Refusal
    }
}

/// A failure inside a library this crate builds on (the SQLite engine, the certificate
/// encoder), kept opaque so that library's error type is no part of this crate's API; its
/// message and [`source`](std::error::Error::source) chain stay readable.
#[derive(Debug)]
pub struct BackendError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl BackendError {
    /// Wraps an error of the library behind a store or signer of the application's.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(error))
    }
}

impl core::fmt::Display for BackendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(feature = "ca")]
impl CaError {
    /// The certificate builder's failure.
    pub(crate) fn generate(e: rcgen::Error) -> Self {
        Self::Generate(BackendError::new(e))
    }
}

#[cfg(feature = "sqlite")]
impl CaError {
    /// SQLite's failure.
    pub(crate) fn storage(e: rusqlite::Error) -> Self {
        Self::Storage(BackendError::new(e))
    }
}
