//! Quote appraisal: the decisions a verifier takes on a TPM2_Quote (TPM 2.0 Part 3 §18.4),
//! reported per claim in the spirit of the RATS EAR trustworthiness vector
//! (draft-ietf-rats-ear §3, AR4SI tiers: affirming, warning, contraindicated).
//!
//! Order matters and is fixed: the attestation key's attributes and the signature come first;
//! nothing the signed message says is believed before the signature verifies, and nothing
//! expensive (PCR digest, reference values, event log replay) runs before the nonce matches.
//!
//! The checks live one function each in `checks.rs`, numbered as [`appraise_quote`] runs them
//! (`quote.rs`); what is reported is a [`QuoteAppraisal`] of [`Claim`]s, [`Tier`]s and
//! [`Finding`]s.
//!
//! [`policy`]: reference values and switches; [`freshness`], [`pcr_digest`]: decisions that
//!   need no heap (and build without `std`); [`nonce_issuer`]: the verifier's challenges.

pub mod freshness;
pub mod pcr_digest;

#[cfg(feature = "std")]
mod checks;
#[cfg(feature = "std")]
mod evidence;
#[cfg(feature = "std")]
pub mod nonce_issuer;
#[cfg(feature = "std")]
pub mod policy;
#[cfg(feature = "std")]
mod quote;
#[cfg(feature = "std")]
mod result;
#[cfg(feature = "std")]
pub mod tpm_evidence;

#[cfg(feature = "std")]
pub use checks::ak_attribute_problems;
#[cfg(feature = "std")]
pub use evidence::{PcrSource, QuoteEvidence};
#[cfg(feature = "std")]
pub use policy::AppraisalPolicy;
#[cfg(feature = "std")]
pub use quote::appraise_quote;
#[cfg(feature = "std")]
pub use result::{Claim, ClaimResult, Finding, QuoteAppraisal, Tier, TrustworthinessVector};
