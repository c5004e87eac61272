#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
// docs.rs: each feature-gated item shows the feature it needs (doc_cfg includes the former doc_auto_cfg).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
#![warn(unreachable_pub)]
#![doc = include_str!("../README.md")]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod appraise; // quote appraisal, its policy, clock freshness, nonces
pub mod device; // TPM commands, HMAC sessions, transports (no_std)
pub mod error; // parser and signature errors; ErrorCode and ErrorKind for every error
pub mod identity; // EK certificates, credentials, bare attestation keys
pub mod se_evidence; // secure-element evidence, produced and appraised
pub mod tpm; // TPM 2.0 Part 2 structures, tpm2-tools file formats (no heap)
pub mod verify; // SignatureVerifier and one module per backend
mod wire; // bounded big-endian reader and TPM2B writer

#[cfg(feature = "std")]
pub use appraise::{AppraisalPolicy, QuoteAppraisal, QuoteEvidence, appraise_quote};
pub use error::{ErrorCode, ErrorKind, ParseError, VerifyError};
pub use tpm::{Attest, ClockInfo, Name, PcrSelectionList, PublicArea, TpmSignature};
pub use verify::{RustCryptoVerifier, SignatureVerifier};

/// The module paths of releases before the regrouping, kept working (CHANGELOG.md lists them).
macro_rules! moved {
    ($($(#[$cfg:meta])* $old:ident => $new:path, $note:literal;)*) => {$(
        $(#[$cfg])*
        #[deprecated(note = $note)]
        #[doc(hidden)]
        pub mod $old {
            #[allow(unused_imports)]
            pub use $new::*;
        }
    )*};
}

moved! {
    algorithm => crate::tpm::algorithm, "moved to `iotsec_attest::tpm::algorithm`";
    attest => crate::tpm::attest, "moved to `iotsec_attest::tpm::attest`";
    event_log => crate::tpm::event_log, "moved to `iotsec_attest::tpm::event_log`";
    pcr_file => crate::tpm::pcr_file, "moved to `iotsec_attest::tpm::pcr_file`";
    pcr_selection => crate::tpm::pcr_selection, "moved to `iotsec_attest::tpm::pcr_selection`";
    public => crate::tpm::public, "moved to `iotsec_attest::tpm::public`";
    signature => crate::tpm::signature, "moved to `iotsec_attest::tpm::signature`";
    freshness => crate::appraise::freshness, "moved to `iotsec_attest::appraise::freshness`";
    pcr_digest => crate::appraise::pcr_digest, "moved to `iotsec_attest::appraise::pcr_digest`";
    tpm_command => crate::device::command, "moved to `iotsec_attest::device::command`";
    tpm_transport => crate::device::transport, "moved to `iotsec_attest::device::transport`";
    #[cfg(feature = "alloc")]
    tpm_session => crate::device::session, "moved to `iotsec_attest::device::session`";
    #[cfg(feature = "alloc")]
    credential => crate::identity::credential, "moved to `iotsec_attest::identity::credential`";
    #[cfg(feature = "std")]
    appraisal => crate::appraise, "moved to `iotsec_attest::appraise`";
    #[cfg(feature = "std")]
    policy => crate::appraise::policy, "moved to `iotsec_attest::appraise::policy`";
    #[cfg(feature = "std")]
    nonce_issuer => crate::appraise::nonce_issuer, "moved to `iotsec_attest::appraise::nonce_issuer`";
    #[cfg(feature = "std")]
    bare_key => crate::identity::bare_key, "moved to `iotsec_attest::identity::bare_key`";
    #[cfg(feature = "std")]
    ek_certificate => crate::identity::ek_certificate, "moved to `iotsec_attest::identity::ek_certificate`";
    #[cfg(feature = "std")]
    ring_verifier => crate::verify::ring, "moved to `iotsec_attest::verify::ring`";
    #[cfg(feature = "aws-lc")]
    aws_lc_verifier => crate::verify::aws_lc, "moved to `iotsec_attest::verify::aws_lc`";
}
