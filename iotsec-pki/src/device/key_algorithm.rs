//! The key algorithms a device identity may use: a leaf, so that errors can name one without
//! importing the key code.

/// The key algorithms a device identity may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA over NIST P-256 with SHA-256 (the default: every TLS stack and HSM speaks it).
    P256,
    /// Ed25519 (RFC 8032).
    Ed25519,
}
