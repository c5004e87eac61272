//! The device side (no_std + alloc): its key, its certificate request, the EST messages it
//! sends and reads, the TLS channel binding, and its check of what the CA issued.

pub mod channel_binding; // RFC 9266 tls-exporter in challengePassword
pub mod csr; // PKCS#10 building (RFC 2986)
pub mod est_message; // EST bodies (RFC 7030 §4, RFC 8951)
pub mod issued_leaf; // is the issued certificate for my key and my names (RFC 7030 §4.2.3)
pub mod key; // P-256 / Ed25519 device keys
pub(crate) mod key_algorithm; // the algorithm names (a leaf: errors name them)

pub use issued_leaf::{ExpectedLeaf, LeafMismatch, check_issued_leaf};
