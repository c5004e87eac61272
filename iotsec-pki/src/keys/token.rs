//! A CA key held in a PKCS#11 token (HSM): how a CA state directory names it (`ca.txt` lines
//! `pkcs11_module=`, `pkcs11_token=`, `pkcs11_key=` for an issuing intermediate, the same with a
//! `root_` prefix for the offline root), where the user PIN comes from (the environment
//! variables [`PIN_ENV`] and [`ROOT_PIN_ENV`], or files they name through [`PIN_FILE_ENV`] and
//! [`ROOT_PIN_FILE_ENV`]; never a command line), and the check that the token's key is the one
//! the CA certificate certifies.
//!
//! A PIN in the environment stays readable in `/proc/PID/environ` (same user) and is inherited
//! by children for the life of the process: removing it needs `std::env::remove_var`, which is
//! `unsafe` in Rust 2024 and this workspace forbids `unsafe`. A PIN file (mode 0600 or
//! stricter, or it is refused) keeps the PIN out of the environment; only its path is there.

use std::path::PathBuf;

use der::Decode;
use zeroize::Zeroizing;

use crate::ca::error::CaError;
#[cfg(feature = "pkcs11")]
use crate::keys::pkcs11::Pkcs11Signer;
use crate::keys::signer::Signer;

/// Environment variable holding the user PIN of an issuing intermediate's token.
pub const PIN_ENV: &str = "IOTSEC_PKCS11_PIN";

/// Environment variable holding the user PIN of the offline root's token. There is no fallback
/// to [`PIN_ENV`]: the online intermediate's PIN must never unlock the root by accident, and a
/// wrong PIN tried on the root token counts towards its lockout.
pub const ROOT_PIN_ENV: &str = "IOTSEC_PKCS11_ROOT_PIN";

/// Environment variable naming a file that holds the intermediate's token PIN (instead of
/// [`PIN_ENV`]; setting both is refused).
pub const PIN_FILE_ENV: &str = "IOTSEC_PKCS11_PIN_FILE";

/// Environment variable naming a file that holds the root's token PIN (instead of
/// [`ROOT_PIN_ENV`]; setting both is refused; no fallback to [`PIN_FILE_ENV`]).
pub const ROOT_PIN_FILE_ENV: &str = "IOTSEC_PKCS11_ROOT_PIN_FILE";

/// Which CA of the hierarchy a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaRole {
    /// The offline root (self-signed).
    Root,
    /// An online issuing intermediate.
    Intermediate,
}

impl CaRole {
    /// The `ca.txt` key prefix of this role's token lines (`root_` or none).
    pub fn settings_prefix(self) -> &'static str {
        match self {
            CaRole::Root => "root_",
            CaRole::Intermediate => "",
        }
    }

    /// The environment variable holding this role's token PIN.
    pub fn pin_env(self) -> &'static str {
        match self {
            CaRole::Root => ROOT_PIN_ENV,
            CaRole::Intermediate => PIN_ENV,
        }
    }

    /// The environment variable naming a file with this role's token PIN.
    pub fn pin_file_env(self) -> &'static str {
        match self {
            CaRole::Root => ROOT_PIN_FILE_ENV,
            CaRole::Intermediate => PIN_FILE_ENV,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CaRole::Root => "root",
            CaRole::Intermediate => "intermediate",
        }
    }
}

/// A key pair in a PKCS#11 token, found by the labels of its token and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKey {
    /// The PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// CKA_LABEL of the token.
    pub token: String,
    /// CKA_LABEL of the key pair.
    pub key_label: String,
}

impl TokenKey {
    /// The `ca.txt` lines that name this key as an intermediate's key.
    pub fn to_settings(&self) -> String {
        self.to_settings_for(CaRole::Intermediate)
    }

    /// The `ca.txt` lines that name this key as the key of `role`.
    pub fn to_settings_for(&self, role: CaRole) -> String {
        let p = role.settings_prefix();
        format!(
            "{p}pkcs11_module={}\n{p}pkcs11_token={}\n{p}pkcs11_key={}\n",
            self.module.display(),
            self.token,
            self.key_label
        )
    }

    /// Reads an intermediate's key from `ca.txt` text: `None` when the CA key is not in a
    /// token; an error when the lines are incomplete.
    pub fn from_settings(settings: &str) -> Result<Option<Self>, CaError> {
        Self::from_settings_for(settings, CaRole::Intermediate)
    }

    /// Reads the key of `role` from `ca.txt` text (see [`TokenKey::from_settings`]).
    pub fn from_settings_for(settings: &str, role: CaRole) -> Result<Option<Self>, CaError> {
        let p = role.settings_prefix();
        let get = |k: &str| {
            settings
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{p}{k}=")))
        };
        match (get("pkcs11_module"), get("pkcs11_token"), get("pkcs11_key")) {
            (None, None, None) => Ok(None),
            (Some(m), Some(t), Some(k)) => Ok(Some(TokenKey {
                module: PathBuf::from(m),
                token: t.to_owned(),
                key_label: k.to_owned(),
            })),
            _ => Err(CaError::IncompleteTokenKey { prefix: p }),
        }
    }

    /// The PIN of `role` given the value of its PIN variable ([`CaRole::pin_env`]) and the
    /// path in its PIN-file variable ([`CaRole::pin_file_env`]), both read by the caller (the
    /// library reads no environment): no fallback between roles; both given is refused.
    pub fn pin_from(
        &self,
        role: CaRole,
        pin: Option<Zeroizing<String>>,
        pin_file: Option<PathBuf>,
    ) -> Result<Zeroizing<String>, CaError> {
        given_pin(role, pin, pin_file)?.ok_or_else(|| self.missing_pin(role))
    }

    /// The error for a PIN that was not given.
    pub(crate) fn missing_pin(&self, role: CaRole) -> CaError {
        CaError::MissingPin {
            role: role.name(),
            token: self.token.clone(),
            variable: role.pin_env(),
            file_variable: role.pin_file_env(),
        }
    }

    /// Opens the key with `pin`.
    #[cfg(feature = "pkcs11")]
    pub fn open(&self, pin: &str) -> Result<Pkcs11Signer, CaError> {
        Pkcs11Signer::open(&self.module, &self.token, pin, &self.key_label)
    }

    /// Generates a fresh P-256 key pair under this label in the token (refused when the label
    /// is taken) and opens it.
    #[cfg(feature = "pkcs11")]
    pub fn generate(&self, pin: &str) -> Result<Pkcs11Signer, CaError> {
        Pkcs11Signer::generate_p256(&self.module, &self.token, pin, &self.key_label)
    }
}

/// The largest PIN file read (a PKCS#11 PIN is far shorter).
/// Fails unless `signer` holds the key that the intermediate certificate `certificate_der`
/// certifies: a token whose key was replaced must not sign under the old certificate's name.
pub fn ensure_certified_key(signer: &dyn Signer, certificate_der: &[u8]) -> Result<(), CaError> {
    ensure_certified_key_for(signer, certificate_der, CaRole::Intermediate)
}

/// Fails unless `signer` holds the key that `certificate_der`, the certificate of `role`,
/// certifies.
pub fn ensure_certified_key_for(
    signer: &dyn Signer,
    certificate_der: &[u8],
    role: CaRole,
) -> Result<(), CaError> {
    let cert = x509_cert::Certificate::from_der(certificate_der).map_err(|error| {
        CaError::MalformedCertificate {
            which: "CA certificate",
            error,
        }
    })?;
    let certified = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    if certified == signer.public_key() {
        Ok(())
    } else {
        Err(CaError::UncertifiedKey { role: role.name() })
    }
}

/// The user PINs of the CA's tokens, as the application got them (the command line reads
/// [`CaRole::pin_env`] / [`CaRole::pin_file_env`] and passes them in through
/// [`TokenKey::pin_from`]). Zeroized on drop; never printed.
#[derive(Clone, Default)]
pub struct TokenPins {
    intermediate: Option<Zeroizing<String>>,
    root: Option<Zeroizing<String>>,
}

impl core::fmt::Debug for TokenPins {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenPins")
            .field("intermediate", &self.intermediate.is_some())
            .field("root", &self.root.is_some())
            .finish()
    }
}

/// The PIN of `role` from the value of its PIN variable or the file its PIN-file variable
/// names (`None`: neither given; both given is refused).
fn given_pin(
    role: CaRole,
    pin: Option<Zeroizing<String>>,
    pin_file: Option<PathBuf>,
) -> Result<Option<Zeroizing<String>>, CaError> {
    match (pin, pin_file) {
        (Some(_), Some(_)) => Err(CaError::PinGivenTwice {
            variable: role.pin_env(),
            file_variable: role.pin_file_env(),
        }),
        (Some(pin), None) => Ok(Some(pin)),
        (None, Some(path)) => crate::keys::secret_file::read_secret_file(&path, "PIN").map(Some),
        (None, None) => Ok(None),
    }
}

impl TokenPins {
    /// These PINs with `role`'s from the value of its PIN variable or the file its PIN-file
    /// variable names, as the caller read them (neither: none; both: refused).
    pub fn with_given(
        self,
        role: CaRole,
        pin: Option<Zeroizing<String>>,
        pin_file: Option<PathBuf>,
    ) -> Result<Self, CaError> {
        Ok(match given_pin(role, pin, pin_file)? {
            Some(pin) => self.with(role, pin),
            None => self,
        })
    }

    /// These PINs with `pin` for `role`'s token.
    #[must_use]
    pub fn with(mut self, role: CaRole, pin: Zeroizing<String>) -> Self {
        match role {
            CaRole::Intermediate => self.intermediate = Some(pin),
            CaRole::Root => self.root = Some(pin),
        }
        self
    }

    /// The PIN of `role`'s token `key`, or the error naming the variable to set.
    pub fn pin_for(&self, key: &TokenKey, role: CaRole) -> Result<&str, CaError> {
        match role {
            CaRole::Intermediate => self.intermediate.as_deref(),
            CaRole::Root => self.root.as_deref(),
        }
        .map(String::as_str)
        .ok_or_else(|| key.missing_pin(role))
    }
}

impl TokenKey {
    /// The key opened (or, with `generate`, made in the token first) as a signer; refused in
    /// a build without the `pkcs11` feature.
    #[cfg(feature = "sqlite")]
    pub(crate) fn signer(&self, pin: &str, generate: bool) -> Result<Box<dyn Signer>, CaError> {
        #[cfg(feature = "pkcs11")]
        {
            Ok(Box::new(if generate {
                self.generate(pin)?
            } else {
                self.open(pin)?
            }))
        }
        #[cfg(not(feature = "pkcs11"))]
        {
            let _ = (pin, generate);
            Err(CaError::FeatureDisabled { feature: "pkcs11" })
        }
    }
}
