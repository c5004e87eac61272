#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
// docs.rs: each feature-gated item shows the feature it needs (doc_cfg includes the former doc_auto_cfg).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

#[cfg(feature = "alloc")]
extern crate alloc;

// Parsing (no_std, no alloc): TPM 2.0 Part 2 structures, borrowed from the input.
pub mod algorithm;
pub mod attest;
pub mod error;
pub mod event_log;
pub mod pcr_file;
pub mod pcr_selection;
pub mod public;
pub mod signature;
mod wire;

// Decisions that need no heap: signatures, pcrDigest, clock freshness, secure-element evidence.
pub mod freshness;
pub mod pcr_digest;
pub mod se_evidence;
pub mod verify;

// Device side (no_std): talking to a TPM without tpm2-tss.
pub mod tpm_command;
#[cfg(feature = "alloc")]
pub mod tpm_session;
pub mod tpm_transport;

// Identity (alloc): credentials only the TPM holding the EK can activate.
#[cfg(feature = "alloc")]
pub mod credential;

// Cloud side (std): appraisal policy and results, ring-backed (and, feature `aws-lc`,
// aws-lc-rs-backed) verification.
#[cfg(feature = "std")]
pub mod appraisal;
#[cfg(feature = "aws-lc")]
pub mod aws_lc_verifier;
#[cfg(feature = "std")]
pub mod bare_key;
#[cfg(feature = "std")]
pub mod ek_certificate;
#[cfg(feature = "std")]
mod ek_path;
#[cfg(feature = "std")]
pub mod nonce_issuer;
#[cfg(feature = "std")]
pub mod policy;
#[cfg(feature = "std")]
mod provider_input;
#[cfg(feature = "std")]
pub mod ring_verifier;

pub use attest::{Attest, ClockInfo};
pub use error::{ParseError, VerifyError};
pub use pcr_selection::PcrSelectionList;
pub use public::{Name, PublicArea};
pub use signature::TpmSignature;
