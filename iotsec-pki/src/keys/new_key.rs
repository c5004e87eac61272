//! Where a new CA key (root or intermediate) is made: a software key written to a 0600 PKCS#8
//! file, or a key in a PKCS#11 token named in `ca.txt`.

use std::fs;
use std::path::Path;

use crate::ca::error::CaError;
use crate::ca::state_dir::write_secret;
use crate::keys::signer::{Signer, SoftwareSigner};
use crate::keys::token::{CaRole, TokenKey};

/// Where the key of a new CA (root or intermediate) is made.
#[derive(Debug, Clone, Copy)]
pub enum NewCaKey<'a> {
    /// A P-256 key generated here, kept in a PKCS#8 PEM file (mode 0600):
    /// `intermediate.key.pem`, or [`ROOT_KEY_FILE`](crate::keys::root::ROOT_KEY_FILE) for the root.
    Software,
    /// A P-256 key in a PKCS#11 token: the key pair labelled `key.key_label`, generated in
    /// the token first when `generate` (private key sensitive and non-extractable).
    Token {
        /// The token and key labels.
        key: &'a TokenKey,
        /// The token's user PIN.
        pin: &'a str,
        /// Generate the key pair in the token instead of opening an existing one.
        generate: bool,
    },
}

/// Where the key of a new intermediate is made (the name [`add_intermediate_with`](crate::ca::state::add_intermediate_with) had first).
pub type NewIntermediateKey<'a> = NewCaKey<'a>;

/// A key made or opened as a [`NewCaKey`] says.
pub(crate) enum MadeKey<'a> {
    Software(Box<SoftwareSigner>),
    Token(Box<dyn Signer>, &'a TokenKey),
}

impl MadeKey<'_> {
    pub(crate) fn make<'a>(key: NewCaKey<'a>) -> Result<MadeKey<'a>, CaError> {
        Ok(match key {
            NewCaKey::Software => MadeKey::Software(Box::new(SoftwareSigner::generate_p256()?)),
            NewCaKey::Token { key, pin, generate } => {
                MadeKey::Token(key.signer(pin, generate)?, key)
            }
        })
    }

    pub(crate) fn signer(&self) -> &dyn Signer {
        match self {
            MadeKey::Software(k) => k.as_ref(),
            MadeKey::Token(k, _) => k.as_ref(),
        }
    }

    /// Writes a software key to `file` (a token key: nothing) and returns the `ca.txt` lines
    /// that name a token key of `role`.
    pub(crate) fn persist(&self, file: &Path, role: CaRole) -> Result<String, CaError> {
        match self {
            MadeKey::Software(k) => {
                if let Some(parent) = file.parent() {
                    fs::create_dir_all(parent)?;
                }
                write_secret(file, &k.to_pkcs8_pem()?)?;
                Ok(String::new())
            }
            MadeKey::Token(_, key) => Ok(key.to_settings_for(role)),
        }
    }
}
