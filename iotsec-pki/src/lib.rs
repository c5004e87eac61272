#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
// docs.rs: each feature-gated item shows the feature it needs (doc_cfg includes the former doc_auto_cfg).
#![cfg_attr(docsrs, feature(doc_cfg))]
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
pub mod error; // device-side errors
#[cfg(feature = "alloc")]
pub mod est_message; // EST bodies (RFC 7030 §4, RFC 8951)
#[cfg(feature = "alloc")]
pub mod key; // P-256 / Ed25519 device keys

// Cloud side (std).
#[cfg(feature = "std")]
pub mod authority; // root + issuing CA, issuance, CRLs (RFC 5280)
#[cfg(feature = "std")]
pub mod ca_error; // cloud-side errors
#[cfg(feature = "std")]
pub mod ca_state; // the CA's state directory
#[cfg(feature = "std")]
pub mod csr_check; // proof of possession and what a CSR may ask for
#[cfg(feature = "std")]
pub mod devid; // IEEE 802.1AR DevID profile (hardwareModuleName, RFC 4108)
#[cfg(feature = "std")]
pub mod est_client; // EST client over rustls
#[cfg(feature = "std")]
pub mod est_reload; // a running server follows rotate/revoke/crl on disk (atomic swap)
#[cfg(feature = "std")]
pub mod est_service; // EST server decisions (sans-IO)
#[cfg(feature = "std")]
pub mod est_transport; // TCP + rustls + httparse
#[cfg(feature = "std")]
pub mod ocsp_responder; // RFC 6960
#[cfg(feature = "std")]
pub mod pkcs11_signer; // CA key in a PKCS#11 token (HSM, softhsm2)
#[cfg(feature = "std")]
pub mod profile; // the CA-owned issuance profile
#[cfg(feature = "std")]
pub mod root_crl; // the root's own CRL (ARL): revoking an intermediate (RFC 5280 §5)
#[cfg(feature = "std")]
pub mod root_key; // the offline root key: a file or a PKCS#11 token
#[cfg(feature = "std")]
pub mod rotation; // intermediate key rotation; old keys sign CRLs for what they issued
#[cfg(feature = "std")]
pub mod secret_file; // PINs and passwords from private files
#[cfg(feature = "std")]
pub mod signer; // CA key behind a trait (HSM/KMS)
#[cfg(feature = "std")]
pub mod state_lock; // the rotation lock of a state directory (SQLite file lock)
#[cfg(feature = "std")]
pub mod store; // CertStore + SQLite
#[cfg(feature = "std")]
pub mod tls_config; // TLS 1.3-only rustls configs
#[cfg(feature = "std")]
pub mod token_key; // a CA key in a PKCS#11 token: ca.txt lines, PINs, the certified-key check

#[cfg(feature = "alloc")]
pub use csr::{CsrRequest, DeviceName, build_csr};
#[cfg(feature = "alloc")]
pub use error::Error;
#[cfg(feature = "alloc")]
pub use key::{DeviceKey, KeyAlgorithm};
