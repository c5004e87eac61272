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
    /// A value that is not this session's binding (relayed request or a plain password).
    Mismatch,
}

/// Compares a challengePassword with the session's exporter value in constant time.
pub fn check_binding(password: Option<&str>, exporter: &[u8; EXPORTER_LEN]) -> BindingCheck {
    let Some(pw) = password else {
        return BindingCheck::Missing;
    };
    let decoded: Vec<u8> = match Base64::decode_vec(pw.trim()) {
        Ok(d) => d,
        Err(_) => return BindingCheck::Mismatch,
    };
    if decoded.len() == 12 {
        return BindingCheck::TlsUniqueOnTls13;
    }
    if decoded.len() == EXPORTER_LEN && bool::from(decoded.as_slice().ct_eq(exporter.as_slice())) {
        BindingCheck::Bound
    } else {
        BindingCheck::Mismatch
    }
}
