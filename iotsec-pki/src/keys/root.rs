//! Where the offline root CA key of a state directory is: a PKCS#8 file
//! (`offline/root.key.pem`, meant for offline media) or a key pair in a PKCS#11 token that
//! `ca.txt` names with `root_pkcs11_module=`, `root_pkcs11_token=` and `root_pkcs11_key=` (the
//! key never exists as a file, as in step-ca, EJBCA or AWS Private CA root ceremonies).
//!
//! Whoever signs with the root (adding an intermediate) opens it here and checks that the key
//! is the one the root certificate certifies (RFC 5280 §4.1.2.7): a token whose key under the
//! label was replaced must not sign under the root's name.

use std::fs;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::ca::error::CaError;
use crate::keys::signer::{Signer, SoftwareSigner};
use crate::keys::token::{CaRole, TokenKey, TokenPins, ensure_certified_key_for};

/// The root key file, relative to the state directory, when the root key is not in a token.
pub const ROOT_KEY_FILE: &str = "offline/root.key.pem";

/// Where a CA's root key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootKey {
    /// A PKCS#8 PEM file (mode 0600), normally `DIR/offline/root.key.pem`.
    File(PathBuf),
    /// A key pair in a PKCS#11 token; its PIN comes from
    /// [`ROOT_PIN_ENV`](crate::keys::token::ROOT_PIN_ENV).
    Token(TokenKey),
}

impl RootKey {
    /// The root key of the CA state directory `dir`, as its `ca.txt` records it.
    pub fn of_state(dir: &Path) -> Result<Self, CaError> {
        Self::from_settings(dir, &fs::read_to_string(dir.join("ca.txt"))?)
    }

    /// The root key named by `ca.txt` text `settings` of the state directory `dir`: a token
    /// when the `root_pkcs11_*` lines are there, else the file [`ROOT_KEY_FILE`].
    pub fn from_settings(dir: &Path, settings: &str) -> Result<Self, CaError> {
        Ok(match TokenKey::from_settings_for(settings, CaRole::Root)? {
            Some(token) => RootKey::Token(token),
            None => RootKey::File(dir.join(ROOT_KEY_FILE)),
        })
    }

    /// Opens the key; a token key needs its user `pin` (`None`: refused, naming the variable
    /// to set).
    pub fn open(&self, pin: Option<&str>) -> Result<Box<dyn Signer>, CaError> {
        match self {
            RootKey::File(path) => {
                let pem = Zeroizing::new(fs::read_to_string(path).map_err(|source| {
                    CaError::RootKeyUnavailable {
                        path: path.clone(),
                        source,
                    }
                })?);
                Ok(Box::new(SoftwareSigner::from_pkcs8_pem(&pem)?))
            }
            RootKey::Token(token) => match pin {
                Some(pin) => token.signer(pin, false),
                None => Err(token.missing_pin(CaRole::Root)),
            },
        }
    }

    /// Opens the key, a token's with the root PIN in `pins`, and checks that it is the key
    /// the root certificate `root_der` certifies.
    pub fn open_certified(
        &self,
        root_der: &[u8],
        pins: &TokenPins,
    ) -> Result<Box<dyn Signer>, CaError> {
        let signer = match self {
            RootKey::File(_) => self.open(None)?,
            RootKey::Token(token) => self.open(Some(pins.pin_for(token, CaRole::Root)?))?,
        };
        ensure_certified_key_for(signer.as_ref(), root_der, CaRole::Root)?;
        Ok(signer)
    }

    /// A one-line description for reports (`offline/root.key.pem`, or the token and label).
    pub fn describe(&self) -> String {
        match self {
            RootKey::File(path) => path.display().to_string(),
            RootKey::Token(t) => format!("PKCS#11 token {:?}, key {:?}", t.token, t.key_label),
        }
    }
}

/// The root key of the CA state directory `dir`, as its `ca.txt` names it, opened (a token's
/// with the root PIN in `pins`) and checked against the root certificate there.
pub fn open_root_key(dir: &Path, pins: &TokenPins) -> Result<Box<dyn Signer>, CaError> {
    let root_der =
        crate::ca::state_dir::read_pem(&crate::ca::state_dir::root_cert_file(dir), "CERTIFICATE")?;
    RootKey::of_state(dir)?.open_certified(&root_der, pins)
}
