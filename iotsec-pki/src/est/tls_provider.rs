//! A TLS provider for the application that wants this crate to name one (the opt-in
//! `aws-lc-rs` feature; nothing else enables it): aws-lc-rs offering the X25519MLKEM768 hybrid
//! key exchange first (draft-ietf-tls-ecdhe-mlkem; ML-KEM-768, FIPS 203, with X25519), then
//! X25519 (RFC 7748) and P-256 (RFC 8446 §4.2.7) for peers without it.

use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs::{default_provider, kx_group};

/// aws-lc-rs with the key exchange groups X25519MLKEM768, X25519, P-256, in that order of
/// preference. Install it as the process default (`install_default`) or pass it to the
/// [`tls_config`](crate::est::tls_config) builders.
pub fn hybrid_first() -> CryptoProvider {
    CryptoProvider {
        kx_groups: vec![
            kx_group::X25519MLKEM768,
            kx_group::X25519,
            kx_group::SECP256R1,
        ],
        ..default_provider()
    }
}
