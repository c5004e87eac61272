//! An issuing CA key held in a PKCS#11 token (HSM): how a CA state directory names it
//! (`ca.txt` lines `pkcs11_module=`, `pkcs11_token=`, `pkcs11_key=`), where the user PIN comes
//! from (the environment variable [`PIN_ENV`], never a file or a command line), and the check
//! that the token's key is the one the intermediate certificate certifies.

use std::path::PathBuf;

use der::Decode;
use zeroize::Zeroizing;

use crate::ca_error::CaError;
use crate::pkcs11_signer::Pkcs11Signer;
use crate::signer::Signer;

/// Environment variable holding the token's user PIN.
pub const PIN_ENV: &str = "IOTSEC_PKCS11_PIN";

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
    /// The `ca.txt` lines that name this key.
    pub fn to_settings(&self) -> String {
        format!(
            "pkcs11_module={}\npkcs11_token={}\npkcs11_key={}\n",
            self.module.display(),
            self.token,
            self.key_label
        )
    }

    /// Reads the key from `ca.txt` text: `None` when the CA key is not in a token; an error
    /// when the lines are incomplete.
    pub fn from_settings(settings: &str) -> Result<Option<Self>, CaError> {
        let get = |k: &str| {
            settings
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
        };
        match (get("pkcs11_module"), get("pkcs11_token"), get("pkcs11_key")) {
            (None, None, None) => Ok(None),
            (Some(m), Some(t), Some(k)) => Ok(Some(TokenKey {
                module: PathBuf::from(m),
                token: t.to_owned(),
                key_label: k.to_owned(),
            })),
            _ => Err(CaError::State(
                "ca.txt names a PKCS#11 key incompletely (pkcs11_module, pkcs11_token, pkcs11_key)"
                    .into(),
            )),
        }
    }

    /// The user PIN from [`PIN_ENV`].
    pub fn pin_from_env(&self) -> Result<Zeroizing<String>, CaError> {
        std::env::var(PIN_ENV).map(Zeroizing::new).map_err(|_| {
            CaError::State(format!(
                "the CA key is in PKCS#11 token {:?}: set {PIN_ENV} to its user PIN",
                self.token
            ))
        })
    }

    /// Opens the key with `pin`.
    pub fn open(&self, pin: &str) -> Result<Pkcs11Signer, CaError> {
        Pkcs11Signer::open(&self.module, &self.token, pin, &self.key_label)
    }
}

/// Fails unless `signer` holds the key that `certificate_der` certifies: a token whose key was
/// replaced must not sign under the old certificate's name.
pub fn ensure_certified_key(signer: &dyn Signer, certificate_der: &[u8]) -> Result<(), CaError> {
    let cert = x509_cert::Certificate::from_der(certificate_der).map_err(CaError::MalformedCsr)?;
    let certified = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    if certified == signer.public_key() {
        Ok(())
    } else {
        Err(CaError::State(
            "the CA key is not the key its intermediate certificate certifies".into(),
        ))
    }
}
