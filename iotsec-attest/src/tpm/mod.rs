//! TPM 2.0 Part 2 structures and the file formats of tpm2-tools, parsed without a heap and
//! borrowed from the input: what a quote, a key, a signature and an event log say.

pub mod algorithm;
pub mod attest;
pub mod event_log;
pub mod pcr_file;
pub mod pcr_selection;
pub mod public;
pub mod signature;

pub use algorithm::HashAlg;
pub use attest::{Attest, ClockInfo};
pub use pcr_selection::PcrSelectionList;
pub use public::{Name, PublicArea};
pub use signature::TpmSignature;
