//! Who a TPM is: EK certificates and their chains ([`ek_certificate`]) as read from NV
//! ([`ek_nv`]), credentials only the TPM holding an EK can activate ([`credential`], `alloc`),
//! attestation keys given as bare public keys ([`bare_key`]), and AK registration beside a
//! trusted EK ([`registration`], `std`).

#[cfg(feature = "std")]
pub mod bare_key;
#[cfg(feature = "alloc")]
pub mod credential;
#[cfg(feature = "std")]
pub mod ek_certificate;
#[cfg(feature = "std")]
mod ek_error;
pub mod ek_nv;
#[cfg(feature = "std")]
mod ek_path;
#[cfg(feature = "std")]
pub mod registration;
