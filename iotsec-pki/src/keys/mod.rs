//! CA keys: the `Signer` trait and its software key, keys in PKCS#11 tokens,
//! the offline root key, where a new key is made, and secrets read from private files.

#[cfg(feature = "sqlite")]
pub mod new_key; // where a new CA key is made: a 0600 file or a PKCS#11 token
#[cfg(feature = "pkcs11")]
pub mod pkcs11; // a CA key in a PKCS#11 token (HSM, softhsm2)
#[cfg(feature = "sqlite")]
pub mod root; // the offline root key: a file or a PKCS#11 token
pub mod secret_file; // PINs and passwords from private files
#[cfg(feature = "ca")]
pub mod signer; // the CA key behind a trait (HSM/KMS)
#[cfg(feature = "ca")]
pub mod token; // a token key named in ca.txt, its PIN, the certified-key check
