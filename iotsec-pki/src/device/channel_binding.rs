//! Channel binding of an EST request to its TLS session (RFC 7030 §3.5, RFC 9266).
//!
//! On TLS 1.3 the binding is the `tls-exporter` value: 32 bytes exported with the label
//! `EXPORTER-Channel-Binding` and an empty context (RFC 9266 §2). The client places it,
//! base64-encoded, in the CSR's challengePassword; the server recomputes it from its side of
//! the session and compares in constant time. A 12-byte `tls-unique` value (TLS 1.2 Finished)
//! has no meaning on TLS 1.3 and is rejected as such.

use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};
use subtle::ConstantTimeEq;

/// The RFC 9266 exporter label.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";
/// The RFC 9266 exporter length in bytes.
pub const EXPORTER_LEN: usize = 32;

/// The challengePassword text a client sends for a given exporter value.
pub fn challenge_password_for(exporter: &[u8; EXPORTER_LEN]) -> String {
    Base64::encode_string(exporter)
}

/// Outcome of checking a challengePassword against the session's exporter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingCheck {
    /// The password carries this session's exporter value.
    Bound,
    /// No challengePassword present.
    Missing,
    /// A 12-byte value: `tls-unique` from TLS 1.2, meaningless on TLS 1.3 (possible relay).
    TlsUniqueOnTls13,
    /// A 32-byte binding that is not this session's: the request was made on another TLS
    /// session (a relayed request, RFC 7030 §3.5).
    WrongBinding,
    /// A 32-byte binding, but the session's own value is unknown, so it cannot be checked.
    Unverifiable,
    /// Not shaped like a channel binding (a plain challenge password).
    NotABinding,
}

impl BindingCheck {
    /// Whether a label that requires channel binding accepts the request.
    pub fn passes_required(self) -> bool {
        self == BindingCheck::Bound
    }

    /// Whether a label with optional channel binding accepts the request: no binding, or a plain
    /// password, or this session's binding. Anything that claims a binding and is not this
    /// session's (another session's value, a tls-unique value, or one that cannot be checked)
    /// is refused: that is what a relayed request looks like.
    pub fn passes_optional(self) -> bool {
        matches!(
            self,
            BindingCheck::Bound | BindingCheck::Missing | BindingCheck::NotABinding
        )
    }
}

/// Compares a challengePassword with the session's exporter value in constant time.
/// `exporter` is `None` when the TLS layer could not export it: then nothing can be
/// [`BindingCheck::Bound`], and a binding-shaped password is [`BindingCheck::Unverifiable`].
pub fn check_binding(
    password: Option<&str>,
    exporter: Option<&[u8; EXPORTER_LEN]>,
) -> BindingCheck {
    let Some(pw) = password else {
        return BindingCheck::Missing;
    };
    let decoded: Vec<u8> = match Base64::decode_vec(pw.trim()) {
        Ok(d) => d,
        Err(_) => return BindingCheck::NotABinding,
    };
    match (decoded.len(), exporter) {
        (12, _) => BindingCheck::TlsUniqueOnTls13,
        (EXPORTER_LEN, None) => BindingCheck::Unverifiable,
        (EXPORTER_LEN, Some(exporter)) => {
            if bool::from(decoded.as_slice().ct_eq(exporter.as_slice())) {
                BindingCheck::Bound
            } else {
                BindingCheck::WrongBinding
            }
        }
        _ => BindingCheck::NotABinding,
    }
}
