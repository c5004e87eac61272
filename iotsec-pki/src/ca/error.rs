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

/// Why an identity may not enroll again ([`CaError::IdentityBarred`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BarredReason {
    /// Its certificates were revoked.
    Revoked,
    /// The device was decommissioned.
    Decommissioned,
}

impl core::fmt::Display for BarredReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            BarredReason::Revoked => "revoked",
            BarredReason::Decommissioned => "decommissioned",
        })
    }
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
    /// The CSR's commonName is one the application reserves for identities that EST must not
    /// make (operators, service accounts): a shared enrollment credential would otherwise
    /// mint them (`est::enrollment_admission`, feature `est-server`).
    #[error("{common_name:?} is reserved: EST enrolls devices only")]
    ReservedName {
        /// The commonName asked for.
        common_name: String,
    },
    /// The identity the CSR names has ended (revoked or decommissioned by the application):
    /// it does not enroll again (`est::enrollment_admission`, feature `est-server`).
    #[error("device {common_name:?} is {reason}: it does not enroll again")]
    IdentityBarred {
        /// The commonName asked for.
        common_name: String,
        /// Why it is barred.
        reason: crate::ca::error::BarredReason,
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
    /// rustls refused to build a TLS configuration from the CA's certificates, key or CRLs.
    #[error("TLS configuration: {reason}")]
    TlsConfig {
        /// rustls's reason.
        reason: String,
    },
    /// The root revoked an intermediate whose certificate has no subject key identifier, so its
    /// certificates cannot be refused at the handshake.
    #[error("CA state: a revoked intermediate has no subject key identifier")]
    RevokedIssuerWithoutSki,
    /// The EST server was given intermediates that chain to different roots.
    #[error("CA state: every intermediate must chain to the same root")]
    MixedRoots,
    /// EST labels name issuing CAs that are not loaded.
    #[error("CA state: labels {labels:?} name an issuing CA that is not loaded")]
    LabelsWithoutCa {
        /// The labels.
        labels: Vec<String>,
    },
    /// No issuing CA of that name is loaded.
    #[error("CA state: no issuing CA named {name:?}")]
    UnknownCa {
        /// The name.
        name: String,
    },
    /// The EST client's connection failed (connect, TLS, read or write).
    #[error("EST client: {reason}")]
    EstClientIo {
        /// What failed.
        reason: String,
    },
    /// A `key=value` setting of the CA state (or a value given to set one) the CA cannot use.
    #[error("CA state: {key} {reason}")]
    BadSetting {
        /// The setting's key (`devid_kind`, `lifetime_secs`, `root_crl_url`, ...).
        key: &'static str,
        /// What is wrong with its value.
        reason: &'static str,
    },
    /// `ca.txt` names a PKCS#11 key with some but not all of its three lines.
    #[error(
        "CA state: ca.txt names a PKCS#11 key incompletely ({prefix}pkcs11_module, \
         {prefix}pkcs11_token, {prefix}pkcs11_key)"
    )]
    IncompleteTokenKey {
        /// The prefix of the role's keys (empty for the intermediate, `root_` for the root).
        prefix: &'static str,
    },
    /// A file of the state directory other than `ca.txt` (a rotation plan, a retired
    /// generation's settings) lacks a line the CA needs, or holds it malformed.
    #[error("CA state: {} lacks a valid {key}", path.display())]
    FileLacksSetting {
        /// The file.
        path: std::path::PathBuf,
        /// The key of the `key=value` line.
        key: &'static str,
    },
    /// What was to be created exists already (a CA, a named intermediate, a DevID profile, a
    /// retired generation): the CA never overwrites its own state.
    #[error("CA state: {} already holds {what}", path.display())]
    AlreadyExists {
        /// The directory or file.
        path: std::path::PathBuf,
        /// What it holds ("a CA", "a DevID profile", ...).
        what: &'static str,
    },
    /// A rotated-out generation was asked to rotate again: only the current one rotates.
    #[error("CA state: {} is a retired generation", dir.display())]
    RetiredGeneration {
        /// The generation's directory.
        dir: std::path::PathBuf,
    },
    /// The CA certificate's subject cannot be reproduced as the issuer name of what it signs.
    #[error("CA state: the CA certificate's name {reason}")]
    UnsupportedCaName {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A time that X.509 or the store cannot represent (before 1970, after 9999, a lifetime
    /// beyond the time type's range).
    #[error("CA state: {what} is out of range")]
    TimeOutOfRange {
        /// Which time.
        what: &'static str,
    },
    /// Every serial the issuer drew was already recorded (a broken random source or store).
    #[error("CA state: serial collisions on each of {attempts} attempts")]
    SerialCollisions {
        /// How many serials were drawn.
        attempts: u32,
    },
    /// PEM encoding (RFC 7468) of DER of our own failed.
    #[error("CA state: PEM encoding of a {label} failed")]
    PemEncoding {
        /// The PEM label.
        label: String,
    },
    /// A CA key file is not a PKCS#8 PEM private key (RFC 5958, RFC 7468 §10).
    #[error(
        "CA state: the CA key is {}",
        match label {
            Some(l) => format!("a {l:?} PEM block, not PRIVATE KEY (PKCS#8)"),
            None => "not a PEM block".to_owned(),
        }
    )]
    CaKeyNotPkcs8 {
        /// The PEM label found, `None` when the text is not PEM.
        label: Option<String>,
    },
    /// The offline root key file cannot be read (the operator has not brought it).
    #[error("CA state: the root key {} is not at hand: {source}", path.display())]
    RootKeyUnavailable {
        /// The file.
        path: std::path::PathBuf,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// A secret file (PIN, HTTP Basic credentials) is unreadable, readable by others, empty or
    /// too long.
    #[error("CA state: {what} file {}: {problem}", path.display())]
    SecretFile {
        /// What the file holds ("PIN", "Basic credentials").
        what: String,
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        #[source]
        problem: SecretFileProblem,
    },
    /// HTTP Basic credentials without the colon between user-id and password (RFC 7617 §2).
    #[error("CA state: HTTP Basic credentials must be USER:PASS")]
    MalformedBasicCredentials,
    /// A CRL number beyond what the store keeps (2^63 - 1).
    #[error("CA state: CRL number {number} is out of range")]
    CrlNumberOutOfRange {
        /// The number asked for.
        number: u64,
    },
    /// The store holds a value it never writes (a negative counter): it was altered or is
    /// damaged.
    #[error("CA state: storage holds an impossible {what}")]
    CorruptStore {
        /// Which value.
        what: &'static str,
    },
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
            CaError::ReservedName { .. } => "reserved-name",
            CaError::IdentityBarred {
                reason: BarredReason::Revoked,
                ..
            } => "identity-revoked",
            CaError::IdentityBarred {
                reason: BarredReason::Decommissioned,
                ..
            } => "identity-decommissioned",
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
            CaError::TlsConfig { .. } => "tls-config",
            CaError::RevokedIssuerWithoutSki => "revoked-issuer-without-ski",
            CaError::MixedRoots => "mixed-roots",
            CaError::LabelsWithoutCa { .. } => "labels-without-ca",
            CaError::UnknownCa { .. } => "unknown-ca",
            CaError::EstClientIo { .. } => "est-client-io",
            CaError::BadSetting { .. } => "bad-setting",
            CaError::IncompleteTokenKey { .. } => "incomplete-token-key",
            CaError::FileLacksSetting { .. } => "file-lacks-setting",
            CaError::AlreadyExists { .. } => "already-exists",
            CaError::RetiredGeneration { .. } => "retired-generation",
            CaError::UnsupportedCaName { .. } => "unsupported-ca-name",
            CaError::TimeOutOfRange { .. } => "time-out-of-range",
            CaError::SerialCollisions { .. } => "serial-collisions",
            CaError::PemEncoding { .. } => "pem-encoding",
            CaError::CaKeyNotPkcs8 { .. } => "ca-key-not-pkcs8",
            CaError::RootKeyUnavailable { .. } => "root-key-unavailable",
            CaError::SecretFile { .. } => "secret-file",
            CaError::MalformedBasicCredentials => "malformed-basic-credentials",
            CaError::CrlNumberOutOfRange { .. } => "crl-number-out-of-range",
            CaError::CorruptStore { .. } => "corrupt-store",
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
            | CaError::ReservedName { .. }
            | CaError::IdentityBarred { .. }
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
            | CaError::SerialCollisions { .. }
            | CaError::PemEncoding { .. }
            | CaError::CorruptStore { .. }
            | CaError::EstClientIo { .. }
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

/// What is wrong with a secret file ([`CaError::SecretFile`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretFileProblem {
    /// It cannot be opened or read.
    #[error("{0}")]
    Unreadable(#[source] std::io::Error),
    /// Group or others may read it (Unix mode bits `0o077`).
    #[error("mode {mode:o} lets group or others read it (chmod 600)")]
    Exposed {
        /// The permission bits (`0o777` part of the mode).
        mode: u32,
    },
    /// It is longer than the limit.
    #[error("longer than {max} bytes")]
    TooLong {
        /// The limit in bytes.
        max: u64,
    },
    /// It holds nothing but a line break.
    #[error("empty")]
    Empty,
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
