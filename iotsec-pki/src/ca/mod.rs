//! The certificate authority: issuance under a profile (RFC 5280), the CSR checks, IEEE 802.1AR
//! DevIDs, and, on SQLite, the CA state directory with key rotation, the root's CRL and OCSP.

#[cfg(feature = "ca")]
pub mod authority; // root + issuing CA, issuance, CRLs (RFC 5280)
#[cfg(feature = "ca")]
pub mod csr_check; // proof of possession and what a CSR may ask for
#[cfg(feature = "ca")]
pub mod devid; // IEEE 802.1AR DevID profile (hardwareModuleName, RFC 4108)
pub mod error; // the cloud-side error
#[cfg(feature = "ca")]
pub mod issuer; // the issuing CA behind traits: issue and record, find, CRL (no I/O)
#[cfg(feature = "sqlite")]
pub mod ocsp; // RFC 6960 responder
#[cfg(feature = "ca")]
pub mod profile; // the CA-owned issuance profile
#[cfg(feature = "sqlite")]
pub mod root_crl; // the root's own CRL (ARL): revoking an intermediate (RFC 5280 §5)
#[cfg(feature = "sqlite")]
pub mod rotation; // intermediate key rotation; old keys sign CRLs for what they issued
#[cfg(feature = "sqlite")]
pub mod state; // the online CA: a state directory opened for issuance and revocation
#[cfg(feature = "sqlite")]
pub mod state_dir; // the state directory's layout and its file operations (a leaf)
