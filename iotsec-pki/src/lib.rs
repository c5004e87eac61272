#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

#[cfg(feature = "alloc")]
extern crate alloc;

// Device side (no_std + alloc).
#[cfg(feature = "alloc")]
pub mod channel_binding; // RFC 9266 tls-exporter in challengePassword
#[cfg(feature = "alloc")]
pub mod csr; // PKCS#10 building (RFC 2986)
#[cfg(feature = "alloc")]
pub mod device; // the device's check of the certificate it was issued (RFC 7030 §4.2.3)
#[cfg(feature = "alloc")]
pub mod error; // device-side errors
#[cfg(feature = "alloc")]
pub mod est_message; // EST bodies (RFC 7030 §4, RFC 8951)
#[cfg(feature = "alloc")]
pub mod key; // P-256 / Ed25519 device keys

// Cloud side: each part behind its own feature (Cargo.toml lists them).
#[cfg(feature = "ca")]
pub mod authority; // root + issuing CA, issuance, CRLs (RFC 5280)
#[cfg(feature = "std")]
pub mod ca_error; // cloud-side errors
#[cfg(feature = "sqlite")]
pub mod ca_key; // where a new CA key is made: a 0600 file or a PKCS#11 token
#[cfg(feature = "sqlite")]
pub mod ca_state; // the CA's state directory
#[cfg(feature = "ca")]
pub mod csr_check; // proof of possession and what a CSR may ask for
#[cfg(feature = "ca")]
pub mod devid; // IEEE 802.1AR DevID profile (hardwareModuleName, RFC 4108)
#[cfg(feature = "est-client")]
pub mod est_client; // EST client over rustls
#[cfg(feature = "est-server")]
pub mod est_reload; // a running server follows rotate/revoke/crl on disk (atomic swap)
#[cfg(feature = "est-server")]
pub mod est_service; // EST server decisions (sans-IO)
#[cfg(feature = "est-server")]
pub mod est_transport; // TCP + rustls + httparse
#[cfg(feature = "sqlite")]
pub mod ocsp_responder; // RFC 6960
#[cfg(feature = "pkcs11")]
pub mod pkcs11_signer; // CA key in a PKCS#11 token (HSM, softhsm2)
#[cfg(feature = "ca")]
pub mod profile; // the CA-owned issuance profile
#[cfg(feature = "sqlite")]
pub mod root_crl; // the root's own CRL (ARL): revoking an intermediate (RFC 5280 §5)
#[cfg(feature = "sqlite")]
pub mod root_key; // the offline root key: a file or a PKCS#11 token
#[cfg(feature = "sqlite")]
pub mod rotation; // intermediate key rotation; old keys sign CRLs for what they issued
#[cfg(feature = "std")]
pub mod secret_file; // PINs and passwords from private files
#[cfg(feature = "ca")]
pub mod signer; // CA key behind a trait (HSM/KMS)
#[cfg(feature = "sqlite")]
pub mod state_dir; // the state directory's layout and its file operations (a leaf)
#[cfg(feature = "sqlite")]
pub mod state_lock; // the rotation lock of a state directory (SQLite file lock)
#[cfg(feature = "ca")]
pub mod store; // CertStore + SQLite
#[cfg(any(feature = "est-server", feature = "est-client"))]
pub mod tls_config; // TLS 1.3-only rustls configs
#[cfg(feature = "aws-lc-rs")]
pub mod tls_provider;
#[cfg(feature = "ca")]
pub mod token_key; // aws-lc-rs, post-quantum hybrid key exchange first (opt-in) // a CA key in a PKCS#11 token: ca.txt lines, PINs, the certified-key check

#[cfg(feature = "alloc")]
pub use csr::{CsrRequest, DeviceName, build_csr};
#[cfg(feature = "alloc")]
pub use device::{ExpectedLeaf, LeafMismatch, check_issued_leaf};
#[cfg(feature = "alloc")]
pub use error::{Error, ErrorKind};
#[cfg(feature = "alloc")]
pub use key::{DeviceKey, KeyAlgorithm};
